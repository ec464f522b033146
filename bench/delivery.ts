// npm run bench, part 2: delivery figures, each as a ratio or per record, measured in one run.
//   satusehat: the worker draining records through the SATUSEHAT path (token and identity caches
//              warm) to a local SATUSEHAT-shaped upstream that answers at once, vs raw undici POSTs
//              of the same Bundles to that upstream's transaction endpoint
//   flaky:     BENCH_FLAKY (48) records of mixed kinds drained through the SATUSEHAT test double
//              answering 503 to 10% of all requests (seeded), against the same drain through a
//              healthy double, both after an unmeasured healthy drain that warms the code up;
//              floor: the flaky drain takes at most 3x as long
//   backlog:   BENCH_BACKLOG (100,000) records queued with no worker running, then drained by one
//              `gerbang worker` process: time, peak RSS of that process, Redis memory per queued record
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { Redis } from 'ioredis';
const dist = (m: string) => import(new URL(`../dist/${m}`, import.meta.url).href);
const { loadConfig } = (await dist('config/load.js')) as typeof import('../src/config/load.js');
const { createLogger } = (await dist('log/logger.js')) as typeof import('../src/log/logger.js');
const { serve } = (await dist('roles/serve.js')) as typeof import('../src/roles/serve.js');
const { work } = (await dist('roles/work.js')) as typeof import('../src/roles/work.js');
const { storeKeys, upstreamField } = (await dist('sync/store/keys.js')) as typeof import('../src/sync/store/keys.js');
// The bench's gateways keep the default prefixes.
const defaults = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-bench' }).redis;
const keys = storeKeys(defaults.keyPrefix, defaults.queuePrefix);
import { writeTestConfig } from '../test/helpers/gateway.js';
import { storedBundles } from '../test/helpers/stored-bundles.js';
import { freePort, startRedis } from '../test/helpers/redis-server.js';
import { validAnthropometry } from '../test/fixtures/records.js';
import { startSatusehatServer } from '../test/helpers/satusehat-server.js';
import { ancRecord, childRecord, postAll, satusehatFacilities, satusehatUpstream, seedPeople, untilAllSynced } from '../test/helpers/satusehat-drain.js';

const SATUSEHAT_RECORDS = Number(process.env.BENCH_SATUSEHAT ?? 2000);
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 100_000);
const FLAKY_RECORDS = Number(process.env.BENCH_FLAKY ?? 48);
const FLAKY_FLOOR = 3;
// Either drain taking longer than this ends the bench as failed, so a circuit that keeps pausing
// cannot make it run for hours.
const FLAKY_BOUND_MS = 300_000;
const CONCURRENCY = 16;
const ORG = '10000004';
const SUPERVISOR_NIK = '3201014404800002';
const mainJs = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

