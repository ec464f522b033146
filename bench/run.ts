// npm run bench: throughput figures as ratios against a baseline measured in the same run.
//   ingest:  POST /v1/records on `gerbang serve` vs a bare Fastify server that parses the same body
//            and answers 202, each its own process, the load generator (undici) in this one
//            (floor: 15%)
//   drain:   one `gerbang worker` process (BENCH_WORKERS) pushing queued records to a fast upstream
//            (a process of its own) vs a raw-undici process POSTing the same Bundles to it (floor: 40%)
//   room:    bytes per record the ledger takes after the drain: PostgreSQL (every table, index and
//            partition of its schema) and Redis (used_memory)
//   summary: GET /v1/sync/summary with 10,000 and with 1,000,000 records in the ledger (PostgreSQL;
//            synthetic rows, bench/pg-ledger-fill.ts): it must not grow with the records
// The ledger's store: BENCH_STORE=postgres|redis (postgres when this build has it). The bench never
// reads the store's records: states come from the HTTP API. Figures also go to bench/last-run.json.
// Knobs: BENCH_SECONDS (ingest, 5), BENCH_CONNECTIONS (ingest clients, 32), BENCH_DRAIN (records,
// 5000), BENCH_CONCURRENCY (connections to the upstream, both sides, 16), BENCH_JOBS (jobs the
// worker has in flight over those connections, 16), BENCH_WORKERS (worker processes, 1),
// BENCH_SUMMARY_SMALL / BENCH_SUMMARY_LARGE (10,000 / 1,000,000), BENCH_PARTS (ingest,batch,drain,
// zscore,summary), BENCH_PROFILE=1 (CPU profile of the ingesting gateway: its top self time),
// BENCH_PG_WAITS=1 (what the PostgreSQL connections wait on during ingest and drain).
import { readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Readable } from 'node:stream';
import { Pool, request } from 'undici';
import { queue, recordStates, retriedPosts, spread, stateCounts, untilJobs, untilSettled } from './lib/api.js';
import { childrenOutput, gatewayConfig, peakRssMb, stopChildren, profilesIn, rawDrain, startBareFastify, startFastUpstream, startGateway, startWorker, type Gateway, type Upstream } from './lib/children.js';
import { monotonicMicros, topSelfTime } from './lib/cpu-profile.js';
import { bundlesFor, nextBody, recordBody } from './lib/records.js';
import { writeReport } from './lib/report.js';
import { sampleWaits } from './lib/pg-waits.js';
import { openStores, type Stores } from './lib/store.js';
import { benchSummary, type SummaryFigures } from './lib/summary-phase.js';
// The gateway under test is the built one (dist/, as in production); the harness comes from test/.
const dist = (m: string) => import(new URL(`../dist/${m}`, import.meta.url).href);
const { loadConfig } = (await dist('config/load.js')) as typeof import('../src/config/load.js');
const { computeGrowth } = (await dist('indicators/growth/zscore.js')) as typeof import('../src/indicators/growth/zscore.js');
// The calculators read their tables through accessors: load them as a process's start-up does.
((await dist('roles/tables.js')) as typeof import('../src/roles/tables.js')).loadTables();

const INGEST_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const DRAIN_RECORDS = Number(process.env.BENCH_DRAIN ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const JOBS = Number(process.env.BENCH_JOBS ?? 16);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
const INGEST_FLOOR = 0.15;
const DRAIN_FLOOR = 0.4;
const parts = new Set((process.env.BENCH_PARTS ?? 'ingest,batch,drain,zscore,summary').split(','));

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

/** Resident set of a process now (VmRSS), in MB. */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readStatus(pid));
  return m ? Number(m[1]) / 1024 : 0;
}
function readStatus(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}
async function stopWithProfile(gw: Gateway, window: { from: number; to: number }): Promise<ReturnType<typeof topSelfTime> | undefined> {
  await gw.stop();
  const file = gw.profileDir ? profilesIn(gw.profileDir)[0] : undefined;
  if (!file) return undefined;
  const top = topSelfTime(file, 15, window);
  rmSync(gw.profileDir ?? '', { recursive: true, force: true });
  return top;
}

