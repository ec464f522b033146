import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig } from '../../src/config/load.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import { reportingDay } from '../../src/sync/aggregates.js';
import type { Ledger, NewRecord } from '../../src/sync/ledger.js';
import { ensurePartitions, migrate } from '../../src/sync/pg/migrate.js';
import { rollUpCounts } from '../../src/sync/pg/pg-counts.js';
import { PgLedger } from '../../src/sync/pg/pg-ledger.js';
import { PayloadCipher } from '../../src/sync/payload-cipher.js';
import { StoredPayload } from '../../src/sync/stored-payload.js';
import { RedisLedger } from '../../src/sync/store/redis-ledger.js';
import type { UpstreamStatus } from '../../src/sync/states.js';
import { validAnthropometry, withChanges, type RecordLike } from '../fixtures/records.js';
import { pgCounts, sortCounts } from '../helpers/pg-counts.js';
import { ledgerServer, migratedPool } from '../helpers/ledger-database.js';
import { startRedis } from '../helpers/redis-server.js';
import { testKeys, testPayload } from '../helpers/store.js';

// The PostgreSQL ledger (issue 15) on a real PostgreSQL: what accept answers and keeps, two copies
// accepted at once on two connections, a person's order, the outbox, fairness, the counts (the same
// as the Redis ledger's for the same moves), a committed accept through a SIGKILL of the server,
// and no name or NIK in clear in any table.

const pgServer = await ledgerServer();
const redisServer = await startRedis({ appendonly: false });
const redis = new Redis(redisServer.url);
const pools: pg.Pool[] = [];
t.teardown(async () => {
  await Promise.all(pools.map((p) => p.end()));
  redis.disconnect();
  await redisServer.stop();
});

const { facilities } = loadConfig({});
const U = 'satusehat';
const U2 = 'mirror';
const clock = Date.parse('2025-11-06T02:00:00Z');
const NIK = '3201015503230004';
const NAME = 'Siti Aminah';

async function freshLedger(max = 8): Promise<{ pool: pg.Pool; ledger: PgLedger }> {
  const pool = await migratedPool({ max, partitionsFrom: new Date(clock) });
  return { pool, ledger: new PgLedger(pool, testPayload()) };
}

interface Fixture {
  recordId: string;
  weightKg?: number;
  at?: number;
  subject?: string;
  posyandu?: string;
  puskesmas?: string;
  upstreams?: string[];
  id?: string;
}

function record(f: Fixture): NewRecord {
  const at = f.at ?? clock;
  const weightKg = f.weightKg ?? 9.8;
  const r = prepareRecord(withChanges({ recordId: f.recordId, weightKg }, validAnthropometry as unknown as RecordLike), 'app', facilities, new Date(at), undefined);
  if (!r.ok) throw new Error('fixture does not prepare');
  return {
    id: f.id ?? `rec-${f.recordId}-${at}`,
    source: 'app',
    record: r.prepared.record,
    contentHash: `hash-${weightKg}`,
    bundle: r.prepared.bundle,
    indicators: { weightForAge: { z: -1.2 } },
    warnings: [{ key: 'growth.no-reference', severity: 'warning', path: 'weightKg' }],
    subject: f.subject ?? `subject-${f.recordId}`,
    posyandu: f.posyandu ?? '3201010001-01',
    puskesmas: f.puskesmas ?? 'P3201010101',
    regency: '3201',
    receivedAt: new Date(at),
    upstreams: f.upstreams ?? [U],
  };
}

const iso = (ms: number) => new Date(ms).toISOString();
const count = async (pool: pg.Pool, sql: string, params: unknown[] = []) => Number((await pool.query<{ n: string }>(sql, params)).rows[0]?.n);

/** A push as the worker does it: begin, sending, then the end given. */
async function push(t: Test, ledger: Ledger, id: string, version: number, at: number, end: Partial<UpstreamStatus> & { state: UpstreamStatus['state'] }, settle = true): Promise<void> {
  const begun = await ledger.beginDelivery(id, U, version, at);
  if (begun.kind !== 'go') throw new Error(`version ${version} of ${id} did not start: ${begun.kind}`);
  const base = { ...begun.status, version, attempts: begun.status.attempts + 1, updatedAt: iso(at) };
  t.ok(await ledger.setState(id, U, { ...base, state: 'sending', sendingUntil: at + 30_000 }, at));
  t.ok(await ledger.setState(id, U, { ...base, ...end, updatedAt: iso(at + 1000) }, at + 1000, settle ? begun.subject : undefined));
}

