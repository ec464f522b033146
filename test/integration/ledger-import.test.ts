import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/load.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import type { NewRecord } from '../../src/sync/ledger.js';
import { importRedisLedger } from '../../src/sync/pg/ledger-import.js';
import { PgLedger } from '../../src/sync/pg/pg-ledger.js';
import { RECORD_FIELDS as F, upstreamField } from '../../src/sync/store/keys.js';
import { RedisLedger } from '../../src/sync/store/redis-ledger.js';
import { validAnthropometry, withChanges, type RecordLike } from '../fixtures/records.js';
import { migratedPool } from '../helpers/ledger-database.js';
import { startRedis } from '../helpers/redis-server.js';
import { testKeys, testPayload } from '../helpers/store.js';

// A Redis ledger as 0.3 to 0.5 left it, imported into PostgreSQL: every record once, its states
// as they were (nothing synced is due again), a job due for every state not settled with the id
// the Redis gateway gave it, the payloads sealed (also those 0.4 wrote in clear), the counts, and
// the person histories; a second run changes nothing.

const redisServer = await startRedis({ appendonly: false });
const redis = new Redis(redisServer.url);
const keys = testKeys('ledger-import');
const payload = testPayload();
const ledger = new RedisLedger(redis, keys, payload);
t.teardown(async () => {
  redis.disconnect();
  await redisServer.stop();
});

const { facilities } = loadConfig({});
const UPSTREAMS = ['satusehat', 'sandbox'];
const T0 = Date.parse('2025-11-06T02:00:00Z');

function record(n: number, at: number): NewRecord {
  const body = withChanges({ recordId: `r${n}`, subject: { ...(validAnthropometry.subject as object), name: `Anak Nomor${n}` } }, validAnthropometry as unknown as RecordLike);
  const r = prepareRecord(body, 'app', facilities, new Date(at), undefined);
  if (!r.ok) throw new Error(`fixture ${n} does not prepare: ${JSON.stringify(r)}`);
  return {
    id: `id-${n}`,
    source: 'app',
    record: r.prepared.record,
    contentHash: `hash-${n}`,
    bundle: r.prepared.bundle,
    indicators: { n },
    warnings: [],
    subject: `subject-${n}`,
    posyandu: '3201010001-01',
    puskesmas: 'P3201010101',
    regency: '3201',
    receivedAt: new Date(at),
    upstreams: UPSTREAMS,
  };
}

async function settle(id: string, upstream: string, state: 'synced' | 'failed', at: number): Promise<void> {
  const begun = await ledger.beginDelivery(id, upstream, 1, at);
  if (begun.kind !== 'go') throw new Error(`${id} did not start: ${begun.kind}`);
  const base = { ...begun.status, attempts: 1, updatedAt: new Date(at).toISOString() };
  await ledger.setState(
    id,
    upstream,
    state === 'synced'
      ? { ...base, state, syncedAt: new Date(at).toISOString(), resources: [{ fullUrl: 'urn:uuid:e', resourceType: 'Encounter', id: `enc-${id}`, status: '201 Created' }] }
      : { ...base, state, lastError: { code: 'upstream.http-422', message: 'ditolak: Anak Nomor', httpStatus: 422, at: base.updatedAt }, outcome: { resourceType: 'OperationOutcome', issue: [] } },
    at,
    begun.subject,
  );
}

// 0 and 1 synced at both; 2 failed at one, then replayed; 3 queued; 4 its payload written in clear (0.4)
for (let n = 0; n < 5; n++) await ledger.accept(record(n, T0 + n * 1000));
for (const u of UPSTREAMS) {
  await settle('id-0', u, 'synced', T0 + 60_000);
  await settle('id-1', u, 'synced', T0 + 61_000);
}
await settle('id-2', 'satusehat', 'failed', T0 + 62_000);
await ledger.requeue('id-2', 'satusehat', T0 + 63_000);
await settle('id-4', 'satusehat', 'synced', T0 + 64_000);
{
  const h = await redis.hgetallBuffer(keys.record('id-4'));
  await redis.hset(keys.record('id-4'), F.record, gunzipSync(payload.openField(F.record, 'app', 'r4', h[F.record]!)).toString());
}
await redis.hset(keys.history('weighing', 'kid-a'), '2025-08', JSON.stringify({ weightKg: 9.1, posyandu: '3201010001-01' }), '2025-09', JSON.stringify({ weightKg: 9.4 }));
await redis.expire(keys.history('weighing', 'kid-a'), 3600);