async function benchIngest(stores: Stores, upstream: Upstream) {
  console.error('bench: ingest: bare Fastify');
  const bare = await startBareFastify();
  await load(`${bare.url}/v1/records`, 1); // warm-up
  const baseline = await load(`${bare.url}/v1/records`, INGEST_SECONDS);
  await bare.stop();

  console.error('bench: ingest: gerbang serve');
  const store = await stores.fresh();
  const files = await gatewayConfig(store, { upstreams: [{ name: 'fast', kind: 'fhir', baseUrl: upstream.url }], delivery: { runWorker: false } });
  const gw = await startGateway(files, { profile: true });
  await load(`${gw.url}/v1/records?source=bench`, 1);
  const window = { from: monotonicMicros(), to: 0 };
  const waits = process.env.BENCH_PG_WAITS === '1' && store.kind === 'postgres' ? sampleWaits(store.pool()) : undefined;
  const gateway = await load(`${gw.url}/v1/records?source=bench`, INGEST_SECONDS);
  window.to = monotonicMicros();
  if (waits) console.error(`bench: ingest: PostgreSQL connections: ${await waits.stop()}`);
  const batch = parts.has('batch') ? await benchBatch(gw) : undefined;
  const profile = await stopWithProfile(gw, window);
  files.cleanup();
  await store.close();
  return { baseline, gateway, batch, profile };
}

/**
 * $batch: records per second through one NDJSON batch, and how the gateway process's resident
 * set grows while taking a 1,000- and a 10,000-record batch (the body is streamed to it, so the
 * growth should not scale with the batch).
 */
async function benchBatch(gw: Gateway) {
  const run = async (n: number) => {
    console.error(`bench: batch of ${n}`);
    const base = rssMb(gw.pid);
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(gw.pid))), 20);
    async function* lines() {
      for (let i = 0; i < n; i++) yield `${nextBody('batch')}\n`;
    }
    const started = performance.now();
    const res = await request(`${gw.url}/v1/records/$batch?source=bench-batch`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: Readable.from(lines()), bodyTimeout: 600_000, headersTimeout: 600_000 });
    let accepted = 0;
    let pending = '';
    for await (const chunk of res.body) {
      pending += chunk.toString();
      const split = pending.split('\n');
      pending = split.pop() ?? '';
      accepted += split.filter((l) => l.includes('"result":"accepted"')).length;
    }
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    return { n, rps: n / seconds, accepted, rssBeforeMb: base, rssGrowthMb: peak - base, rssAfterMb: rssMb(gw.pid) };
  };
  await run(200);
  const small = await run(1_000);
  const large = await run(10_000);
  return { small, large };
}