t.test('accept: created, duplicate, new version, place changed; and what get() shows', async (t) => {
  const { pool, ledger } = await freshLedger();
  const first = record({ recordId: 'A' });
  const created = await ledger.accept(first);
  t.same(created, { id: first.id, outcome: 'created', version: 1 });
  const shown = await ledger.get(first.id);
  t.match(shown, {
    id: first.id,
    source: 'app',
    recordId: 'A',
    kind: first.record.kind,
    posyandu: '3201010001-01',
    puskesmas: 'P3201010101',
    regency: '3201',
    version: 1,
    receivedAt: iso(clock),
    updatedAt: iso(clock),
    indicators: { weightForAge: { z: -1.2 } },
    warnings: [{ key: 'growth.no-reference' }],
    people: { names: [NAME], niks: [NIK] },
    upstreams: { [U]: { state: 'queued', version: 1, attempts: 0, updatedAt: iso(clock) } },
  });
  t.notOk(shown?.payloadUnreadable);

  t.same(await ledger.accept({ ...record({ recordId: 'A', at: clock + 5000 }), id: 'another-id' }), { id: first.id, outcome: 'duplicate', version: 1 }, 'the same content again');
  t.equal(await count(pool, 'SELECT count(*) AS n FROM record_versions'), 1, 'a duplicate writes no version');
  t.equal(await count(pool, 'SELECT count(*) AS n FROM outbox'), 1, 'nor a delivery');

  const later = clock + 60_000;
  const second = await ledger.accept({ ...record({ recordId: 'A', weightKg: 10.2, at: later }), id: 'yet-another-id' });
  t.same(second, { id: first.id, outcome: 'new-version', version: 2 });
  const v2 = await ledger.get(first.id);
  t.equal(v2?.receivedAt, iso(clock), 'a new version keeps the time the record was first received');
  t.equal(v2?.updatedAt, iso(later), 'and says when it was corrected');
  t.equal(v2?.version, 2);
  t.match(v2?.upstreams[U], { state: 'queued', version: 2 });
  t.equal(await count(pool, 'SELECT count(*) AS n FROM records'), 1);
  t.equal(await count(pool, 'SELECT count(*) AS n FROM record_versions'), 2);
  t.equal(await count(pool, 'SELECT count(*) AS n FROM upstream_states'), 1);

  const before = await tableSizes(pool);
  const moved = await ledger.accept({ ...record({ recordId: 'A', weightKg: 11, posyandu: '3201010001-02', at: later + 1000 }), id: 'moved-id' });
  t.same(moved, { id: first.id, outcome: 'place-changed', version: 2, storedPosyandu: '3201010001-01' });
  t.same(await tableSizes(pool), before, 'a copy for another posyandu writes nothing');
  t.equal((await ledger.get(first.id))?.version, 2);

  t.equal(await ledger.get('no-such-record'), undefined);
  t.equal(await ledger.stateAt('no-such-record', U), undefined);
  t.equal(await ledger.stateAt(first.id, 'no-such-upstream'), undefined);
  t.same(await ledger.stateAt(first.id, U), { status: (await ledger.get(first.id))!.upstreams[U], subject: 'subject-A' });
  t.same(await ledger.beginDelivery('no-such-record', U, 1, clock), { kind: 'missing' });
  await ledger.ping();
});

