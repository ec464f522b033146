// npm run bench, part 2: delivery figures, each as a ratio or per record, measured in one run.
// Every gateway is its own process (`node dist/cli/main.js serve` / `worker`), as in run.ts, and the
// bench learns states through the HTTP API only.
//   satusehat: a `gerbang worker` process draining records through the SATUSEHAT path (token and
//              identity caches warm) to a SATUSEHAT-shaped upstream process that answers at once, vs
//              a raw-undici process POSTing the same Bundles to that upstream's transaction endpoint
//   flaky:     BENCH_FLAKY (48) records of mixed kinds drained by a `gerbang serve` process (worker
//              inside, as a one-process deployment) through the SATUSEHAT test double answering 503
//              to 10% of all requests (seeded), against the same drain through a healthy double,
//              both after an unmeasured healthy drain that warms the double up; floor: the flaky
//              drain takes at most 3x as long
//   backlog:   BENCH_BACKLOG (100,000) records queued with no worker running, then drained by one
//              `gerbang worker` process: time, peak RSS of that process, Redis memory per queued
//              record and, on PostgreSQL, the ledger's bytes per record
// BENCH_STORE=postgres|redis as in run.ts; figures also go to bench/last-run.json ("delivery").
import { loadavg } from 'node:os';
import { queue, recordStates, retriedPosts, spread, stateCounts, untilJobs, untilSettled } from './lib/api.js';
import { childrenOutput, gatewayConfig, peakRssMb, stopChildren, rawDrain, startFastSatusehat, startFastUpstream, startGateway, startWorker } from './lib/children.js';
import { bundlesFor, recordBody } from './lib/records.js';
import { writeReport } from './lib/report.js';
import { openStores, type Stores } from './lib/store.js';
import { startSatusehatServer } from '../test/helpers/satusehat-server.js';
import { ancRecord, childRecord, satusehatFacilities, satusehatUpstream, seedPeople } from '../test/helpers/satusehat-records.js';

const dist = (m: string) => import(new URL(`../dist/${m}`, import.meta.url).href);
const distConfig = (await dist('config/load.js')) as typeof import('../src/config/load.js');

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

function facilitiesWithSupervisor() {
  const demo = distConfig.loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-bench' }).facilities;
  return { ...demo, posyandu: { ...demo.posyandu, '3201010001-01': { ...demo.posyandu['3201010001-01']!, supervisorNik: SUPERVISOR_NIK } } };
}

/** Throws when a worker process has died (its exit code and output), so a run does not wait forever. */
function alive(w: { child: { exitCode: number | null }; output(): string }): void {
  if (w.child.exitCode !== null) throw new Error(`bench: the worker process exited with ${w.child.exitCode}:\n${w.output()}`);
}

async function benchSatusehat(stores: Stores) {
  console.error('bench: satusehat path');
  const ss = await startFastSatusehat();
  const store = await stores.fresh();
  const upstream = {
    name: 'ss',
    kind: 'satusehat',
    authUrl: `${ss.origin}/oauth2/v1`,
    baseUrl: `${ss.origin}/fhir-r4/v1`,
    credentials: { [ORG]: { clientId: 'bench', clientSecret: 'bench' } },
  };
  const facilities = facilitiesWithSupervisor();
  const files = await gatewayConfig(store, { upstreams: [upstream], facilities, delivery: { runWorker: false, concurrency: CONCURRENCY } });
  const gw = await startGateway(files);
  const children = Math.min(SATUSEHAT_RECORDS, 500);
  try {
    // Warm-up, not measured: one record per child fills the token and identity caches (in Redis,
    // shared by every worker process).
    const warm = await queue(gw.url, Array.from({ length: children }, (_, c) => recordBody('ss', c, 0)), 'bench');
    let worker = startWorker(files);
    await untilSettled(gw.url, 'ss', warm.length, { onTick: () => alive(worker) });
    await worker.stop();
    const lookupsWarm = (await ss.stats()).lookups;

    const bodies = Array.from({ length: SATUSEHAT_RECORDS }, (_, i) => recordBody('ss', i % children, 1 + Math.floor(i / children)));
    const ids = await queue(gw.url, bodies, 'bench');
    await untilJobs(gw.url, 'ss', ids.length);
    await ss.reset();
    worker = startWorker(files);
    const settled = await untilSettled(gw.url, 'ss', warm.length + ids.length, { onTick: () => alive(worker) });
    const pushed = await ss.stats();
    await worker.stop();
    const drainRate = ids.length / ((settled.at - pushed.firstAt) / 1000);
    const checked = await recordStates(gw.url, spread(ids, 1000), 'ss');
    const synced = (await stateCounts(gw.url, 'ss')).synced ?? 0;

    // Baseline: the Bundles the gateway made of the same records, POSTed by undici with a bearer
    // token at the same concurrency from a process of its own. They still hold the entries
    // SATUSEHAT owns (Patient, Organization), so the baseline sends a little more than the gateway.
    const bundles = await bundlesFor(bodies, 'bench', distConfig.loadConfig({ GERBANG_CONFIG: files.path, REDIS_URL: store.redisUrl }).facilities);
    await ss.reset();
    const raw = await rawDrain(bundles, `${ss.origin}/fhir-r4/v1`, CONCURRENCY, Math.min(bundles.length, 1000), 'Bearer token-1');
    const rawStats = await ss.stats();
    return {
      records: ids.length,
      drainRate,
      rawRate: raw.sent / raw.seconds,
      synced: synced - warm.length,
      checked,
      lookups: pushed.lookups - lookupsWarm,
      tokens: rawStats.tokens,
      workerBytesPerPush: pushed.bytes / Math.max(1, pushed.received),
      rawBytesPerBundle: rawStats.bytes / Math.max(1, rawStats.received),
    };
  } finally {
    await gw.stop();
    files.cleanup();
    await store.close();
    await ss.stop();
  }
}

