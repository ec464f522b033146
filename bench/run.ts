// npm run bench: throughput figures as ratios against a baseline measured in the same run.
//   ingest: POST /v1/records on the gateway vs a bare Fastify server that parses the same body
//           and answers 202 (target: at least 40%)
//   drain:  the delivery worker pushing queued records to a local upstream that answers at once
//           vs raw undici POSTs of the same Bundles to that upstream (target: at least 50%)
// Knobs: BENCH_SECONDS (ingest, 5), BENCH_CONNECTIONS (ingest clients, 32), BENCH_DRAIN (records,
// 5000), BENCH_CONCURRENCY (connections to the upstream, both sides, 16), BENCH_JOBS (jobs the
// worker has in flight over those connections, 16).
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import Fastify from 'fastify';
import { Pool, request } from 'undici';
import { Redis } from 'ioredis';
// The gateway under test is the built one (dist/, as in production); the harness comes from test/.
const dist = (m: string) => import(new URL(`../dist/${m}`, import.meta.url).href);
const { loadConfig } = (await dist('config/load.js')) as typeof import('../src/config/load.js');
const { createLogger } = (await dist('log/logger.js')) as typeof import('../src/log/logger.js');
const { serve } = (await dist('roles/serve.js')) as typeof import('../src/roles/serve.js');
const { work } = (await dist('roles/work.js')) as typeof import('../src/roles/work.js');
const { storeKeys, upstreamField } = (await dist('sync/store/keys.js')) as typeof import('../src/sync/store/keys.js');
// The bench's gateways keep the default prefixes.
const defaults = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-bench' }).redis;
const keys = storeKeys(defaults.keyPrefix, defaults.queuePrefix);
const { computeGrowth } = (await dist('indicators/growth/zscore.js')) as typeof import('../src/indicators/growth/zscore.js');
// The calculators read their tables through accessors: load them as a process's start-up does.
((await dist('roles/tables.js')) as typeof import('../src/roles/tables.js')).loadTables();
import { writeTestConfig } from '../test/helpers/gateway.js';
import { storedBundles } from '../test/helpers/stored-bundles.js';
import { freePort, startRedis } from '../test/helpers/redis-server.js';
import { validAnthropometry } from '../test/fixtures/records.js';

const INGEST_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const DRAIN_RECORDS = Number(process.env.BENCH_DRAIN ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const JOBS = Number(process.env.BENCH_JOBS ?? 16);

// A backlog holds many children, one or a few records each: each record here is another child
// (a NIK serial of its own), so per-child ordering does not serialise the whole run.
let seq = 0;
function nextBody(): string {
  seq += 1;
  const nik = `${validAnthropometry.subject.nik.slice(0, 12)}${String((seq % 9999) + 1).padStart(4, '0')}`;
  return JSON.stringify({ ...validAnthropometry, recordId: `BENCH-${process.pid}-${seq}`, subject: { ...validAnthropometry.subject, nik }, weightKg: 8 + (seq % 40) / 10 });
}

/** Sends POSTs from CONNECTIONS concurrent loops for the given time; returns requests per second. */
async function load(url: string, seconds: number): Promise<{ rps: number; non2xx: number }> {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: CONNECTIONS, pipelining: 1 });
  const until = Date.now() + seconds * 1000;
  let done = 0;
  let non2xx = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < until) {
        const res = await pool.request({ method: 'POST', path: u.pathname + u.search, headers: { 'content-type': 'application/json' }, body: nextBody() });
        await res.body.dump();
        if (res.statusCode >= 300) non2xx += 1;
        done += 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  return { rps: done / elapsed, non2xx };
}