t.test('two copies accepted at once on separate connections: one record, one created', async (t) => {
  const { pool, ledger } = await freshLedger(10);
  // the same content from 8 connections at once: one created, the others duplicates
  const same = await Promise.all(Array.from({ length: 8 }, (_, i) => ledger.accept({ ...record({ recordId: 'SAME' }), id: `same-${i}` })));
  t.equal(same.filter((r) => r.outcome === 'created').length, 1, 'one created');
  t.equal(same.filter((r) => r.outcome === 'duplicate').length, 7, 'the others duplicates');
  t.equal(new Set(same.map((r) => r.id)).size, 1, 'all name the one record');
  // changed content from 6 connections at once: one created, then each a version of its own
  const changed = await Promise.all(Array.from({ length: 6 }, (_, i) => ledger.accept({ ...record({ recordId: 'CHANGED', weightKg: 9 + i / 10 }), id: `changed-${i}` })));
  t.equal(changed.filter((r) => r.outcome === 'created').length, 1);
  t.equal(changed.filter((r) => r.outcome === 'new-version').length, 5);
  t.same(changed.map((r) => r.version).sort(), [1, 2, 3, 4, 5, 6], 'versions 1 to 6, none twice');
  t.equal(new Set(changed.map((r) => r.id)).size, 1);
  t.equal(await count(pool, 'SELECT count(*) AS n FROM record_keys'), 2);
  t.equal(await count(pool, 'SELECT count(*) AS n FROM records'), 2);
  t.equal(await count(pool, 'SELECT count(*) AS n FROM outbox'), 7, 'a delivery for each version accepted');
  await rollUpCounts(pool, true);
  const states = await pool.query<{ state: string; records: string }>(`SELECT state, records FROM status_counts WHERE upstream = $1 AND records <> 0`, [U]);
  t.same(states.rows, [{ state: 'queued', records: '2' }], 'two records queued, counted once each');
});

t.test("a person's records go one at a time in the order accepted", async (t) => {
  const { ledger } = await freshLedger();
  const x = await ledger.accept(record({ recordId: 'X', subject: 'person-1' }));
  const y = await ledger.accept(record({ recordId: 'Y', subject: 'person-1', at: clock + 1000 }));
  const other = await ledger.accept(record({ recordId: 'Z', subject: 'person-2', at: clock + 2000 }));
  t.same(await ledger.beginDelivery(y.id, U, 1, clock), { kind: 'wait' }, 'the later record waits for the earlier one');
  t.equal((await ledger.beginDelivery(other.id, U, 1, clock)).kind, 'go', "another person's record does not wait");
  await push(t, ledger, x.id, 1, clock + 3000, { state: 'retrying' }, false);
  t.same(await ledger.beginDelivery(y.id, U, 1, clock + 5000), { kind: 'wait' }, 'a retry still holds the person');
  await push(t, ledger, x.id, 1, clock + 6000, { state: 'synced', syncedAt: iso(clock + 7000) });
  t.equal((await ledger.beginDelivery(y.id, U, 1, clock + 8000)).kind, 'go', 'settled: the next one goes');
  // a correction of the settled record goes after the person's records accepted meanwhile
  await ledger.accept(record({ recordId: 'X', subject: 'person-1', weightKg: 10.5, at: clock + 9000 }));
  t.same(await ledger.beginDelivery(x.id, U, 2, clock + 9000), { kind: 'wait' }, 'the correction waits behind Y');
  // Y waits for the person's identity: not worth holding the others for
  await push(t, ledger, y.id, 1, clock + 10_000, { state: 'waiting-identity' });
  t.equal((await ledger.beginDelivery(x.id, U, 2, clock + 12_000)).kind, 'go');
  t.same(await ledger.beginDelivery(y.id, U, 1, clock + 12_000), { kind: 'wait' }, 'the waiting one now waits its turn');
  t.same(await ledger.beginDelivery(x.id, U, 1, clock + 12_000), { kind: 'superseded' }, 'a job of the older version ends');
  await push(t, ledger, x.id, 2, clock + 13_000, { state: 'failed' });
  t.same(await ledger.beginDelivery(x.id, U, 2, clock + 14_000), { kind: 'settled', state: 'failed' });
  t.equal((await ledger.beginDelivery(y.id, U, 1, clock + 14_000)).kind, 'go');
});

t.test("one person's records accepted at once: one goes first, the others wait their turn", async (t) => {
  const { ledger } = await freshLedger(10);
  const accepted = await Promise.all(Array.from({ length: 6 }, (_, i) => ledger.accept(record({ recordId: `P${i}`, subject: 'person-9', at: clock + i }))));
  const starts = await Promise.all(accepted.map((a) => ledger.beginDelivery(a.id, U, 1, clock + 100)));
  t.equal(starts.filter((s) => s.kind === 'go').length, 1, 'one at a time');
  t.equal(starts.filter((s) => s.kind === 'wait').length, 5);
  const first = accepted[starts.findIndex((s) => s.kind === 'go')]!;
  await push(t, ledger, first.id, 1, clock + 200, { state: 'synced' });
  const next = await Promise.all(accepted.map((a) => ledger.beginDelivery(a.id, U, 1, clock + 300)));
  t.same(next.map((s) => s.kind).sort(), ['go', 'settled', 'wait', 'wait', 'wait', 'wait'], 'then the next one');
});