// Children differ by the NIK serial: a backlog holds many children with a few records each.
function record(part: string, child: number, n: number): string {
  const nik = `${validAnthropometry.subject.nik.slice(0, 12)}${String((child % 9999) + 1).padStart(4, '0')}`;
  return JSON.stringify({ ...validAnthropometry, recordId: `BENCH-${part}-${process.pid}-${child}-${n}`, subject: { ...validAnthropometry.subject, nik }, weightKg: 8 + (n % 40) / 10 });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** A transaction-response naming an id for every entry, as a FHIR server answers. */
function transactionResponse(bundleText: string, seq: number) {
  const bundle = JSON.parse(bundleText) as { entry?: Array<{ resource: { resourceType: string } }> };
  const entry = (bundle.entry ?? []).map((e, i) => ({ response: { status: '201 Created', location: `${e.resource.resourceType}/id-${seq}-${i}/_history/1` } }));
  return { resourceType: 'Bundle', type: 'transaction-response', entry };
}

/**
 * SATUSEHAT's shape (token endpoint, Patient and Practitioner by NIK, searches, transactions at the
 * FHIR base) answering at once: what is measured is Gerbang's own cost on the SATUSEHAT path.
 */
async function fastSatusehat() {
  let transactions = 0;
  let lookups = 0;
  let tokens = 0;
  const port = await freePort();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const body = await readBody(req);
    if (req.method === 'POST' && url.pathname === '/oauth2/v1/accesstoken') {
      tokens += 1;
      return send(res, 200, { access_token: `token-${tokens}`, token_type: 'BearerToken', expires_in: '3599', organization_name: 'bench', developer_email: 'bench@example.org' });
    }
    if (req.method === 'POST' && url.pathname === '/fhir-r4/v1') {
      transactions += 1;
      return send(res, 200, transactionResponse(body, transactions));
    }
    if (req.method === 'GET') {
      lookups += 1;
      const type = url.pathname.split('/').pop() ?? '';
      const value = (url.searchParams.get('identifier') ?? '').split('|')[1] ?? '';
      const id = createHash('sha256').update(value).digest('hex').slice(0, 12);
      const found =
        type === 'Patient' ? [{ resourceType: 'Patient', id: `P${id}`, active: true }] : type === 'Practitioner' ? [{ resourceType: 'Practitioner', id: `N${id}` }] : [];
      return send(res, 200, { resourceType: 'Bundle', type: 'searchset', total: found.length, entry: found.map((resource) => ({ resource })) });
    }
    send(res, 404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    transactions: () => transactions,
    lookups: () => lookups,
    tokens: () => tokens,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** An upstream that reads the Bundle and answers at once with a transaction-response. */
async function fastFhir() {
  let received = 0;
  const port = await freePort();
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    received += 1;
    send(res, 200, transactionResponse(body, received));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}/fhir`, received: () => received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function facilitiesWithSupervisor() {
  const demo = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-bench' }).facilities;
  return { ...demo, posyandu: { ...demo.posyandu, '3201010001-01': { ...demo.posyandu['3201010001-01']!, supervisorNik: SUPERVISOR_NIK } } };
}

/** Posts records to a gateway whose worker is off; returns their ids. */
async function queue(url: string, bodies: string[]): Promise<string[]> {
  const pool = new Pool(new URL(url).origin, { connections: 32 });
  const ids: string[] = new Array(bodies.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < bodies.length) {
        const i = next++;
        const res = await pool.request({ method: 'POST', path: '/v1/records?source=bench', headers: { 'content-type': 'application/json' }, body: bodies[i] });
        const answer = (await res.body.json()) as { id?: string };
        if (res.statusCode !== 202 || !answer.id) throw new Error(`ingest answered ${res.statusCode}`);
        ids[i] = answer.id;
      }
    }),
  );
  await pool.close();
  return ids;
}

async function untilSynced(redis: Redis, upstream: string, ids: string[], onTick?: () => void): Promise<number> {
  for (;;) {
    onTick?.();
    if ((await redis.zcard(keys.backlog(upstream))) === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  let synced = 0;
  for (let i = 0; i < ids.length; i += 1000) {
    const states = await Promise.all(ids.slice(i, i + 1000).map((id) => redis.hget(keys.record(id), upstreamField(upstream))));
    synced += states.filter((s) => s && (JSON.parse(s) as { state: string }).state === 'synced').length;
  }
  return synced;
}

async function benchSatusehat(redisUrl: string) {
  console.error('bench: satusehat path');
  const ss = await fastSatusehat();
  const upstream = {
    name: 'ss',
    kind: 'satusehat',
    authUrl: `${ss.origin}/oauth2/v1`,
    baseUrl: `${ss.origin}/fhir-r4/v1`,
    credentials: { [ORG]: { clientId: 'bench', clientSecret: 'bench' } },
  };
  const cfg = writeTestConfig({ redisUrl, upstreams: [upstream], facilities: facilitiesWithSupervisor(), delivery: { runWorker: false, concurrency: CONCURRENCY } });
  const config = loadConfig({ GERBANG_CONFIG: cfg.path, REDIS_URL: redisUrl, HOST: '127.0.0.1' });
  const logger = createLogger('warn');
  const gw = await serve(config, logger);
  const redis = new Redis(redisUrl);
  const children = Math.min(SATUSEHAT_RECORDS, 500);

  // Warm-up, not measured: one record per child fills the token and identity caches.
  const warm = await queue(gw.url ?? '', Array.from({ length: children }, (_, c) => record('ss', c, 0)));
  let worker = await work(config, logger);
  await untilSynced(redis, 'ss', warm);
  await worker.close();
  const lookupsWarm = ss.lookups();

  const ids = await queue(gw.url ?? '', Array.from({ length: SATUSEHAT_RECORDS }, (_, i) => record('ss', i % children, 1 + Math.floor(i / children))));
  // The JSON text the worker sends: the ledger keeps each Bundle compressed and sealed.
  const bundles = await storedBundles(redis, config, ids);
  const started = performance.now();
  worker = await work(config, logger);
  const synced = await untilSynced(redis, 'ss', ids);
  const drainRate = ids.length / ((performance.now() - started) / 1000);
  await worker.close();
  const lookups = ss.lookups() - lookupsWarm;

  // Baseline: the same Bundles, POSTed by undici with a bearer token at the same concurrency. They
  // still hold the entries SATUSEHAT owns (Patient, Organization), so the baseline sends a little
  // more than the gateway does.
  const raw = new Pool(ss.origin, { connections: CONCURRENCY });
  let next = 0;
  const rawStarted = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < bundles.length) {
        const body = bundles[next++];
        const res = await raw.request({ method: 'POST', path: '/fhir-r4/v1', headers: { 'content-type': 'application/json', authorization: 'Bearer token-1' }, body });
        await res.body.text();
      }
    }),
  );
  const rawRate = bundles.length / ((performance.now() - rawStarted) / 1000);
  await raw.close();
  await gw.close();
  redis.disconnect();
  const tokens = ss.tokens();
  await ss.close();
  cfg.cleanup();
  return { drainRate, rawRate, synced, lookups, tokens };
}

/** Peak resident set of a process so far (Linux VmHWM), in MB. */
function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

async function benchBacklog(redisUrl: string) {
  console.error(`bench: backlog of ${BACKLOG}`);
  const upstream = await fastFhir();
  const cfg = writeTestConfig({ redisUrl, upstreams: [{ name: 'backlog', kind: 'fhir', baseUrl: upstream.url }], delivery: { runWorker: false, concurrency: CONCURRENCY } });
  const config = loadConfig({ GERBANG_CONFIG: cfg.path, REDIS_URL: redisUrl, HOST: '127.0.0.1' });
  const gw = await serve(config, createLogger('warn'));
  const redis = new Redis(redisUrl);
  const memoryBefore = await usedMemory(redis);
  const ids: string[] = [];
  const fillStarted = performance.now();
  for (let i = 0; i < BACKLOG; i += 5000) {
    const n = Math.min(5000, BACKLOG - i);
    ids.push(...(await queue(gw.url ?? '', Array.from({ length: n }, (_, k) => record('backlog', i + k, Math.floor((i + k) / 9999))))));
    console.error(`bench: backlog: ${ids.length} queued`);
  }
  const fillSeconds = (performance.now() - fillStarted) / 1000;
  // Queued means a job exists: wait for the dispatcher to empty the inbox.
  while ((await redis.llen(keys.inbox)) > 0) await new Promise((r) => setTimeout(r, 50));
  const memoryQueued = await usedMemory(redis);
  await gw.close();

  const started = performance.now();
  // BENCH_WORKER_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", to look inside the worker.
  const child = spawn(process.execPath, [...(process.env.BENCH_WORKER_NODE_ARGS?.split(' ') ?? []), mainJs, 'worker'], {
    env: { PATH: process.env.PATH, GERBANG_CONFIG: cfg.path, REDIS_URL: redisUrl, HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // A worker that dies ends the run through the wait below, so the bench's redis-server is stopped.
  let died: number | undefined;
  child.once('exit', (code) => {
    if (code !== 0 && code !== null) died = code;
  });
  let peak = 0;
  let last = 0;
  const synced = await untilSynced(redis, 'backlog', ids, () => {
    if (died !== undefined) throw new Error(`bench: the worker process exited with ${died}`);
    peak = Math.max(peak, peakRssMb(child.pid ?? 0));
    if (performance.now() - last > 10_000) {
      last = performance.now();
      void redis.zcard(keys.backlog('backlog')).then((n) => console.error(`bench: backlog: ${n} left`));
    }
  });
  const drainSeconds = (performance.now() - started) / 1000;
  peak = Math.max(peak, peakRssMb(child.pid ?? 0));
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  redis.disconnect();
  await upstream.close();
  cfg.cleanup();
  return { fillSeconds, drainSeconds, synced, peakRssMb: peak, bytesPerQueued: (memoryQueued - memoryBefore) / BACKLOG };
}

/**
 * One drain of the same records (a child's weighing, one in three an ANC visit) through a fresh
 * SATUSEHAT test double, with the production delivery and circuit settings; seconds from the first
 * post to the last record synced.
 */
async function drainThroughDouble(flakyRate: number, seed: number): Promise<{ seconds: number; requests: number; failed: number }> {
  const redis = await startRedis({ appendonly: false });
  const srv = await startSatusehatServer(flakyRate > 0 ? { flaky: { rate: flakyRate, status: 503, seed } } : {});
  const cfg = writeTestConfig({ redisUrl: redis.url, upstreams: [{ ...satusehatUpstream(srv), circuit: {} }], facilities: satusehatFacilities(), delivery: { baseDelayMs: 2_000, maxDelayMs: 20 * 60_000, lockDurationMs: 30_000, concurrency: 8 } });
  const config = loadConfig({ GERBANG_CONFIG: cfg.path, REDIS_URL: redis.url, HOST: '127.0.0.1' });
  const gw = await serve(config, createLogger('warn'));
  try {
    const records = Array.from({ length: FLAKY_RECORDS }, (_, i) => (i % 3 === 2 ? ancRecord(i + 1) : childRecord(i + 1)));
    await seedPeople(srv, records);
    const started = performance.now();
    const sent = await postAll(gw.url ?? '', 'bench', records);
    await untilAllSynced(gw.url ?? '', sent, FLAKY_BOUND_MS);
    return { seconds: (performance.now() - started) / 1000, requests: srv.requests.length, failed: srv.flakyFailures() };
  } finally {
    await gw.close();
    await srv.close();
    await redis.stop();
    cfg.cleanup();
  }
}

async function benchFlaky() {
  console.error('bench: flaky SATUSEHAT drain');
  // Not measured: the first drain in a process runs on cold code (JIT, the FHIR engine's caches)
  // and took about twice as long as the next, which would flatter whichever drain came second.
  await drainThroughDouble(0, 1);
  const healthy = await drainThroughDouble(0, 1);
  const flaky = await drainThroughDouble(0.1, 16);
  return { healthy, flaky, ratio: flaky.seconds / healthy.seconds };
}

const redis = await startRedis({ appendonly: true });
try {
  // BENCH_PARTS=flaky (say) measures only that part; all three unless told.
  const parts = new Set((process.env.BENCH_PARTS ?? 'satusehat,flaky,backlog').split(','));
  const ss = parts.has('satusehat') ? await benchSatusehat(redis.url) : undefined;
  const flaky = parts.has('flaky') ? await benchFlaky() : undefined;
  const backlog = parts.has('backlog') ? await benchBacklog(redis.url) : undefined;
  const lines = [
    ss && `satusehat raw undici ${ss.rawRate.toFixed(0)} bundles/s | worker through the SATUSEHAT path ${ss.drainRate.toFixed(0)} records/s (${ss.synced}/${SATUSEHAT_RECORDS} synced; caches warm: ${ss.lookups} lookups, ${ss.tokens} token request(s) in all) | ratio ${((ss.drainRate / ss.rawRate) * 100).toFixed(1)}%`,
    flaky && `flaky SATUSEHAT (503 to ${flaky.flaky.failed} of ${flaky.flaky.requests} requests, 10%) drained ${FLAKY_RECORDS} records in ${flaky.flaky.seconds.toFixed(1)} s vs ${flaky.healthy.seconds.toFixed(1)} s through a healthy one (${flaky.healthy.requests} requests) | ratio ${flaky.ratio.toFixed(2)}x (floor ${FLAKY_FLOOR}x)`,
    backlog && `backlog ${BACKLOG} records: queued in ${backlog.fillSeconds.toFixed(0)} s; one worker process drained them in ${backlog.drainSeconds.toFixed(0)} s (${(BACKLOG / backlog.drainSeconds).toFixed(0)} records/s, ${backlog.synced} synced) | peak RSS of the worker ${backlog.peakRssMb.toFixed(0)} MB | Redis ${(backlog.bytesPerQueued / 1024).toFixed(1)} KiB per queued record`,
  ];
  console.log(lines.filter(Boolean).join('\n'));
  if ((ss && ss.synced !== SATUSEHAT_RECORDS) || (backlog && backlog.synced !== BACKLOG) || (flaky && flaky.ratio > FLAKY_FLOOR)) process.exitCode = 1;
} finally {
  await redis.stop();
}