/** An upstream that reads the Bundle and answers at once with a transaction-response. */
async function fastUpstream(): Promise<{ url: string; received: () => number; close: () => Promise<void> }> {
  let received = 0;
  const port = await freePort();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received += 1;
      const bundle = JSON.parse(Buffer.concat(chunks).toString()) as { entry?: Array<{ resource: { resourceType: string } }> };
      const entry = (bundle.entry ?? []).map((e, i) => ({ response: { status: '201 Created', location: `${e.resource.resourceType}/id-${received}-${i}/_history/1` } }));
      res.setHeader('content-type', 'application/fhir+json');
      res.end(JSON.stringify({ resourceType: 'Bundle', type: 'transaction-response', entry }));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}/fhir`, received: () => received, close: () => new Promise((r) => server.close(() => r())) };
}

async function benchIngest(redisUrl: string, upstreamUrl: string) {
  const bare = Fastify({ logger: false });
  bare.post('/v1/records', async (req, reply) => reply.code(202).send({ id: 'x', status: 'queued', size: JSON.stringify(req.body).length }));
  const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
  await load(`${bareUrl}/v1/records`, 1); // warm-up
  const baseline = await load(`${bareUrl}/v1/records`, INGEST_SECONDS);
  await bare.close();

  const cfg = writeTestConfig({ redisUrl, upstreams: [{ name: 'fast', kind: 'fhir', baseUrl: upstreamUrl }], delivery: { runWorker: false } });
  const config = loadConfig({ GERBANG_CONFIG: cfg.path, REDIS_URL: redisUrl, HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
  const gw = await serve(config, createLogger('warn'));
  await load(`${gw.url}/v1/records?source=bench`, 1);
  const gateway = await load(`${gw.url}/v1/records?source=bench`, INGEST_SECONDS);
  await gw.close();
  cfg.cleanup();
  return { baseline, gateway };
}

/**
 * $batch: records per second through one NDJSON batch, and the gateway's heap growth while taking
 * a 1,000- and a 10,000-record batch (the body is streamed to it, so the growth should not scale).
 */
async function benchBatch(redisUrl: string, upstreamUrl: string) {
  const cfg = writeTestConfig({ redisUrl, upstreams: [{ name: 'fast', kind: 'fhir', baseUrl: upstreamUrl }], delivery: { runWorker: false } });
  const config = loadConfig({ GERBANG_CONFIG: cfg.path, REDIS_URL: redisUrl, HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
  const gw = await serve(config, createLogger('warn'));
  const origin = new URL(gw.url ?? '').origin;
  const run = async (n: number) => {
    console.error(`bench: batch of ${n}`);
    global.gc?.();
    const base = process.memoryUsage().heapUsed;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 20);
    async function* lines() {
      for (let i = 0; i < n; i++) yield `${nextBody()}\n`;
    }
    const started = performance.now();
    const res = await request(`${origin}/v1/records/$batch?source=bench-batch`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: Readable.from(lines()), bodyTimeout: 600_000, headersTimeout: 600_000 });
    let accepted = 0;
    let pending = '';
    for await (const chunk of res.body) {
      pending += chunk.toString();
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      accepted += parts.filter((l) => l.includes('"result":"accepted"')).length;
    }
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    // Peak heap counts garbage not yet collected; what the batch keeps is what a full GC leaves.
    global.gc?.();
    const retainedMb = (process.memoryUsage().heapUsed - base) / 1048576;
    return { n, rps: n / seconds, accepted, heapGrowthMb: (peak - base) / 1048576, retainedMb };
  };
  await run(200);
  const small = await run(1_000);
  const large = await run(10_000);
  await gw.close();
  cfg.cleanup();
  return { small, large };
}

async function benchDrain(redisUrl: string) {
  // The ingest and batch phases leave records in the inbox for an upstream this phase does not
  // have; this Redis is the bench's own, so it starts the drain empty.
  const store = new Redis(redisUrl);
  await store.flushall();
  store.disconnect();
  const upstream = await fastUpstream();
  const cfg = writeTestConfig({ redisUrl, upstreams: [{ name: 'drain', kind: 'fhir', baseUrl: upstream.url, maxConnections: CONCURRENCY }], delivery: { runWorker: false, concurrency: JOBS } });
  const config = loadConfig({ GERBANG_CONFIG: cfg.path, REDIS_URL: redisUrl, HOST: '127.0.0.1' });
  const logger = createLogger('warn');
  console.error('bench: drain');

  // Queue the records with the worker off, keeping the Bundles for the raw baseline.
  const ingest = await serve(config, logger);
  const pool = new Pool(new URL(ingest.url ?? '').origin, { connections: 16 });
  const ids: string[] = [];
  for (let i = 0; i < DRAIN_RECORDS; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, DRAIN_RECORDS - i) }, async () => {
        const res = await pool.request({ method: 'POST', path: '/v1/records?source=drain', headers: { 'content-type': 'application/json' }, body: nextBody() });
        return ((await res.body.json()) as { id: string }).id;
      }),
    );
    ids.push(...batch);
  }
  await pool.close();
  console.error(`bench: drain: ${ids.length} queued`);
  await ingest.close();
  const redis = new Redis(redisUrl);
  // The JSON text the worker sends: the ledger keeps each Bundle compressed and sealed.
  const bundles = await storedBundles(redis, config, ids);

  // Baseline: the same Bundles POSTed with undici at the same concurrency.
  const upstreamOrigin = new URL(upstream.url);
  const raw = new Pool(upstreamOrigin.origin, { connections: CONCURRENCY });
  let next = 0;
  const rawStarted = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < bundles.length) {
        const body = bundles[next++];
        const res = await raw.request({ method: 'POST', path: upstreamOrigin.pathname, headers: { 'content-type': 'application/fhir+json' }, body });
        await res.body.text();
      }
    }),
  );
  const rawRate = bundles.length / ((performance.now() - rawStarted) / 1000);
  console.error('bench: drain: raw baseline done');
  await raw.close();

  // The worker drains the queue.
  const workerStarted = performance.now();
  const worker = await work(config, logger);
  for (;;) {
    const states = await Promise.all(ids.slice(-50).map((id) => redis.hget(keys.record(id), upstreamField('drain'))));
    const waiting = await redis.zcard(`${keys.queuePrefix}:push-drain:wait`).catch(() => 0);
    const active = await redis.llen(`${keys.queuePrefix}:push-drain:active`);
    if (states.every((s) => s && JSON.parse(s).state === 'synced') && waiting === 0 && active === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const drainRate = ids.length / ((performance.now() - workerStarted) / 1000);
  await worker.close();
  const synced = (await Promise.all(ids.map((id) => redis.hget(keys.record(id), upstreamField('drain'))))).filter((s) => s && JSON.parse(s).state === 'synced').length;
  redis.disconnect();
  await upstream.close();
  cfg.cleanup();
  return { rawRate, drainRate, synced };
}

/** The WHO z-scores of one child record: the work the growth indicators add to every ingest. */
function benchZscores(): number {
  const n = 20_000;
  const input = { sex: 'female' as const, birthDate: '2023-03-15', weightKg: 9.8, heightCm: 78.4, position: 'lying' as const, headCircumferenceCm: 46.1, muacCm: 14.2 };
  computeGrowth({ ...input, measuredOn: '2025-11-05' }); // the first call outside the timing
  const started = performance.now();
  for (let i = 0; i < n; i++) computeGrowth({ ...input, measuredOn: i % 2 ? '2025-11-05' : '2025-10-05', weightKg: 8 + (i % 40) / 10 });
  return ((performance.now() - started) * 1000) / n;
}

const redis = await startRedis({ appendonly: true });
try {
  const upstream = await fastUpstream();
  console.error('bench: ingest');
  const ingest = await benchIngest(redis.url, upstream.url);
  console.error('bench: batch');
  const batch = await benchBatch(redis.url, upstream.url);
  await upstream.close();
  const drain = await benchDrain(redis.url);
  const ingestRatio = ingest.gateway.rps / ingest.baseline.rps;
  const drainRatio = drain.drainRate / drain.rawRate;
  const zscoreMicros = benchZscores();
  const ingestMicros = 1e6 / ingest.gateway.rps;
  const lines = [
    `ingest  bare Fastify ${ingest.baseline.rps.toFixed(0)} req/s | gateway POST /v1/records ${ingest.gateway.rps.toFixed(0)} req/s (non-2xx: ${ingest.gateway.non2xx}) | ratio ${(ingestRatio * 100).toFixed(1)}% (target >= 40%)`,
    `batch   10,000-record NDJSON $batch ${batch.large.rps.toFixed(0)} records/s (${batch.large.accepted} accepted) | single-record path ${ingest.gateway.rps.toFixed(0)} req/s | ratio ${((batch.large.rps / ingest.gateway.rps) * 100).toFixed(1)}%`,
    `memory  heap while taking a batch (gateway and client in one process): peak +${batch.small.heapGrowthMb.toFixed(1)} MB for 1,000 records, +${batch.large.heapGrowthMb.toFixed(1)} MB for 10,000; retained after GC ${batch.small.retainedMb.toFixed(1)} MB and ${batch.large.retainedMb.toFixed(1)} MB`,
    `zscore  ${zscoreMicros.toFixed(1)} µs per record (6 indicators) = ${((zscoreMicros / ingestMicros) * 100).toFixed(1)}% of one ingest request (${ingestMicros.toFixed(0)} µs)`,
    `drain   raw undici ${drain.rawRate.toFixed(0)} bundles/s | worker ${drain.drainRate.toFixed(0)} records/s (${drain.synced}/${DRAIN_RECORDS} synced) | ratio ${(drainRatio * 100).toFixed(1)}% (target >= 50%)`,
  ];
  console.log(lines.join('\n'));
  if (ingest.gateway.non2xx > 0 || drain.synced !== DRAIN_RECORDS || batch.large.accepted !== 10_000) process.exitCode = 1;
} finally {
  await redis.stop();
}