t.test('many transactions at one place at once: none deadlocks, and the counts add up', async (t) => {
  const { pool, ledger } = await freshLedger(12);
  const ids = (await Promise.all(Array.from({ length: 12 }, (_, i) => ledger.accept(record({ recordId: `M${i}`, upstreams: [U, U2], at: clock + i }))))).map((a) => a.id);
  // pushes, corrections and replays of the same place's records, interleaved on 12 connections
  await Promise.all(
    ids.map(async (id, i) => {
      await push(t, ledger, id, 1, clock + 1000, { state: i % 3 === 0 ? 'failed' : 'synced' });
      if (i % 3 === 0) t.ok(await ledger.requeue(id, U, clock + 2000));
      else await ledger.accept(record({ recordId: `M${i}`, upstreams: [U2, U], weightKg: 12, at: clock + 3000 }));
    }),
  );
  await rollUpCounts(pool, true);
  const states = await pool.query<{ upstream: string; state: string; n: string }>('SELECT upstream, state, sum(records) AS n FROM status_counts GROUP BY 1, 2 HAVING sum(records) <> 0 ORDER BY 1, 2');
  t.same(states.rows, [
    { upstream: U2, state: 'queued', n: '12' },
    { upstream: U, state: 'queued', n: '12' },
  ], 'every record counted once, in the state it is in');
  const real = await pool.query<{ upstream: string; state: string; n: string }>('SELECT upstream, state::text, count(*) AS n FROM upstream_states GROUP BY 1, 2 ORDER BY 1, 2');
  t.same(real.rows, states.rows, 'as the states say');
  t.equal(await count(pool, `SELECT sum(records) AS n FROM daily_counts WHERE event = 'accepted'`), 12 * 2 + 8 * 2);
});

t.test('a payload sealed with a key this process does not have: unreadable, and said so', async (t) => {
  const { pool, ledger } = await freshLedger();
  const r = await ledger.accept(record({ recordId: 'K' }));
  const stranger = new PgLedger(pool, new StoredPayload(new PayloadCipher({ current: 'other', keys: { other: 'cd'.repeat(32) } })));
  const begun = await stranger.beginDelivery(r.id, U, 1, clock);
  t.match(begun, { kind: 'unreadable', error: { keyId: 'test', reason: 'key-missing' }, status: { state: 'queued' } });
  const shown = await stranger.get(r.id);
  t.match(shown, { payloadUnreadable: { keyId: 'test', reason: 'key-missing' }, people: { names: [], niks: [] }, version: 1 });
});

t.test('superseded: an older version neither starts nor overwrites', async (t) => {
  const { ledger } = await freshLedger();
  const a = await ledger.accept(record({ recordId: 'S' }));
  await ledger.accept(record({ recordId: 'S', weightKg: 10.1, at: clock + 1000 }));
  t.same(await ledger.beginDelivery(a.id, U, 1, clock + 2000), { kind: 'superseded' });
  t.equal(await ledger.setState(a.id, U, { state: 'failed', version: 1, attempts: 1, updatedAt: iso(clock + 2000) }), false);
  t.match((await ledger.stateAt(a.id, U))?.status, { state: 'queued', version: 2 });
  t.equal(await ledger.setState('no-such-record', U, { state: 'failed', version: 1, attempts: 1, updatedAt: iso(clock) }), false);
});