const pool = await migratedPool({ max: 10 });

const one = async <T>(sql: string, args: unknown[] = []) => (await pool.query(sql, args)).rows[0] as T;

t.test('refused while a gateway holds the Redis ledger', async (t) => {
  await redis.set(keys.dispatcherLock, 'someone', 'PX', 5_000);
  await t.rejects(importRedisLedger({ redis, keys, payload, pool }), { name: 'GatewayRunningError' });
  t.equal((await one<{ n: string }>('SELECT count(*) AS n FROM record_keys')).n, '0', 'nothing imported');
  await redis.del(keys.dispatcherLock);
});

t.test('every record once, states as they were, a job due for each state not settled', async (t) => {
  const report = await importRedisLedger({ redis, keys, payload, pool });
  t.match(report, { records: 5, imported: 5, skipped: 0, keptSealed: 0, histories: 1, countsImported: true });
  // 2 at satusehat (replayed), 3 at both, 4 at sandbox, 2 at sandbox
  t.equal(report.pending, 5);
  const states = await pool.query<{ record_id: string; upstream: string; state: string; status: string; replays: number }>(
    'SELECT record_id, upstream, state, status, replays FROM upstream_states ORDER BY record_id, upstream',
  );
  t.equal(states.rowCount, 10);
  for (const row of states.rows) {
    const inRedis = payload.openStatus(row.record_id, row.upstream, (await redis.hget(keys.record(row.record_id), upstreamField(row.upstream)))!).status;
    t.same(payload.openStatus(row.record_id, row.upstream, row.status).status, inRedis, `${row.record_id} at ${row.upstream}`);
    t.equal(row.state, inRedis.state);
  }
  const outbox = await pool.query<{ record_id: string; version: number; upstream: string | null; replay: number }>('SELECT record_id, version, upstream, replay FROM outbox ORDER BY seq');
  t.same(
    outbox.rows.map((r) => `${r.record_id} ${r.version} ${r.upstream ?? '*'} ${r.replay}`).sort(),
    ['id-2 1 * 0', 'id-2 1 satusehat 1', 'id-3 1 * 0', 'id-4 1 * 0'],
    'the replay keeps its count (its job id); nothing synced is due',
  );
  const settled = await pool.query<{ id: string }>('SELECT id FROM records WHERE unsettled = 0 AND settled_at IS NOT NULL ORDER BY id');
  t.same(settled.rows.map((r) => r.id), ['id-0', 'id-1']);
});

t.test('payloads sealed, the one 0.4 wrote in clear too, and they open to what Redis held', async (t) => {
  const dump = (await pool.query<{ t: string }>(`SELECT string_agg(p::text, ' ') AS t FROM record_payloads p`)).rows[0]!.t;
  t.notOk(dump.includes('Nomor4') || dump.includes('4e6f6d6f7234'), 'no name in clear, as text or hex');
  const row = await one<{ record: Buffer }>(`SELECT record FROM record_payloads WHERE record_id = 'id-4'`);
  const opened = JSON.parse(gunzipSync(payload.openField(F.record, 'app', 'r4', row.record)).toString()) as { subject: { name: string } };
  t.equal(opened.subject.name, 'Anak Nomor4');
});

