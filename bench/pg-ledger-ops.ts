// The PostgreSQL ledger alone (no HTTP, no queue): accepts at one posyandu from BENCH_CONNECTIONS
// loops for BENCH_SECONDS, then every accepted record pushed (begin, sending, synced) from
// BENCH_JOBS loops; prints operations per second and the wait events sampled from
// pg_stat_activity meanwhile. For finding where the ledger's time goes (docs/performance.md).
import pg from 'pg';
import { loadTables } from '../src/roles/tables.js';
import { loadConfig } from '../src/config/load.js';
import { prepareRecord } from '../src/ingest/prepare-record.js';
import type { NewRecord } from '../src/sync/ledger.js';
import { ensurePartitions, migrate } from '../src/sync/pg/migrate.js';
import { PgLedger } from '../src/sync/pg/pg-ledger.js';
import { validAnthropometry, withChanges, type RecordLike } from '../test/fixtures/records.js';
import { startPostgres } from '../test/helpers/postgres-server.js';
import { testPayload } from '../test/helpers/store.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const JOBS = Number(process.env.BENCH_JOBS ?? 16);
const POOL = Number(process.env.BENCH_POOL ?? 20);
const U = 'satusehat';

const server = await startPostgres();
const pool = new pg.Pool({ connectionString: await server.createDatabase(), max: POOL });
await migrate(pool);
await ensurePartitions(pool, 1, new Date());
const ledger = new PgLedger(pool, testPayload());
loadTables();
const { facilities } = loadConfig({});
const base = prepareRecord(withChanges({ recordId: 'X', weightKg: 9.8 }, validAnthropometry as unknown as RecordLike), 'app', facilities, new Date(), undefined);
if (!base.ok) throw new Error('fixture does not prepare');

let n = 0;
function next(): NewRecord {
  n += 1;
  const p = base.ok ? base.prepared : undefined;
  if (!p) throw new Error('unreachable');
  return {
    id: `rec-${n}`, source: 'app', record: { ...p.record, recordId: `R${n}` }, contentHash: `h${n}`, bundle: p.bundle,
    indicators: {}, warnings: [], subject: `subject-${n}`, posyandu: '3201010001-01', puskesmas: 'P3201010101', regency: '3201',
    receivedAt: new Date(), upstreams: [U],
  };
}

const waits = new Map<string, number>();
const watcher = new pg.Client({ connectionString: (pool.options as { connectionString: string }).connectionString });
await watcher.connect();
let watching = true;
const watching$ = (async () => {
  while (watching) {
    const res = await watcher.query<{ w: string; n: string }>(
      `SELECT coalesce(wait_event_type || ':' || wait_event, 'cpu') AS w, count(*) AS n FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' GROUP BY 1`,
    );
    for (const r of res.rows) waits.set(r.w, (waits.get(r.w) ?? 0) + Number(r.n));
    await new Promise((r) => setTimeout(r, 10));
  }
})();
function dumpWaits(label: string) {
  const total = [...waits.values()].reduce((a, b) => a + b, 0);
  console.log(`${label} waits: ${[...waits.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([w, c]) => `${w} ${((100 * c) / total).toFixed(0)}%`).join(', ')}`);
  waits.clear();
}

const lsn = async () => (await watcher.query<{ l: string }>('SELECT pg_current_wal_lsn() AS l')).rows[0]!.l;
const walSince = async (from: string) => Number((await watcher.query<{ b: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS b', [from])).rows[0]!.b);
let walFrom = await lsn();
const ids: string[] = [];
let until = Date.now() + SECONDS * 1000;
let started = performance.now();
await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
  while (Date.now() < until) ids.push((await ledger.accept(next())).id);
}));
console.log(`accept  ${(ids.length / ((performance.now() - started) / 1000)).toFixed(0)}/s (${ids.length}, ${CONNECTIONS} at once, pool ${POOL})`);
dumpWaits('accept');
console.log(`accept  WAL ${((await walSince(walFrom)) / ids.length / 1024).toFixed(1)} KiB per record`);

const pending = await ledger.pendingDeliveries(100_000);
await ledger.deliveriesQueued(pending);
started = performance.now();
walFrom = await lsn();
let pushed = 0;
await Promise.all(Array.from({ length: JOBS }, async () => {
  for (let id = ids.pop(); id !== undefined; id = ids.pop()) {
    const begun = await ledger.beginDelivery(id, U, 1);
    if (begun.kind !== 'go') throw new Error(`begin: ${begun.kind}`);
    const at = Date.now();
    const st = { ...begun.status, version: 1, attempts: 1, updatedAt: new Date(at).toISOString() };
    await ledger.setState(id, U, { ...st, state: 'sending', sendingUntil: at + 30_000 }, at);
    await ledger.setState(id, U, { ...st, state: 'synced', syncedAt: new Date().toISOString(), resources: [{ fullUrl: 'urn:uuid:1', resourceType: 'Observation', id: `o${id}`, status: '201 Created' }] }, Date.now(), begun.subject);
    pushed += 1;
  }
}));
console.log(`push    ${(pushed / ((performance.now() - started) / 1000)).toFixed(0)} records/s (begin + sending + synced, ${JOBS} at once)`);
dumpWaits('push');
console.log(`push    WAL ${((await walSince(walFrom)) / pushed / 1024).toFixed(1)} KiB per record`);
const c = await ledger.counts(U, []);
console.log(`counts  ${JSON.stringify(c.states ?? c).slice(0, 200)}`);
watching = false;
await watching$;
await watcher.end();
await pool.end();
await server.stop();
void until; until = 0;