t.test('replay: back to queued at one upstream, with a delivery of its own', async (t) => {
  const { pool, ledger } = await freshLedger();
  const r = await ledger.accept(record({ recordId: 'R', upstreams: [U, U2] }));
  t.equal(await ledger.requeue(r.id, U, clock), false, 'a queued record is on its way already');
  await push(t, ledger, r.id, 1, clock + 1000, {
    state: 'failed',
    lastError: { code: 'upstream.http-422', message: `patient ${NAME} (${NIK}) rejected`, httpStatus: 422, at: iso(clock + 2000) },
    outcome: { resourceType: 'OperationOutcome', issue: [{ diagnostics: `NIK ${NIK} invalid` }] },
  });
  await ledger.deliveriesQueued(await ledger.pendingDeliveries(10));
  t.ok(await ledger.requeue(r.id, U, clock + 3000));
  const st = (await ledger.stateAt(r.id, U))!.status;
  t.match(st, { state: 'queued', attempts: 0, replays: 1, version: 1, updatedAt: iso(clock + 3000), lastError: { code: 'upstream.http-422', message: `patient ${NAME} (${NIK}) rejected` } });
  t.match((await ledger.stateAt(r.id, U2))?.status, { state: 'queued', replays: undefined }, 'the other upstream is untouched');
  t.same(await ledger.pendingDeliveries(10), [{ recordId: r.id, version: 1, replay: { upstream: U, count: 1 } }]);
  t.equal(await ledger.requeue(r.id, U, clock + 4000), false, 'queued again: nothing to replay');
  const counts = await pgCounts(pool, U, [reportingDay(clock)]);
  t.same(counts.states.filter((s) => s.records !== 0).map((s) => [s.state, s.records]), [['queued', 1]]);
  t.same(counts.days[0]!.map((d) => [d.event, d.records]).sort(), [['accepted', 1], ['failed', 1]]);
  t.equal(await count(pool, `SELECT count(*) AS n FROM delivery_attempts WHERE result = 'failed' AND error_code = 'upstream.http-422' AND http_status = 422`), 1, 'the push is in the attempts');
  await pool.query('DELETE FROM record_payloads');
  t.ok(await ledger.setState(r.id, U, { ...st, state: 'failed', attempts: 1, updatedAt: iso(clock + 5000) }));
  t.equal(await ledger.requeue(r.id, U, clock + 6000), false, 'nothing to send again once the payload is gone');
  t.equal(await ledger.requeue('no-such-record', U, clock), false);
});

t.test('every push that ends is in delivery_attempts, and what a synced one wrote in upstream_resources', async (t) => {
  const { pool, ledger } = await freshLedger();
  const r = await ledger.accept(record({ recordId: 'D' }));
  const busy = { code: 'upstream.http-503', message: `sorry ${NAME}`, httpStatus: 503, at: iso(clock + 2000) };
  await push(t, ledger, r.id, 1, clock + 1000, { state: 'retrying', lastError: busy }, false);
  await push(t, ledger, r.id, 1, clock + 10_000, { state: 'synced', resources: [{ fullUrl: 'urn:uuid:e', resourceType: 'Encounter', id: 'enc-9', status: '201 Created' }] });
  const attempts = await pool.query('SELECT version, attempt, started_at, ended_at, result::text, error_code, error_message, http_status FROM delivery_attempts ORDER BY attempt');
  t.same(attempts.rows, [
    { version: 1, attempt: 1, started_at: new Date(clock + 1000), ended_at: new Date(clock + 2000), result: 'retrying', error_code: 'upstream.http-503', error_message: null, http_status: 503 },
    { version: 1, attempt: 2, started_at: new Date(clock + 10_000), ended_at: new Date(clock + 11_000), result: 'synced', error_code: null, error_message: null, http_status: null },
  ], "from the push's start to its end; the upstream's words are not copied out of the sealed state");
  const resources = await pool.query('SELECT upstream, version, full_url, resource_type, resource_id, status, retracted FROM upstream_resources');
  t.same(resources.rows, [{ upstream: U, version: 1, full_url: 'urn:uuid:e', resource_type: 'Encounter', resource_id: 'enc-9', status: '201 Created', retracted: false }]);
  const st = await pool.query('SELECT state::text, attempts, last_error_code, last_error, synced_at, outcome FROM upstream_states');
  t.match(st.rows, [{ state: 'synced', attempts: 2, last_error_code: 'upstream.http-503', last_error: { code: 'upstream.http-503', httpStatus: 503 }, outcome: null }], 'the query columns follow the state');
  t.notOk(JSON.stringify(st.rows).includes(NAME));
});

t.test('the outbox: due deliveries oldest first, and exactly those taken leave it', async (t) => {
  const { ledger } = await freshLedger();
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push((await ledger.accept(record({ recordId: `O${i}`, at: clock + i }))).id);
  const due = await ledger.pendingDeliveries(3);
  t.same(due, ids.slice(0, 3).map((recordId) => ({ recordId, version: 1 })));
  t.same(await ledger.pendingDeliveries(3), due, 'still due until queued');
  // accepted meanwhile: stays due
  const late = await ledger.accept(record({ recordId: 'O9', at: clock + 10 }));
  await ledger.deliveriesQueued(due);
  t.same(await ledger.pendingDeliveries(10), [{ recordId: ids[3], version: 1 }, { recordId: late.id, version: 1 }]);
  await ledger.deliveriesQueued([]);
  t.equal((await ledger.pendingDeliveries(10)).length, 2);
  // deliveries this object did not hand out: the first ones, as the Redis inbox is trimmed
  await ledger.deliveriesQueued([{ recordId: ids[3]!, version: 1 }]);
  t.same(await ledger.pendingDeliveries(10), [{ recordId: late.id, version: 1 }]);
});