t.test('the counts: per state made again from the states, per day and latencies as Redis kept them', async (t) => {
  for (const u of UPSTREAMS) {
    const redisCounts = await ledger.counts(u, ['2025-11-06']);
    const pgStates = await pool.query<{ state: string; records: string }>('SELECT state, records FROM status_counts WHERE upstream = $1', [u]);
    t.same(
      Object.fromEntries(pgStates.rows.map((r) => [r.state, Number(r.records)])),
      Object.fromEntries(redisCounts.states.filter((s) => s.records > 0).map((s) => [s.state, s.records])),
      `states at ${u}`,
    );
    const pgDays = await pool.query<{ event: string; records: string }>(`SELECT event, records FROM daily_counts WHERE upstream = $1 AND day = '2025-11-06'`, [u]);
    t.same(Object.fromEntries(pgDays.rows.map((r) => [r.event, Number(r.records)])), Object.fromEntries(redisCounts.days[0]!.map((d) => [d.event, d.records])), `days at ${u}`);
    const pgLatency = await pool.query<{ bucket: number; records: string }>('SELECT bucket, records FROM latency_counts WHERE upstream = $1', [u]);
    t.same(pgLatency.rows.map((r) => [r.bucket, Number(r.records)]), redisCounts.latency.map((l) => [l.bucket, l.records]), `latencies at ${u}`);
  }
});

t.test('the person histories, with their time left', async (t) => {
  const rows = await pool.query<{ field: string; posyandu: string | null; left: number }>(
    `SELECT field, posyandu, extract(epoch FROM expires_at - now()) AS left FROM subject_history WHERE subject_key = 'kid-a' AND what = 'weighing' ORDER BY field`,
  );
  t.same(rows.rows.map((r) => [r.field, r.posyandu]), [['2025-08', '3201010001-01'], ['2025-09', null]]);
  t.ok(rows.rows.every((r) => r.left > 3500 && r.left <= 3600), 'expires when Redis would have');
});

t.test('the PostgreSQL ledger then answers as the Redis one did, and goes on from there', async (t) => {
  const pgLedger = new PgLedger(pool, payload);
  for (let n = 0; n < 5; n++) {
    const inRedis = await ledger.get(`id-${n}`);
    // the 0.4 record's payload was read from clear text in Redis: the same record, now sealed
    t.same(await pgLedger.get(`id-${n}`), inRedis, `id-${n} as GET /v1/records/{id} shows it`);
  }
  for (const u of UPSTREAMS) {
    // a state with no records left is counted 0 in Redis and not listed after the recount: the same to the status API
    const sorted = <T>(list: T[]) => [...list].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const nonZero = (c: Awaited<ReturnType<typeof ledger.counts>>) => ({
      states: sorted(c.states.filter((s) => s.records !== 0)),
      lastSynced: sorted(c.lastSynced),
      latency: sorted(c.latency),
      days: c.days.map(sorted),
    });
    t.same(nonZero(await pgLedger.counts(u, ['2025-11-06'])), nonZero(await ledger.counts(u, ['2025-11-06'])), `the status API's counts at ${u}`);
    t.same(await pgLedger.backlog(u), await ledger.backlog(u), `the backlog at ${u}`);
    t.same(await pgLedger.queueRanks(u, ['id-2', 'id-3', 'id-4']), await ledger.queueRanks(u, ['id-2', 'id-3', 'id-4']), `fairness ranks at ${u}`);
  }
  const filter = { upstreams: UPSTREAMS, limit: 50, offset: 0 };
  t.same(await pgLedger.failures(filter, () => true, true), await ledger.failures(filter, () => true, true), 'the failures list');
  t.match(await pgLedger.beginDelivery('id-0', 'satusehat', 1), { kind: 'settled', state: 'synced' }, 'a synced record is not sent again');
  t.match(await pgLedger.beginDelivery('id-3', 'satusehat', 1), { kind: 'go' }, 'a queued one goes');
  t.match(await pgLedger.beginDelivery('id-2', 'satusehat', 1), { kind: 'go' }, 'the replayed one goes');
});

t.test('run again: nothing changes, nothing is due twice', async (t) => {
  const before = await one<{ n: string }>('SELECT count(*) AS n FROM outbox');
  const report = await importRedisLedger({ redis, keys, payload, pool });
  t.match(report, { records: 5, imported: 0, skipped: 5, countsImported: false });
  t.equal((await one<{ n: string }>('SELECT count(*) AS n FROM outbox')).n, before.n);
  const day = await one<{ records: string }>(`SELECT records FROM daily_counts WHERE upstream = 'satusehat' AND day = '2025-11-06' AND event = 'accepted'`);
  t.equal(Number(day.records), 5, 'the day counts are not added twice');
});