async function benchDrain(stores: Stores, upstream: Upstream) {
  console.error('bench: drain');
  const store = await stores.fresh();
  const files = await gatewayConfig(store, { upstreams: [{ name: 'drain', kind: 'fhir', baseUrl: upstream.url, maxConnections: CONCURRENCY }], delivery: { runWorker: false, concurrency: JOBS } });
  // The serving gateway queues the records (no worker) and answers the API the bench watches with.
  const gw = await startGateway(files);
  const redisEmpty = await store.redisUsedMemory();
  const ledgerEmpty = await store.ledgerBytes();
  const bodies = Array.from({ length: DRAIN_RECORDS }, (_, i) => recordBody('drain', i, 0));
  const ids = await queue(gw.url, bodies, 'drain');
  await untilJobs(gw.url, 'drain', ids.length);
  const redisQueued = await store.redisUsedMemory();
  console.error(`bench: drain: ${ids.length} queued`);

  // Baseline: the Bundles the gateway made of the same records, POSTed by undici from a process of
  // its own at the same concurrency, after an unmeasured first pass that warms it and the upstream.
  const facilities = loadConfig({ GERBANG_DATA_DIR: files.dir }).facilities;
  const bundles = await bundlesFor(bodies, 'drain', facilities);
  await upstream.reset();
  const raw = await rawDrain(bundles, upstream.url, CONCURRENCY, Math.min(bundles.length, 1000));
  const rawStats = await upstream.stats();
  console.error('bench: drain: raw baseline done');

  // The worker process(es) drain the queue: from the first push the upstream received to the
  // summary showing every record settled.
  await upstream.reset();
  // BENCH_PROFILE=1: the first worker runs with --cpu-prof, its samples of the drain kept.
  const workers = Array.from({ length: WORKERS }, (_, i) => startWorker(files, { profile: i === 0 }));
  const window = { from: monotonicMicros(), to: 0 };
  const waits = process.env.BENCH_PG_WAITS === '1' && store.kind === 'postgres' ? sampleWaits(store.pool()) : undefined;
  let peak = 0;
  const settled = await untilSettled(gw.url, 'drain', ids.length, {
    onTick: () => {
      for (const w of workers) {
        if (w.child.exitCode !== null) throw new Error(`bench: a worker process exited with ${w.child.exitCode}:\n${w.output()}`);
        peak = Math.max(peak, peakRssMb(w.pid));
      }
    },
  });
  window.to = monotonicMicros();
  if (waits) console.error(`bench: drain: PostgreSQL connections: ${await waits.stop()}`);
  const pushed = await upstream.stats();
  // The worker's start-up is not the drain: its samples count from the first push (the upstream's
  // wall clock, carried over to the monotonic one).
  window.from = window.to - (settled.at - pushed.firstAt) * 1000;
  const drainSeconds = (settled.at - pushed.firstAt) / 1000;
  const [first, ...others] = workers;
  for (const w of others) await w.stop();
  const profile = first ? await stopWithProfile(first, window) : undefined;
  const checked = await recordStates(gw.url, spread(ids, 2000), 'drain');
  const counts = await stateCounts(gw.url, 'drain');
  const ledgerDrained = await store.ledgerBytes();
  const byTable = await store.ledgerBytesByTable();
  const redisDrained = await store.redisUsedMemory();
  await gw.stop();
  files.cleanup();
  await store.close();
  return {
    records: ids.length,
    rawRate: raw.sent / raw.seconds,
    rawNon2xx: raw.non2xx,
    rawBytesPerBundle: rawStats.bytes / Math.max(1, rawStats.received),
    drainRate: ids.length / drainSeconds,
    drainSeconds,
    workerBytesPerPush: pushed.bytes / Math.max(1, pushed.received),
    pushes: pushed.received,
    workerPeakRssMb: peak,
    profile,
    synced: counts.synced ?? 0,
    counts,
    checked,
    redisBytesPerQueued: (redisQueued - redisEmpty) / ids.length,
    redisBytesPerSynced: (redisDrained - redisEmpty) / ids.length,
    ...(ledgerEmpty !== undefined && ledgerDrained !== undefined ? { postgresBytesPerRecord: (ledgerDrained - ledgerEmpty) / ids.length, postgresBytes: ledgerDrained } : {}),
    ...(byTable ? { postgresBytesPerRecordByTable: perRecord(byTable, ids.length) } : {}),
  };
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

/** Bytes per record of each table, largest first (a table's fixed first pages included). */
function perRecord(byTable: Record<string, number>, n: number): Record<string, number> {
  return Object.fromEntries(Object.entries(byTable).map(([t, b]) => [t, Math.round(b / n)]));
}

const pct = (r: number) => `${(r * 100).toFixed(1)}%`;
const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;

const stores = await openStores(loadConfig).catch((err: Error) => {
  console.error(`bench: ${err.message}`);
  process.exit(2);
});
const upstream = await startFastUpstream();
try {
  console.error(`bench: store ${stores.kind} (${stores.why})`);
  const ingest = parts.has('ingest') ? await benchIngest(stores, upstream) : undefined;
  const drain = parts.has('drain') ? await benchDrain(stores, upstream) : undefined;
  const zscoreMicros = parts.has('zscore') ? benchZscores() : undefined;
  const summary: SummaryFigures | undefined = parts.has('summary') ? await benchSummary(stores, upstream.url) : undefined;
  const lines: string[] = [`store   ${stores.kind} (${stores.why}) | load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} (2 cores shared: compare ratios within a run)`];
  if (ingest) {
    const ratio = ingest.gateway.rps / ingest.baseline.rps;
    lines.push(`ingest  bare Fastify process ${ingest.baseline.rps.toFixed(0)} req/s | gerbang serve process POST /v1/records ${ingest.gateway.rps.toFixed(0)} req/s (non-2xx: ${ingest.gateway.non2xx}) | ratio ${pct(ratio)} (floor ${pct(INGEST_FLOOR)}: ${ratio >= INGEST_FLOOR ? 'met' : 'not met'})`);
    const b = ingest.batch;
    if (b) {
      lines.push(`batch   10,000-record NDJSON $batch ${b.large.rps.toFixed(0)} records/s (${b.large.accepted} accepted) | single-record path ${ingest.gateway.rps.toFixed(0)} req/s | ratio ${pct(b.large.rps / ingest.gateway.rps)}`);
      lines.push(`memory  gateway process RSS while taking a batch: peak +${b.small.rssGrowthMb.toFixed(1)} MB for 1,000 records, +${b.large.rssGrowthMb.toFixed(1)} MB for 10,000 (from ${b.small.rssBeforeMb.toFixed(0)} MB; ${b.large.rssAfterMb.toFixed(0)} MB after)`);
    }
    if (ingest.profile) {
      lines.push(`profile gerbang serve during the measured ingest (${ingest.profile.samples} samples, ${ingest.profile.busyPercentOfSamples.toFixed(0)}% busy); top self time of the busy ones:`);
      for (const f of ingest.profile.functions) lines.push(`          ${f.percent.toFixed(1).padStart(5)}%  ${f.fn}`);
    }
  }
  if (zscoreMicros !== undefined) {
    const of = ingest ? ` = ${pct(zscoreMicros / (1e6 / ingest.gateway.rps))} of one ingest request (${(1e6 / ingest.gateway.rps).toFixed(0)} µs)` : '';
    lines.push(`zscore  ${zscoreMicros.toFixed(1)} µs per record (6 indicators)${of}`);
  }
  if (drain) {
    const ratio = drain.drainRate / drain.rawRate;
    lines.push(
      `drain   raw undici process ${drain.rawRate.toFixed(0)} bundles/s (${drain.rawBytesPerBundle.toFixed(0)} B each) | ${WORKERS} gerbang worker process(es) ${drain.drainRate.toFixed(0)} records/s (${drain.synced}/${drain.records} synced, ${drain.pushes} pushes of ${drain.workerBytesPerPush.toFixed(0)} B; ${drain.checked.found}/${drain.checked.asked} sampled found, ${drain.checked.synced} synced) | ratio ${pct(ratio)} (floor ${pct(DRAIN_FLOOR)}: ${ratio >= DRAIN_FLOOR ? 'met' : 'not met'}) | worker peak RSS ${drain.workerPeakRssMb.toFixed(0)} MB`,
    );
    if (drain.profile) {
      lines.push(`profile gerbang worker during the drain (${drain.profile.samples} samples, ${drain.profile.busyPercentOfSamples.toFixed(0)}% busy); top self time of the busy ones:`);
      for (const f of drain.profile.functions) lines.push(`          ${f.percent.toFixed(1).padStart(5)}%  ${f.fn}`);
    }
    lines.push(
      `room    per record after the drain: ${drain.postgresBytesPerRecord !== undefined ? `PostgreSQL ${kib(drain.postgresBytesPerRecord)} (tables, indexes, partitions; ${(drain.postgresBytes! / 1048576).toFixed(1)} MB in all; most in ${Object.entries(drain.postgresBytesPerRecordByTable ?? {}).slice(0, 4).map(([t, b]) => `${t} ${kib(b)}`).join(', ')}) | ` : ''}Redis ${kib(drain.redisBytesPerQueued)} while queued, ${kib(drain.redisBytesPerSynced)} once synced`,
    );
  }
  if (summary) lines.push(summary.line);
  console.log(lines.join('\n'));
  writeReport('run', { store: stores.kind, ingest, drain, zscoreMicros, summary, retriedPosts: retriedPosts(), loadAverage: loadavg(), settings: { INGEST_SECONDS, CONNECTIONS, DRAIN_RECORDS, CONCURRENCY, JOBS, WORKERS } }, { fresh: true });
  const lost = drain && (drain.checked.found !== drain.checked.asked || drain.synced !== drain.records);
  if ((ingest && ingest.gateway.non2xx > 0) || lost || (ingest?.batch && ingest.batch.large.accepted !== 10_000) || (summary && summary.failed)) process.exitCode = 1;
} catch (err) {
  console.error(`bench: failed; what the processes still running wrote last:\n${childrenOutput()}`);
  throw err;
} finally {
  await stopChildren();
  await stores.stop();
}