t.test("fairness: a record's rank in its own puskesmas' queue", async (t) => {
  const { ledger } = await freshLedger();
  const p1 = [];
  for (let i = 0; i < 3; i++) p1.push((await ledger.accept(record({ recordId: `F${i}`, at: clock + i * 1000 }))).id);
  const p2 = (await ledger.accept(record({ recordId: 'G0', at: clock + 5000, puskesmas: 'P3201010102', posyandu: '3201010002-01' }))).id;
  t.same(await ledger.queueRanks(U, [...p1, p2]), [1, 2, 3, 1]);
  await push(t, ledger, p1[0]!, 1, clock + 6000, { state: 'synced' });
  t.same(await ledger.queueRanks(U, [p1[2]!, p1[1]!, p1[0]!, 'no-such-record']), [2, 1, 1, 1], 'a settled record leaves the queue');
  t.same(await ledger.queueRanks(U, []), []);
});

t.test('the counts move as the Redis ledger moves its own, for the same records and pushes', async (t) => {
  const { pool, ledger: pgLedger } = await freshLedger();
  const redisLedger = new RedisLedger(redis, testKeys('pg-ledger-counts'), testPayload());
  const days = [reportingDay(clock), reportingDay(clock + 86_400_000)];
  const gets: Array<[unknown, unknown]> = [];
  for (const ledger of [redisLedger, pgLedger] as Ledger[]) {
    const a = await ledger.accept(record({ recordId: 'K1', upstreams: [U, U2] }));
    const b = await ledger.accept(record({ recordId: 'K2', upstreams: [U], posyandu: '3201010001-02', at: clock + 1000 }));
    const c = await ledger.accept(record({ recordId: 'K3', upstreams: [U], at: clock + 2000 }));
    await push(t, ledger, a.id, 1, clock + 40_000, { state: 'synced', resources: [{ fullUrl: 'urn:uuid:e', resourceType: 'Encounter', id: 'enc-1', status: '201 Created' }] });
    await push(t, ledger, b.id, 1, clock + 86_400_000, { state: 'synced' });
    await push(t, ledger, c.id, 1, clock + 3000, { state: 'failed', lastError: { code: 'upstream.http-422', message: 'no', at: iso(clock + 4000) } });
    await ledger.requeue(c.id, U, clock + 5000);
    await ledger.accept(record({ recordId: 'K1', upstreams: [U, U2], weightKg: 10.5, at: clock + 100_000 }));
    await push(t, ledger, a.id, 2, clock + 200_000, { state: 'waiting-identity' });
    gets.push([await ledger.get(a.id), await ledger.get(c.id)]);
  }
  const fromRedis = await redisLedger.counts(U, days);
  const fromPg = await pgCounts(pool, U, days);
  t.same(sortCounts(fromPg), sortCounts(fromRedis), 'the same counts at one upstream');
  t.same(sortCounts(await pgCounts(pool, U2, days)), sortCounts(await redisLedger.counts(U2, days)), 'and at the other');
  t.same(gets[1], gets[0], 'and get() shows the same records');
  t.equal(await count(pool, 'SELECT unsettled AS n FROM records WHERE source_record_id = $1', ['K2']), 0, 'K2 synced everywhere');
  t.ok((await pool.query(`SELECT settled_at FROM records WHERE source_record_id = 'K2'`)).rows[0]?.settled_at, 'and when is written down');
  t.equal(await count(pool, 'SELECT unsettled AS n FROM records WHERE source_record_id = $1', ['K1']), 2, 'a new version is unsettled again');
  t.equal(await count(pool, 'SELECT count(*) AS n FROM upstream_resources'), 1);
});