async function benchBacklog(stores: Stores) {
  console.error(`bench: backlog of ${BACKLOG}`);
  const upstream = await startFastUpstream();
  const store = await stores.fresh();
  const files = await gatewayConfig(store, { upstreams: [{ name: 'backlog', kind: 'fhir', baseUrl: upstream.url }], delivery: { runWorker: false, concurrency: CONCURRENCY } });
  const gw = await startGateway(files);
  try {
    const memoryBefore = await store.redisUsedMemory();
    const ledgerBefore = await store.ledgerBytes();
    const ids: string[] = [];
    const fillStarted = performance.now();
    for (let i = 0; i < BACKLOG; i += 5000) {
      const n = Math.min(5000, BACKLOG - i);
      ids.push(...(await queue(gw.url, Array.from({ length: n }, (_, k) => recordBody('backlog', i + k, Math.floor((i + k) / 9999))), 'bench')));
      console.error(`bench: backlog: ${ids.length} queued`);
    }
    const fillSeconds = (performance.now() - fillStarted) / 1000;
    // Queued means a job exists: wait for the dispatcher to make one of every record.
    await untilJobs(gw.url, 'backlog', ids.length);
    const memoryQueued = await store.redisUsedMemory();

    // BENCH_PROFILE=1: the worker runs with --cpu-prof too (its profile is left in the directory named).
    const worker = startWorker(files, { profile: true });
    let peak = 0;
    let last = performance.now();
    const settled = await untilSettled(gw.url, 'backlog', ids.length, {
      everyMs: 200,
      onTick: (c) => {
        alive(worker);
        peak = Math.max(peak, peakRssMb(worker.pid));
        if (performance.now() - last > 10_000) {
          last = performance.now();
          console.error(`bench: backlog: ${c.synced ?? 0} synced`);
        }
      },
    });
    const pushed = await upstream.stats();
    const drainSeconds = (settled.at - pushed.firstAt) / 1000;
    peak = Math.max(peak, peakRssMb(worker.pid));
    await worker.stop();
    if (worker.profileDir) console.error(`bench: backlog: the worker's CPU profile is in ${worker.profileDir}`);
    const checked = await recordStates(gw.url, spread(ids, 1000), 'backlog');
    const synced = (await stateCounts(gw.url, 'backlog')).synced ?? 0;
    const ledgerAfter = await store.ledgerBytes();
    const byTable = await store.ledgerBytesByTable();
    return {
      records: ids.length,
      fillSeconds,
      drainSeconds,
      synced,
      checked,
      peakRssMb: peak,
      redisBytesPerQueued: (memoryQueued - memoryBefore) / ids.length,
      ...(ledgerBefore !== undefined && ledgerAfter !== undefined ? { postgresBytesPerRecord: (ledgerAfter - ledgerBefore) / ids.length } : {}),
      ...(byTable ? { postgresBytesPerRecordByTable: Object.fromEntries(Object.entries(byTable).map(([t, b]) => [t, Math.round(b / ids.length)])) } : {}),
    };
  } finally {
    await gw.stop();
    files.cleanup();
    await store.close();
    await upstream.stop();
  }
}

/**
 * One drain of the same records (a child's weighing, one in three an ANC visit) through a fresh
 * SATUSEHAT test double by a fresh `gerbang serve` process with its worker inside, with the
 * production delivery and circuit settings; seconds from the first post to the last record synced.
 */