t.test('a committed accept survives a SIGKILL of the server', async (t) => {
  const url = await pgServer.createDatabase();
  const before = new pg.Pool({ connectionString: url, max: 2 });
  before.on('error', () => {});
  await migrate(before);
  await ensurePartitions(before, 1, new Date(clock));
  await before.query('CHECKPOINT');
  const first = new PgLedger(before, testPayload());
  const accepted = await first.accept(record({ recordId: 'CRASH' }));
  await pgServer.kill();
  await t.rejects(first.accept(record({ recordId: 'CRASH-2' })), 'while the server is down: an error, at once');
  await pgServer.restart();
  t.match(await first.accept(record({ recordId: 'CRASH-3' })), { outcome: 'created' }, 'the same pool goes on once it is back');
  await before.end().catch(() => {});
  const after = new pg.Pool({ connectionString: url, max: 2 });
  pools.push(after);
  const ledger = new PgLedger(after, testPayload());
  t.match(await ledger.get(accepted.id), { version: 1, recordId: 'CRASH', upstreams: { [U]: { state: 'queued' } } });
  t.same((await ledger.pendingDeliveries(10)).map((d) => d.recordId), [accepted.id, `rec-CRASH-3-${clock}`], 'its delivery is still due, and nothing of the refused one');
  t.equal(await ledger.get(`rec-CRASH-2-${clock}`), undefined);
});

t.test('PostgreSQL unreachable: accept fails at once, nothing retried', async (t) => {
  const port = pgServer.port;
  const pool = new pg.Pool({ connectionString: `postgres://nobody:x@127.0.0.1:${port + 1}/nothing`, connectionTimeoutMillis: 2000 });
  pools.push(pool);
  const started = Date.now();
  await t.rejects(new PgLedger(pool, testPayload()).accept(record({ recordId: 'DOWN' })));
  t.ok(Date.now() - started < 1500, `failed in ${Date.now() - started} ms`);
  await t.rejects(new PgLedger(pool, testPayload()).ping());
});

t.test('no name or NIK in clear in any table', async (t) => {
  const { pool, ledger } = await freshLedger();
  const r = await ledger.accept(record({ recordId: 'SEALED', upstreams: [U, U2] }));
  await push(t, ledger, r.id, 1, clock + 1000, {
    state: 'failed',
    lastError: { code: 'upstream.http-422', message: `patient ${NAME} (${NIK}) rejected`, httpStatus: 422, at: iso(clock + 2000) },
    outcome: { resourceType: 'OperationOutcome', issue: [{ diagnostics: `NIK ${NIK} of ${NAME} invalid` }] },
  });
  await ledger.requeue(r.id, U, clock + 3000);
  t.match(await ledger.get(r.id), { people: { names: [NAME], niks: [NIK] }, upstreams: { [U]: { lastError: { message: `patient ${NAME} (${NIK}) rejected` } } } }, 'the ledger reads them back');
  const tables = await pool.query<{ relname: string }>(
    `SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') AND NOT relispartition`,
  );
  t.ok(tables.rows.length >= 14);
  const words = [NIK, NAME, 'Dewi Lestari', '3201014507950002'];
  // bytea columns read as hex: decoded, so a payload stored unsealed would be found too
  const found = (row: string) => {
    const decoded = row.replace(/\\x([0-9a-f]+)/g, (_, hex: string) => Buffer.from(hex, 'hex').toString('latin1'));
    return words.filter((w) => decoded.includes(w));
  };
  const control = await pool.query<{ row: string }>(`SELECT ROW('x', $1::bytea, $2::jsonb)::text AS row`, [Buffer.from(`{"name":"${NAME}"}`), JSON.stringify({ nik: NIK })]);
  t.same(found(control.rows[0]!.row), [NIK, NAME], 'the scan finds them in a bytea and a jsonb');
  let rows = 0;
  for (const { relname } of tables.rows) {
    const all = await pool.query<{ row: string }>(`SELECT t::text AS row FROM ${pg.escapeIdentifier(relname)} t`);
    rows += all.rows.length;
    t.same(all.rows.flatMap(({ row }) => found(row)), [], `${relname}: no name or NIK in ${all.rows.length} rows`);
  }
  t.ok(rows > 10, `${rows} rows looked at`);
});

async function tableSizes(pool: pg.Pool): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  await rollUpCounts(pool, true);
  for (const table of ['record_keys', 'records', 'record_versions', 'record_payloads', 'upstream_states', 'outbox', 'status_counts', 'daily_counts']) {
    out[table] = await count(pool, `SELECT count(*) AS n FROM ${table}`);
  }
  out.sum = await count(pool, 'SELECT coalesce(sum(records), 0) AS n FROM status_counts');
  return out;
}