async function drainThroughDouble(stores: Stores, flakyRate: number, seed: number): Promise<{ seconds: number; requests: number; failed: number }> {
  const store = await stores.fresh();
  const srv = await startSatusehatServer(flakyRate > 0 ? { flaky: { rate: flakyRate, status: 503, seed } } : {});
  const files = await gatewayConfig(store, { upstreams: [{ ...satusehatUpstream(srv), circuit: {} }], facilities: satusehatFacilities(), delivery: { baseDelayMs: 2_000, maxDelayMs: 20 * 60_000, lockDurationMs: 30_000, concurrency: 8 } });
  const gw = await startGateway(files);
  try {
    const records = Array.from({ length: FLAKY_RECORDS }, (_, i) => (i % 3 === 2 ? ancRecord(i + 1) : childRecord(i + 1)));
    await seedPeople(srv, records);
    const started = performance.now();
    const ids = await queue(gw.url, records.map((r) => JSON.stringify(r)), 'bench', 1);
    await untilSettled(gw.url, 'satusehat', ids.length, { timeoutMs: FLAKY_BOUND_MS, everyMs: 200 });
    const checked = await recordStates(gw.url, ids, 'satusehat');
    if (checked.synced !== ids.length) throw new Error(`bench: flaky drain: ${checked.synced} of ${ids.length} synced`);
    return { seconds: (performance.now() - started) / 1000, requests: srv.requests.length, failed: srv.flakyFailures() };
  } finally {
    await gw.stop();
    await srv.close();
    files.cleanup();
    await store.close();
  }
}

async function benchFlaky(stores: Stores) {
  console.error('bench: flaky SATUSEHAT drain');
  // Not measured: the first drain through a double runs on its cold code (JIT, the FHIR engine's
  // caches) and took about twice as long as the next, which would flatter whichever came second.
  await drainThroughDouble(stores, 0, 1);
  const healthy = await drainThroughDouble(stores, 0, 1);
  const flaky = await drainThroughDouble(stores, 0.1, 16);
  return { healthy, flaky, ratio: flaky.seconds / healthy.seconds };
}

const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
const stores = await openStores(distConfig.loadConfig).catch((err: Error) => {
  console.error(`bench: ${err.message}`);
  process.exit(2);
});
try {
  console.error(`bench: store ${stores.kind} (${stores.why})`);
  // BENCH_PARTS=flaky (say) measures only that part; all three unless told.
  const parts = new Set((process.env.BENCH_PARTS ?? 'satusehat,flaky,backlog').split(','));
  const ss = parts.has('satusehat') ? await benchSatusehat(stores) : undefined;
  const flaky = parts.has('flaky') ? await benchFlaky(stores) : undefined;
  const backlog = parts.has('backlog') ? await benchBacklog(stores) : undefined;
  const lines = [
    `store     ${stores.kind} (${stores.why})`,
    ss &&
      `satusehat raw undici process ${ss.rawRate.toFixed(0)} bundles/s (${ss.rawBytesPerBundle.toFixed(0)} B each) | gerbang worker process through the SATUSEHAT path ${ss.drainRate.toFixed(0)} records/s (${ss.synced}/${ss.records} synced, ${ss.checked.found}/${ss.checked.asked} sampled found; ${ss.workerBytesPerPush.toFixed(0)} B per transaction; caches warm: ${ss.lookups} lookups, ${ss.tokens} token request(s) in all) | ratio ${((ss.drainRate / ss.rawRate) * 100).toFixed(1)}%`,
    flaky &&
      `flaky     SATUSEHAT (503 to ${flaky.flaky.failed} of ${flaky.flaky.requests} requests, 10%) drained ${FLAKY_RECORDS} records in ${flaky.flaky.seconds.toFixed(1)} s vs ${flaky.healthy.seconds.toFixed(1)} s through a healthy one (${flaky.healthy.requests} requests) | ratio ${flaky.ratio.toFixed(2)}x (floor ${FLAKY_FLOOR}x)`,
    backlog &&
      `backlog   ${backlog.records} records: queued in ${backlog.fillSeconds.toFixed(0)} s; one gerbang worker process drained them in ${backlog.drainSeconds.toFixed(0)} s (${(backlog.records / backlog.drainSeconds).toFixed(0)} records/s, ${backlog.synced} synced, ${backlog.checked.found}/${backlog.checked.asked} sampled found) | peak RSS of the worker ${backlog.peakRssMb.toFixed(0)} MB | Redis ${kib(backlog.redisBytesPerQueued)} per queued record${backlog.postgresBytesPerRecord !== undefined ? ` | PostgreSQL ${kib(backlog.postgresBytesPerRecord)} per record after the drain` : ''}`,
  ];
  console.log(lines.filter(Boolean).join('\n'));
  writeReport('delivery', { store: stores.kind, satusehat: ss, flaky, backlog, retriedPosts: retriedPosts(), loadAverage: loadavg(), settings: { SATUSEHAT_RECORDS, BACKLOG, FLAKY_RECORDS, CONCURRENCY } }, { fresh: false });
  const lost = (c: { checked: { asked: number; found: number } }) => c.checked.found !== c.checked.asked;
  if ((ss && (ss.synced !== ss.records || lost(ss))) || (backlog && (backlog.synced !== backlog.records || lost(backlog))) || (flaky && flaky.ratio > FLAKY_FLOOR)) process.exitCode = 1;
} catch (err) {
  console.error(`bench: failed; what the processes still running wrote last:\n${childrenOutput()}`);
  throw err;
} finally {
  await stopChildren();
  await stores.stop();
}
