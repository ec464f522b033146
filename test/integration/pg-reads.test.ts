import t from 'tap';
import pg from 'pg';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import type { Place } from '../../src/config/scope.js';
import type { CanonicalRecord } from '../../src/records/schemas/index.js';
import { reportingDay } from '../../src/sync/aggregates.js';
import type { UpstreamCounts } from '../../src/sync/ledger.js';
import { PayloadCipher } from '../../src/sync/payload-cipher.js';
import { PgReads } from '../../src/sync/pg/pg-reads.js';
import { firstMonthKept, RetentionSweeper } from '../../src/sync/retention.js';
import type { FailureFilter, PosyanduQuery, ProblemFilter } from '../../src/sync/record-search.js';
import type { UpstreamStatus } from '../../src/sync/states.js';
import { StoredPayload } from '../../src/sync/stored-payload.js';
import { RedisLedger } from '../../src/sync/store/redis-ledger.js';
import { SEALED_WORDS_PROPERTY } from '../../src/sync/store/keys.js';
import { rollUpCounts } from '../../src/sync/pg/pg-counts.js';
import { insertRecord, type RowRecord } from '../helpers/pg-rows.js';
import { ledgerServer, migratedPool } from '../helpers/ledger-database.js';
import { startRedis } from '../helpers/redis-server.js';
import { testKeys, testPayload } from '../helpers/store.js';

// The PostgreSQL ledger's reads (pg-reads.ts) against a real PostgreSQL: the lists, counts and
// retention over rows written as the ledger writes them (helpers/pg-rows.ts). Where it is cheap,
// the same records go into a Redis ledger too, and both must answer the same.

const pgServer = await ledgerServer();
const redisServer = await startRedis({ appendonly: false });
const redis = new Redis(redisServer.url);
t.teardown(async () => {
  redis.disconnect();
  await redisServer.stop();
});

const payload = testPayload();
/** a key this process does not have: what it sealed is unreadable here */
const otherPayload = new StoredPayload(new PayloadCipher({ current: 'gone', keys: { gone: 'cd'.repeat(32) } }));

let icuDatabases = 0;
async function freshPool(collation?: 'icu'): Promise<pg.Pool> {
  let url: string | undefined;
  if (collation) {
    // a database whose text sorts by a language's rules, as a server made without --no-locale does
    const name = `icu_${++icuDatabases}`;
    const admin = new pg.Client({ connectionString: pgServer.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`);
    await admin.end();
    const u = new URL(pgServer.url);
    u.pathname = `/${name}`;
    url = u.toString();
  }
  // the months of these tests (records of January to March 2026), whatever today is
  return migratedPool({ ...(url ? { url } : {}), partitionsFrom: new Date('2026-01-01T00:00:00Z'), months: 3 });
}

const U = 'up';
const O = 'other';
const A1: Place = { regency: '3201', puskesmas: 'P3201010101', posyandu: '3201010001-01' };
const A2: Place = { regency: '3201', puskesmas: 'P3201010101', posyandu: '3201010001-02' };
const B1: Place = { regency: '3202', puskesmas: 'P3202020202', posyandu: '3202020001-01' };
const T0 = Date.parse('2026-03-10T02:00:00Z');
const MIN = 60_000;
const PERSON = { name: 'Kirana Puspitasari', nik: '3201015503230004', birthDate: '2024-01-05' };
const all = () => true;

const at = (ms: number) => new Date(ms).toISOString();
const status = (over: Partial<UpstreamStatus>): UpstreamStatus => ({ state: 'queued', version: 1, attempts: 0, updatedAt: at(T0), ...over });
const error = (code: string, message: string, when: number) => ({ code, message, at: at(when) });
const failed = (code: string, when: number, over: Partial<UpstreamStatus> = {}) =>
  status({ state: 'failed', attempts: 3, lastError: error(code, `Pasien ${PERSON.name} (${PERSON.nik}) ditolak: ${code}`, when), updatedAt: at(when), ...over });
const synced = (when: number) => status({ state: 'synced', attempts: 1, syncedAt: at(when), updatedAt: at(when), resources: [] });

function row(id: string, place: Place, minutes: number, states: Record<string, UpstreamStatus>, over: Partial<RowRecord> = {}): RowRecord {
  const kind = over.kind ?? 'anthropometry';
  return { id, kind, place, receivedAt: new Date(T0 + minutes * MIN), record: { kind, recordId: `R-${id}`, subject: PERSON }, states, ...over };
}

/** The record in PostgreSQL (as pg-rows writes it) and in a Redis ledger (accept, then each state set at its time). */
async function both(pool: pg.Pool, ledger: { redis: RedisLedger; writer?: RedisLedger }, r: RowRecord, sealWith = payload): Promise<void> {
  await insertRecord(pool, sealWith, r);
  const w = ledger.writer ?? ledger.redis;
  await w.accept({
    id: r.id,
    source: r.source ?? 'app',
    record: r.record as CanonicalRecord,
    contentHash: `hash-${r.id}`,
    bundle: { resourceType: 'Bundle', type: 'transaction', entry: [] },
    indicators: {},
    warnings: [],
    subject: r.subject ?? '',
    ...r.place,
    receivedAt: r.receivedAt,
    upstreams: Object.keys(r.states),
  });
  for (const [u, s] of Object.entries(r.states)) await w.setState(r.id, u, s, Date.parse(s.syncedAt ?? s.updatedAt));
}

// One data set for the list and count tests: failures of each kind at two upstreams and places.
const pool = await freshPool();
const keys = testKeys('pg-reads');
const redisLedger = new RedisLedger(redis, keys, payload);
const redisWriterOther = new RedisLedger(redis, keys, otherPayload);
const reads = new PgReads(pool, payload);
const outcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: `${PERSON.name} tidak valid` }] };
const rows: Array<[RowRecord, StoredPayload?]> = [
  [row('f1', A1, 1, { [U]: failed('upstream.http-422', T0 + 10 * MIN, { outcome }), [O]: synced(T0 + 3 * MIN) })],
  [row('f2', A1, 2, { [U]: status({ state: 'waiting-identity', attempts: 1, lastError: error('upstream.identity-unknown', 'pasien belum dikenal', T0 + 11 * MIN) }), [O]: status({ state: 'waiting-identity' }) })],
  [row('f3', A2, 3, { [U]: failed('delivery.attempts-exhausted', T0 + 12 * MIN) }, { kind: 'immunization' })],
  [row('f4', B1, 4, { [U]: failed('upstream.http-500', T0 + 13 * MIN) })],
  [row('f5', A1, 5, { [U]: status({ state: 'retrying', attempts: 2, lastError: error('upstream.timeout', 'lambat', T0 + 14 * MIN) }), [O]: status({}) })],
  [row('f6', A1, 6, { [U]: synced(T0 + 15 * MIN), [O]: synced(T0 + 16 * MIN) })],
  [row('f7', B1, 7, { [U]: failed('upstream.http-400', T0 + 17 * MIN), [O]: failed('upstream.http-422', T0 + 18 * MIN) })],
  [row('u1', A1, 8, { [U]: failed('upstream.http-422', T0 + 19 * MIN, { outcome }) }), otherPayload],
  [row('f9', A2, 9, { [U]: failed('upstream.http-409', T0 + 20 * MIN) })],
];
for (const [r, sealWith] of rows) await both(pool, sealWith ? { redis: redisLedger, writer: redisWriterOther } : { redis: redisLedger }, r, sealWith);

const failureFilter = (over: Partial<FailureFilter> = {}): FailureFilter => ({ upstreams: [U, O], limit: 50, offset: 0, ...over });

t.test('failures: newest first per upstream, each filter as the Redis ledger answers it', async (t) => {
  const list = await reads.failures(failureFilter(), all, false);
  t.same(list.items.map((i) => `${i.upstream}:${i.id}`), ['up:f9', 'up:u1', 'up:f7', 'up:f4', 'up:f3', 'up:f2', 'up:f1', 'other:f7', 'other:f2']);
  t.equal(list.more, false);
  const cases: Array<[string, Partial<FailureFilter>, string[]]> = [
    ['posyandu', { posyandu: A1.posyandu }, ['up:u1', 'up:f2', 'up:f1', 'other:f2']],
    ['puskesmas', { puskesmas: B1.puskesmas }, ['up:f7', 'up:f4', 'other:f7']],
    ['kind', { kind: 'immunization' }, ['up:f3']],
    ['reason category rejected', { reason: 'rejected' }, ['up:f9', 'up:u1', 'up:f7', 'up:f1', 'other:f7']],
    ['reason category gave-up', { reason: 'gave-up' }, ['up:f3']],
    ['reason category identity', { reason: 'identity' }, ['up:f2', 'other:f2']],
    ['reason category other', { reason: 'other' }, ['up:f4']],
    ['reason code', { reason: 'upstream.http-422' }, ['up:u1', 'up:f1', 'other:f7']],
    ['from and to (received)', { from: T0 + 3 * MIN, to: T0 + 7 * MIN }, ['up:f7', 'up:f4', 'up:f3', 'other:f7']],
    ['one upstream', { upstreams: [O] }, ['other:f7', 'other:f2']],
    ['no match', { posyandu: 'nowhere' }, []],
  ];
  for (const [name, over, ids] of cases) {
    const pgAnswer = await reads.failures(failureFilter(over), all, false);
    t.same(pgAnswer.items.map((i) => `${i.upstream}:${i.id}`), ids, name);
    t.same(pgAnswer, await redisLedger.failures(failureFilter(over), all, false), `${name}: as Redis`);
  }
  const inRegency = (p: Place) => p.regency === '3202';
  t.same((await reads.failures(failureFilter(), inRegency, false)).items.map((i) => i.id), ['f7', 'f4', 'f7'], 'covers: only the places the key sees');
});

t.test('failures: pages with limit, offset and more', async (t) => {
  const seen: string[] = [];
  for (let offset = 0; ; offset += 4) {
    const page = await reads.failures(failureFilter({ limit: 4, offset }), all, false);
    t.same(page, await redisLedger.failures(failureFilter({ limit: 4, offset }), all, false), `page at ${offset} as Redis`);
    seen.push(...page.items.map((i) => `${i.upstream}:${i.id}`));
    t.equal(page.more, offset + 4 < 9, `more at ${offset}`);
    if (!page.more) break;
  }
  t.equal(seen.length, 9);
  t.equal(new Set(seen).size, 9, 'every failure once over the pages');
  // a page boundary that skips filtered-out rows: offset counts matching items only
  const rejected = await reads.failures(failureFilter({ reason: 'rejected', limit: 2, offset: 2 }), all, false);
  t.same(rejected.items.map((i) => i.id), ['f7', 'f1']);
  t.equal(rejected.more, true);
});

t.test('failures: names and NIKs only with showIdentity, and a payload sealed with a missing key said so', async (t) => {
  const masked = await reads.failures(failureFilter({ posyandu: A1.posyandu }), all, false);
  const f1 = masked.items.find((i) => i.id === 'f1')!;
  t.notMatch(JSON.stringify(masked), /Kirana|Puspitasari|3201015503230004/, 'no name or NIK anywhere without identity');
  t.match(f1.lastError?.message, /\*\*\*/, 'the upstream message is there, masked');
  t.match(JSON.stringify(f1.outcome), /tidak valid/, 'the outcome is there, masked');
  t.equal(f1.subject, undefined);
  t.same(f1.reason, { category: 'rejected', code: 'upstream.http-422', detail: '*** tidak valid' });

  const shown = await reads.failures(failureFilter({ posyandu: A1.posyandu }), all, true);
  t.same(shown, await redisLedger.failures(failureFilter({ posyandu: A1.posyandu }), all, true), 'as Redis');
  const f1Shown = shown.items.find((i) => i.id === 'f1')!;
  t.same(f1Shown.subject, PERSON);
  t.match(f1Shown.lastError?.message, /Kirana Puspitasari \(3201015503230004\)/);
  t.equal(f1Shown.payloadUnreadable, undefined);

  const u1 = shown.items.find((i) => i.id === 'u1')!;
  t.same(u1.payloadUnreadable, { keyId: 'gone', reason: 'key-missing' });
  t.equal(u1.subject, undefined, 'no subject without a readable record');
  t.equal(u1.outcome, undefined, 'the upstream words are left out');
  t.notMatch(JSON.stringify(u1), /Kirana|3201015503230004/);
  t.equal(u1.lastError?.code, 'upstream.http-422', 'the code is still there');
});

t.test('problemIds: oldest first across the upstreams, with a state filter', async (t) => {
  const cases: Array<[string, ProblemFilter, string[]]> = [
    ['all', { upstreams: [U, O] }, ['up:f1', 'up:f2', 'other:f2', 'up:f3', 'up:f4', 'up:f7', 'other:f7', 'up:u1', 'up:f9']],
    ['failed at up, in A1', { upstreams: [U], state: 'failed', posyandu: A1.posyandu }, ['up:f1', 'up:u1']],
    ['waiting', { upstreams: [U, O], state: 'waiting-identity' }, ['up:f2', 'other:f2']],
    ['a state no failure is in', { upstreams: [U, O], state: 'queued' }, []],
    ['reason and time', { upstreams: [U, O], reason: 'rejected', from: T0 + 2 * MIN, to: T0 + 8 * MIN }, ['up:f7', 'other:f7', 'up:u1']],
  ];
  for (const [name, filter, ids] of cases) {
    const answer = await reads.problemIds(filter, all);
    t.same(answer.map((p) => `${p.upstream}:${p.id}`), ids, name);
    t.same(answer, await redisLedger.problemIds(filter, all), `${name}: as Redis`);
  }
  t.same(await reads.problemIds({ upstreams: [U] }, (p) => p.posyandu === A2.posyandu), [{ id: 'f3', upstream: U }, { id: 'f9', upstream: U }], 'covers');
});

t.test('byPosyandu: newest first, a state filter, pages, the upstream words masked without identity', async (t) => {
  const q = (over: Partial<PosyanduQuery>): PosyanduQuery => ({ posyandu: [A1.posyandu, A2.posyandu], limit: 50, offset: 0, showIdentity: false, ...over });
  const cases: Array<[string, Partial<PosyanduQuery>, string[], boolean]> = [
    ['two posyandu', {}, ['f9', 'u1', 'f6', 'f5', 'f3', 'f2', 'f1'], false],
    ['one', { posyandu: [A2.posyandu] }, ['f9', 'f3'], false],
    ['failed at some upstream', { state: 'failed' }, ['f9', 'u1', 'f3', 'f1'], false],
    ['queued at some upstream', { state: 'queued' }, ['f5'], false],
    ['first page', { limit: 3 }, ['f9', 'u1', 'f6'], true],
    ['second page', { limit: 3, offset: 3 }, ['f5', 'f3', 'f2'], true],
    ['last page', { limit: 3, offset: 6 }, ['f1'], false],
    ['state, paged', { state: 'failed', limit: 2, offset: 1 }, ['u1', 'f3'], true],
    ['from and to', { from: T0 + 2 * MIN, to: T0 + 6 * MIN }, ['f6', 'f5', 'f3', 'f2'], false],
    ['no posyandu', { posyandu: [] }, [], false],
    ['an empty page', { limit: 0 }, [], true],
  ];
  for (const [name, over, ids, more] of cases) {
    const answer = await reads.byPosyandu(q(over));
    t.same(answer.items.map((i) => i.id), ids, name);
    t.equal(answer.more, more, `${name}: more`);
    t.same(answer, await redisLedger.byPosyandu(q(over)), `${name}: as Redis`);
  }
  const masked = await reads.byPosyandu(q({ posyandu: [A1.posyandu] }));
  t.notMatch(JSON.stringify(masked), /Kirana|3201015503230004/);
  const f1 = masked.items.find((i) => i.id === 'f1')!;
  t.same(Object.keys(f1.upstreams).sort(), [O, U]);
  t.equal(f1.upstreams[U]?.state, 'failed');
  t.equal(f1.upstreams[U]?.attempts, 3);
  t.equal(f1.version, 1);
  t.equal(f1.receivedAt, at(T0 + MIN));
  const shown = await reads.byPosyandu(q({ posyandu: [A1.posyandu], showIdentity: true }));
  t.match(shown.items.find((i) => i.id === 'f1')!.upstreams[U]?.lastError?.message, /Kirana Puspitasari/);
  t.same(shown, await redisLedger.byPosyandu(q({ posyandu: [A1.posyandu], showIdentity: true })), 'with identity: as Redis');
});

/** Counts in a stable order, without Redis's rows left at zero. */
function sorted(c: UpstreamCounts): UpstreamCounts {
  const key = (x: { place: Place }, rest: unknown) => `${x.place.regency}|${x.place.puskesmas}|${x.place.posyandu}|${String(rest)}`;
  const by = <T extends { place: Place }>(xs: T[], rest: (x: T) => unknown) => [...xs].sort((a, b) => key(a, rest(a)).localeCompare(key(b, rest(b))));
  return {
    states: by(c.states.filter((s) => s.records !== 0), (s) => s.state),
    lastSynced: by(c.lastSynced, () => ''),
    latency: by(c.latency, (l) => l.bucket),
    days: c.days.map((d) => by(d, (e) => e.event)),
  };
}

t.test('counts, oldestUnsynced and backlog: from the count tables, as Redis keeps them', async (t) => {
  const days = [reportingDay(T0), reportingDay(T0 - 86_400_000)];
  for (const u of [U, O]) {
    const c = await reads.counts(u, days);
    t.same(sorted(c), sorted(await redisLedger.counts(u, days)), `${u}: as Redis`);
  }
  const up = await reads.counts(U, days);
  t.same(up.states.filter((s) => s.place.posyandu === A1.posyandu).map((s) => [s.state, s.records]), [['retrying', 1], ['waiting-identity', 1], ['synced', 1], ['failed', 2]], 'per state, in the enum order');
  t.same(up.lastSynced, [{ place: A1, at: at(T0 + 15 * MIN) }]);
  t.same(up.latency, [{ place: A1, bucket: 5, records: 1 }], '9 minutes: the 300-900 s bucket');
  t.same(up.days[0]!.filter((d) => d.place.posyandu === B1.posyandu), [{ place: B1, event: 'accepted', records: 2 }, { place: B1, event: 'failed', records: 2 }]);
  t.same(up.days[1], [], 'a day with nothing');
  const odd = await reads.counts(U, ['2026-02-30', 'kemarin', '2026-13-01', reportingDay(T0)]);
  t.same(odd.days.slice(0, 3), [[], [], []], 'no counts on a day that is none');
  t.same(odd.days[3], up.days[0]);

  const oldest = await reads.oldestUnsynced(U, [A1.posyandu, A2.posyandu, B1.posyandu, 'nowhere']);
  t.same([...oldest], [[A1.posyandu, T0 + MIN], [A2.posyandu, T0 + 3 * MIN], [B1.posyandu, T0 + 4 * MIN]]);
  t.same([...oldest], [...(await redisLedger.oldestUnsynced(U, [A1.posyandu, A2.posyandu, B1.posyandu, 'nowhere']))], 'as Redis');
  t.same(await reads.oldestUnsynced(U, []), new Map());
  t.same(await reads.backlog(U), { records: 8, oldestAcceptedMs: T0 + MIN });
  t.same(await reads.backlog(U), await redisLedger.backlog(U), 'as Redis');
  t.same(await reads.backlog(O), await redisLedger.backlog(O), 'other upstream: as Redis');
  t.same(await reads.backlog('none'), { records: 0 });
});

/** Everything the counts tables hold, to see that retention leaves them alone. */
async function countTables(p: pg.Pool): Promise<unknown[]> {
  const tables = ['status_counts', 'daily_counts', 'last_synced', 'latency_counts'];
  await rollUpCounts(p, true);
  return Promise.all(tables.map(async (table) => (await p.query(`SELECT * FROM ${table} ORDER BY 1, 2, 3, 4, 5`)).rows));
}

const payloadRows = async (p: pg.Pool, id: string) => Number((await p.query<{ n: string }>('SELECT count(*) AS n FROM record_payloads WHERE record_id = $1', [id])).rows[0]!.n);
const storedStatus = async (p: pg.Pool, id: string, upstream: string) =>
  (await p.query<{ status: string; state: string; version: number; attempts: number }>('SELECT status, state::text, version, attempts FROM upstream_states WHERE record_id = $1 AND upstream = $2', [id, upstream])).rows[0]!;

t.test('retention: payloads synced everywhere, then payloads settled everywhere; states, counts and newer versions stay', async (t) => {
  const p = await freshPool();
  const r = new PgReads(p, payload);
  const S = (minutes: number) => synced(T0 + minutes * MIN);
  // r1 synced everywhere, with the upstream's words of an earlier attempt still in its state
  const words = { lastError: error('upstream.http-503', `sibuk, pasien ${PERSON.name}`, T0 + MIN), outcome };
  await insertRecord(p, payload, row('r1', A1, 0, { [U]: { ...S(10), ...words }, [O]: S(12) }));
  await insertRecord(p, payload, row('r2', A1, 0, { [U]: S(10), [O]: failed('upstream.http-422', T0 + 20 * MIN, { outcome }) }));
  await insertRecord(p, payload, row('r3', A1, 0, { [U]: S(10), [O]: status({}) }));
  // r4: listed as settled, then its version 2 was accepted and is not settled yet
  await insertRecord(p, payload, row('r4', A2, 0, { [U]: status({ version: 2 }), [O]: status({ version: 2 }) }, { version: 2 }));
  await p.query(`UPDATE records SET settled_at = $1 WHERE id = 'r4'`, [new Date(T0 + 10 * MIN)]);
  await insertRecord(p, payload, row('r5', A2, 0, { [U]: { ...S(10), version: 2 }, [O]: { ...S(11), version: 2 } }, { version: 2 }));
  await insertRecord(p, payload, row('r6', B1, 0, { [U]: S(5 * 60), [O]: S(5 * 60) }));
  await insertRecord(p, payload, row('r7', B1, 120, { [U]: failed('upstream.http-400', T0 + 130 * MIN), [O]: S(125) }));
  const counts = await countTables(p);
  const r1Before = await storedStatus(p, 'r1', U);
  t.ok(SEALED_WORDS_PROPERTY in JSON.parse(r1Before.status), 'the words are sealed in the state');
  const now = T0 + 2 * 86_400_000;

  t.equal(await r.dropSyncedPayloads(T0 + 60 * MIN, now), 2, 'r1 and r5: synced everywhere an hour before');
  const left = async () => Object.fromEntries(await Promise.all(['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'].map(async (id) => [id, await payloadRows(p, id)])));
  t.same(await left(), { r1: 0, r2: 1, r3: 1, r4: 2, r5: 0, r6: 1, r7: 1 }, 'both versions of r5 went; the newer version of r4 keeps both');
  const dropped = await p.query<{ id: string; payload_dropped_at: Date | null }>('SELECT id, payload_dropped_at FROM records ORDER BY id');
  t.same(dropped.rows.filter((x) => x.payload_dropped_at).map((x) => [x.id, x.payload_dropped_at!.getTime()]), [['r1', now], ['r5', now]]);

  const r1After = await storedStatus(p, 'r1', U);
  t.same({ ...r1After, status: undefined }, { ...r1Before, status: undefined }, 'state, version and attempts stay');
  const { [SEALED_WORDS_PROPERTY]: _sealed, ...kept } = JSON.parse(r1Before.status) as Record<string, unknown>;
  t.same(JSON.parse(r1After.status), kept, 'the sealed words went from the state, the rest of it stayed');
  const opened = payload.openStatus('r1', U, r1After.status).status;
  t.same(opened.lastError, { code: 'upstream.http-503', at: at(T0 + MIN) }, "the error's code stays, its words do not");
  t.equal(opened.outcome, undefined);
  t.same(opened.resources, [], 'its empty list still a list');
  t.equal(await r.dropSyncedPayloads(T0 + 60 * MIN, now + 1), 0, 'once');

  t.equal(await r.dropSettledPayloads(T0 + 60 * MIN, now), 2, 'r2 (synced and failed) and r6 (synced later): received an hour before');
  t.same(await left(), { r1: 0, r2: 0, r3: 1, r4: 2, r5: 0, r6: 0, r7: 1 }, 'r3 and r4 are still on their way, r7 came later');
  const r2 = payload.openStatus('r2', O, (await storedStatus(p, 'r2', O)).status).status;
  t.equal(r2.state, 'failed');
  t.equal(r2.outcome, undefined, "the failed record's OperationOutcome went with the payload");
  t.equal(r2.lastError?.message, undefined);
  t.equal(await r.dropSettledPayloads(T0 + 60 * MIN, now), 0, 'once');
  t.equal(await r.dropSettledPayloads(T0 + 3 * 60 * MIN, now), 1, 'r7 once its time comes');

  t.same(await countTables(p), counts, 'the counts are untouched');
  // what the lists show of a dropped record: its state, and no words to mask or show
  const list = await r.failures(failureFilter({ upstreams: [O] }), all, true);
  t.same(list.items.map((i) => [i.id, i.subject, i.outcome]), [['r2', undefined, undefined]]);
  const sent = await r.byPosyandu({ posyandu: [A1.posyandu], limit: 10, offset: 0, showIdentity: true });
  t.same(sent.items.map((i) => [i.id, i.upstreams[O]?.state]), [['r3', 'queued'], ['r2', 'failed'], ['r1', 'synced']]);

  // a correction accepted after the drop brings a payload again (payload_dropped_at stays, as in
  // Redis): kept while on its way, dropped in its turn (rows as PgLedger.accept leaves them)
  const accepted = new Date(now + MIN);
  await p.query(`UPDATE records SET version = 2, updated_at = $2, settled_at = NULL, unsettled = 2 WHERE id = $1`, ['r6', accepted]);
  await p.query(`INSERT INTO record_payloads (record_id, received_at, version, record, bundle) SELECT id, received_at, 2, '\\x01', '\\x02' FROM records WHERE id = $1`, ['r6']);
  await p.query(`UPDATE upstream_states SET state = 'queued', version = 2 WHERE record_id = $1`, ['r6']);
  t.equal(await r.dropSyncedPayloads(now + 60 * MIN, now + 2 * MIN), 0, 'the new version is not synced yet');
  t.equal(await r.dropSettledPayloads(now + 60 * MIN, now + 2 * MIN), 0, 'nor settled');
  t.equal(await payloadRows(p, 'r6'), 1);
  await p.query(`UPDATE upstream_states SET state = 'synced' WHERE record_id = $1`, ['r6']);
  await p.query(`UPDATE records SET settled_at = $2, unsettled = 0 WHERE id = $1`, ['r6', new Date(now + 5 * MIN)]);
  t.equal(await r.dropSyncedPayloads(now + 10 * MIN, now + 20 * MIN), 1, 'synced everywhere again: dropped again');
  t.equal(await payloadRows(p, 'r6'), 0);
  t.same((await p.query<{ at: Date }>(`SELECT payload_dropped_at AS at FROM records WHERE id = 'r6'`)).rows[0]!.at, new Date(now + 20 * MIN));
  t.equal(await r.dropSyncedPayloads(now + 10 * MIN, now + 30 * MIN), 0, 'once');
});

/**
 * Many records made in SQL at once (the planner needs a table of some size to prefer an index):
 * the first `failedAtOther` failed at the other upstream, every `queuedEvery`th queued at the
 * first, the rest synced at both (settled_at: synced everywhere).
 */
async function bulk(p: pg.Pool, n: number, failedAtOther: number, queuedEvery: number): Promise<void> {
  const base = new Date(T0);
  await p.query(
    `INSERT INTO records (id, received_at, source, source_record_id, kind, regency, puskesmas, posyandu, content_hash, updated_at, unsettled, settled_at)
     SELECT 'b' || lpad(i::text, 6, '0'), $1::timestamptz + i * interval '1 second', 'bulk', 'B' || i, 'anthropometry', '3201', 'P1', 'pos-' || (i % 20), 'h', $1,
            (i % $3 = 0)::integer + (i <= $4)::integer,
            CASE WHEN i % $3 = 0 OR i <= $4 THEN NULL ELSE $1::timestamptz + interval '1 hour' + i * interval '1 second' END
     FROM generate_series(1, $2::integer) AS i`,
    [base, n, queuedEvery, failedAtOther],
  );
  await p.query(`INSERT INTO record_payloads (record_id, received_at, version, record, bundle) SELECT id, received_at, 1, '\\x01', '\\x02' FROM records WHERE source = 'bulk'`);
  await p.query(
    `INSERT INTO upstream_states (record_id, received_at, upstream, kind, regency, puskesmas, posyandu, state, version, status, updated_at)
     SELECT r.id, r.received_at, u.name, r.kind, r.regency, r.puskesmas, r.posyandu, s.state, 1,
            json_build_object('state', s.state, 'version', 1, 'attempts', 1, 'updatedAt', r.updated_at)::text, r.updated_at
     FROM records r
     CROSS JOIN (VALUES ($1), ($2)) AS u(name)
     CROSS JOIN LATERAL (SELECT (CASE WHEN u.name = $2 AND substr(r.id, 2)::integer <= $3 THEN 'failed'
                                      WHEN u.name = $1 AND substr(r.id, 2)::integer % $4 = 0 THEN 'queued'
                                      ELSE 'synced' END)::upstream_state AS state) AS s
     WHERE r.source = 'bulk'`,
    [U, O, failedAtOther, queuedEvery],
  );
  await p.query('ANALYZE');
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}
const nodesOf = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodesOf)];

t.test('the counts and lists read indexes, not every record, once there are enough of them', async (t) => {
  const p = await freshPool();
  await bulk(p, 4000, 600, 40);
  // every statement the reads send, to EXPLAIN with the same values
  const sent: Array<{ text: string; values: unknown[] }> = [];
  const spy = Object.create(p) as pg.Pool;
  spy.query = ((text: string, values: unknown[]) => {
    sent.push({ text, values });
    return p.query(text, values);
  }) as pg.Pool['query'];
  const r = new PgReads(spy, payload);
  const calls: Array<[string, () => Promise<unknown>, string]> = [
    ['backlog', () => r.backlog(U), 'upstream_states'],
    ['oldestUnsynced', () => r.oldestUnsynced(U, ['pos-1', 'pos-7', 'pos-none']), 'upstream_states'],
    ['failures', () => r.failures(failureFilter({ upstreams: [O], limit: 20 }), all, false), 'upstream_states'],
    ['problemIds of a posyandu', () => r.problemIds({ upstreams: [O], posyandu: 'pos-3' }, all), 'upstream_states'],
    ['byPosyandu', () => r.byPosyandu({ posyandu: ['pos-5'], limit: 20, offset: 0, showIdentity: false }), 'records'],
    // (limits before every record: nothing dropped yet, the statements are what matters here)
    ['dropSyncedPayloads', () => r.dropSyncedPayloads(T0, T0), 'records'],
    ['dropSettledPayloads', () => r.dropSettledPayloads(T0, T0), 'records'],
  ];
  for (const [name, call, table] of calls) {
    sent.length = 0;
    await call();
    t.ok(sent.length > 0, `${name} asked something`);
    for (const { text, values } of sent) {
      const plan = (await p.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${text}`, values)).rows[0]!['QUERY PLAN'][0]!.Plan;
      const nodes = nodesOf(plan);
      const scans = nodes.filter((n) => n['Relation Name']?.startsWith(table));
      const seq = scans.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === `${table}_y2026m03`);
      if (!text.includes(`FROM ${table}`)) continue;
      t.same(seq.map((n) => n['Relation Name']), [], `${name}: no sequential scan of ${table}`);
      const indexes = nodes.flatMap((n) => (n['Index Name']?.startsWith(`${table}_y2026m03`) ? [n['Index Name']] : []));
      t.ok(indexes.length > 0, `${name}: an index of ${table} (${indexes.join(', ')})`);
    }
  }
  t.same(await r.backlog(U), { records: 0, oldestAcceptedMs: T0 + 40_000 }, 'the oldest queued (the count is kept by the writes, which bulk rows skip)');
  t.equal((await r.oldestUnsynced(O, ['pos-1'])).get('pos-1'), T0 + 1_000);

  // lists longer than one chunk (500 rows): each row once, in order, across the chunk's edge
  const ids = await r.problemIds({ upstreams: [O] }, all);
  t.equal(ids.length, 600);
  t.same(ids.slice(0, 2).map((x) => x.id), ['b000001', 'b000002']);
  t.same(ids.slice(-1).map((x) => x.id), ['b000600']);
  t.equal(new Set(ids.map((x) => x.id)).size, 600);
  const page = await r.failures(failureFilter({ upstreams: [O], limit: 20, offset: 490 }), all, false);
  t.same(page.items.map((i) => i.id), Array.from({ length: 20 }, (_, k) => `b${String(600 - 490 - k).padStart(6, '0')}`));
  t.equal(page.more, true);
  const last = await r.failures(failureFilter({ upstreams: [O], limit: 20, offset: 590 }), all, false);
  t.same([last.items.length, last.more], [10, false]);

  // retention in batches: the records synced everywhere, then those settled everywhere, past
  // the queued ones (every 40th) that keep theirs
  const dropped = await r.dropSyncedPayloads(T0 + 10 * 3_600_000, T0 + 86_400_000);
  t.equal(dropped, 4000 - 600 - 100 + 15, 'every record synced everywhere, over several batches');
  t.equal(Number((await p.query<{ n: string }>('SELECT count(*) AS n FROM record_payloads')).rows[0]!.n), 600 + 100 - 15);
  t.equal(await r.dropSettledPayloads(T0 + 10 * 3_600_000, T0 + 86_400_000), 600 - 15, 'then those settled everywhere');
  t.equal(Number((await p.query<{ n: string }>('SELECT count(*) AS n FROM record_payloads')).rows[0]!.n), 100, 'the queued ones keep theirs');
});

t.test('dropRecordMonths: whole records of the months before the UTC month kept, in every table; the counts stay', async (t) => {
  const p = await freshPool();
  const r = new PgReads(p, payload);
  const month = (id: string, iso: string) =>
    insertRecord(p, payload, { ...row(id, A1, 0, { [U]: synced(Date.parse(iso) + MIN) }), receivedAt: new Date(iso) });
  await month('jan', '2026-01-31T23:59:00Z');
  await month('feb', '2026-02-01T00:00:00Z');
  await month('mar', '2026-03-15T08:00:00Z');
  const counts = await countTables(p);
  const before = await r.counts(U, [reportingDay(Date.parse('2026-01-31T23:59:00Z'))]);

  // 05:00 on 1 March in WIB is still February in UTC: February is kept
  const dropped = await r.dropRecordMonths(new Date('2026-03-01T05:00:00+07:00'));
  t.ok(dropped.includes('records_y2026m01') && dropped.includes('upstream_states_y2026m01') && dropped.includes('record_payloads_y2026m01'), `January's partitions: ${dropped.join(', ')}`);
  t.notOk(dropped.some((name) => /m0[23]$/.test(name)), 'none of February or March');
  const ids = async (table: string, column = 'id') => (await p.query<{ id: string }>(`SELECT ${column} AS id FROM ${table} ORDER BY 1`)).rows.map((x) => x.id);
  t.same(await ids('records'), ['feb', 'mar']);
  t.same(await ids('record_keys'), ['feb', 'mar'], 'and their idempotency keys');
  t.same(await ids('upstream_states', 'record_id'), ['feb', 'mar']);
  t.same(await ids('record_payloads', 'record_id'), ['feb', 'mar']);
  t.same(await countTables(p), counts, 'the count tables are untouched');
  t.same(await r.counts(U, [reportingDay(Date.parse('2026-01-31T23:59:00Z'))]), before, 'and count as before');
  const sent = await r.byPosyandu({ posyandu: [A1.posyandu], limit: 10, offset: 0, showIdentity: false });
  t.same(sent.items.map((i) => i.id), ['mar', 'feb']);
  t.same(await r.dropRecordMonths(new Date('2026-02-20T00:00:00Z')), [], 'a second time: nothing more');
});

t.test('the sweeper drops whole months only with retention.recordMonths, and then those past it', async (t) => {
  const p = await freshPool();
  const r = new PgReads(p, payload);
  for (const [id, iso] of [['jan', '2026-01-20T00:00:00Z'], ['feb', '2026-02-10T00:00:00Z'], ['mar', '2026-03-05T00:00:00Z']] as const) {
    await insertRecord(p, payload, { ...row(id, A1, 0, { [U]: status({}) }), receivedAt: new Date(iso) });
  }
  const lines: unknown[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const retention = { payloadDays: 30, sweepIntervalMinutes: 60, unsyncedPayloadDays: 90 };
  const now = Date.parse('2026-03-20T00:00:00Z');
  t.same(firstMonthKept(now, 1), new Date('2026-02-01T00:00:00Z'));
  t.same(firstMonthKept(Date.parse('2026-01-31T23:00:00Z'), 13), new Date('2024-12-01T00:00:00Z'));

  await new RetentionSweeper({ ledger: r, retention, logger }).sweep(now);
  t.equal(Number((await p.query<{ n: string }>('SELECT count(*) AS n FROM records')).rows[0]!.n), 3, 'without recordMonths every record stays');
  await new RetentionSweeper({ ledger: r, retention: { ...retention, recordMonths: 1 }, logger }).sweep(now);
  t.same((await p.query<{ id: string }>('SELECT id FROM records ORDER BY received_at')).rows.map((x) => x.id), ['feb', 'mar'], 'January is past one month kept');
  t.match(lines, [{ msg: 'retention: dropped the whole records of the months past recordMonths', recordMonths: 1 }]);
});

t.test('records received at the same moment (a $batch) come in the order Redis gives them: by id, byte by byte, whatever the database collation', async (t) => {
  const p = await freshPool('icu');
  const sortedThere = (await p.query<{ x: string }>(`SELECT x FROM unnest(ARRAY['tieZ', 'tie_c']) AS x ORDER BY x`)).rows.map((x) => x.x);
  t.same(sortedThere, ['tie_c', 'tieZ'], 'this database sorts text otherwise than bytes');
  const r = new PgReads(p, payload);
  const ledger = new RedisLedger(redis, testKeys('pg-reads-ties'), payload);
  for (const id of ['tie_c', 'tie-a', 'tieZ', 'tie-B', 'Tie']) await both(p, { redis: ledger }, row(id, A1, 30, { [U]: failed('upstream.http-422', T0 + 40 * MIN) }));
  const failures = await r.failures(failureFilter({ upstreams: [U] }), all, false);
  t.same(failures.items.map((i) => i.id), ['tie_c', 'tieZ', 'tie-a', 'tie-B', 'Tie']);
  t.same(failures, await ledger.failures(failureFilter({ upstreams: [U] }), all, false), 'as Redis');
  t.same(await r.problemIds({ upstreams: [U] }, all), await ledger.problemIds({ upstreams: [U] }, all), 'problem ids as Redis');
  const q: PosyanduQuery = { posyandu: [A1.posyandu], limit: 2, offset: 1, showIdentity: false };
  t.same(await r.byPosyandu(q), await ledger.byPosyandu(q), 'a page of them as Redis');
});

t.test('retention drops the payloads the Redis ledger drops, sweep by sweep', async (t) => {
  const p = await freshPool();
  const r = new PgReads(p, payload);
  const ledger = new RedisLedger(redis, testKeys('pg-reads-retention'), payload);
  const S = (minutes: number) => synced(T0 + minutes * MIN);
  const records = [
    row('s1', A1, 0, { [U]: S(10), [O]: S(12) }),
    row('s2', A1, 1, { [U]: S(10), [O]: failed('upstream.http-422', T0 + 20 * MIN) }),
    row('s3', A1, 2, { [U]: S(10), [O]: status({ state: 'retrying', attempts: 2 }) }),
    row('s4', A2, 3, { [U]: failed('upstream.http-400', T0 + 30 * MIN), [O]: failed('delivery.too-old', T0 + 31 * MIN) }),
    row('s5', A2, 4, { [U]: S(5 * 60), [O]: S(5 * 60 + 1) }),
    row('s6', B1, 120, { [U]: status({ state: 'waiting-identity' }) }),
    row('s7', B1, 121, { [U]: S(125) }),
  ];
  for (const x of records) await both(p, { redis: ledger }, x);
  const kept = async () => {
    const inPg = (await p.query<{ id: string }>('SELECT DISTINCT record_id AS id FROM record_payloads ORDER BY 1')).rows.map((x) => x.id);
    const inRedis = [];
    for (const x of records) if ((await ledger.get(x.id))?.payloadDroppedAt === undefined) inRedis.push(x.id);
    return { inPg, inRedis };
  };
  // how many: Redis counts again a record whose payload the other sweep dropped (s5 stays on its
  // purge list), PostgreSQL only payloads it dropped; what is kept is the same
  const sweeps: Array<[string, (l: Pick<PgReads, 'dropSyncedPayloads' | 'dropSettledPayloads'>) => Promise<number>, number, string[]]> = [
    ['synced an hour in', (l) => l.dropSyncedPayloads(T0 + 60 * MIN, T0 + 86_400_000), 1, ['s2', 's3', 's4', 's5', 's6', 's7']],
    ['settled, received an hour in', (l) => l.dropSettledPayloads(T0 + 60 * MIN, T0 + 86_400_000), 3, ['s3', 's6', 's7']],
    ['synced a day in', (l) => l.dropSyncedPayloads(T0 + 86_400_000, T0 + 2 * 86_400_000), 1, ['s3', 's6']],
    ['settled, received a day in', (l) => l.dropSettledPayloads(T0 + 86_400_000, T0 + 2 * 86_400_000), 0, ['s3', 's6']],
  ];
  for (const [name, sweep, dropped, left] of sweeps) {
    t.equal(await sweep(r), dropped, `${name}: ${dropped} dropped`);
    await sweep(ledger);
    t.same(await kept(), { inPg: left, inRedis: left }, `${name}: the same kept`);
  }
});

t.test("a correction counts from when it was accepted, as Redis scores it: the lists' order and times, the backlog's age", async (t) => {
  const p = await freshPool();
  const r = new PgReads(p, payload);
  const ledger = new RedisLedger(redis, testKeys('pg-reads-corrections'), payload);
  const corrected = T0 + 50 * MIN;
  // c1: received first, corrected later and failing again; c2: received between, failing
  const c1 = row('c1', A1, 0, { [U]: failed('upstream.http-422', T0 + 55 * MIN, { version: 2 }) }, { version: 2 });
  await insertRecord(p, payload, c1);
  // (what PgLedger.accept of version 2 leaves: the record updated then, its state's acceptance too)
  await p.query('UPDATE records SET updated_at = $2 WHERE id = $1', ['c1', new Date(corrected)]);
  await p.query('UPDATE upstream_states SET accepted_at = $2 WHERE record_id = $1', ['c1', new Date(corrected)]);
  const base = { id: 'c1', source: 'app', record: c1.record as CanonicalRecord, bundle: { resourceType: 'Bundle' as const, type: 'transaction' as const, entry: [] }, indicators: {}, warnings: [], subject: '', ...A1, upstreams: [U] };
  await ledger.accept({ ...base, contentHash: 'v1', receivedAt: new Date(T0) });
  await ledger.setState('c1', U, failed('upstream.http-422', T0 + 5 * MIN), T0 + 5 * MIN);
  await ledger.accept({ ...base, contentHash: 'v2', receivedAt: new Date(corrected) });
  await ledger.setState('c1', U, c1.states[U]!, T0 + 55 * MIN);
  await both(p, { redis: ledger }, row('c2', A1, 30, { [U]: failed('upstream.http-400', T0 + 35 * MIN) }));

  const list = await r.failures(failureFilter({ upstreams: [U] }), all, false);
  t.same(list.items.map((i) => [i.id, i.receivedAt]), [['c1', at(T0)], ['c2', at(T0 + 30 * MIN)]], 'the correction first, still showing when it was first received');
  t.same(list, await ledger.failures(failureFilter({ upstreams: [U] }), all, false), 'as Redis');
  const since = failureFilter({ upstreams: [U], from: T0 + 40 * MIN });
  t.same((await r.failures(since, all, false)).items.map((i) => i.id), ['c1'], 'from: by when accepted');
  t.same(await r.failures(since, all, false), await ledger.failures(since, all, false), 'as Redis');
  t.same(await r.problemIds({ upstreams: [U] }, all), [{ id: 'c2', upstream: U }, { id: 'c1', upstream: U }]);
  t.same(await r.problemIds({ upstreams: [U] }, all), await ledger.problemIds({ upstreams: [U] }, all), 'as Redis');
  t.same([...(await r.oldestUnsynced(U, [A1.posyandu]))], [[A1.posyandu, T0 + 30 * MIN]]);
  t.same([...(await r.oldestUnsynced(U, [A1.posyandu]))], [...(await ledger.oldestUnsynced(U, [A1.posyandu]))], 'as Redis');
  t.same((await r.backlog(U)).oldestAcceptedMs, T0 + 30 * MIN);
  t.same((await r.backlog(U)).oldestAcceptedMs, (await ledger.backlog(U)).oldestAcceptedMs, 'as Redis');
  // a posyandu's records stay in the order they were first received, as Redis lists them
  const q: PosyanduQuery = { posyandu: [A1.posyandu], limit: 10, offset: 0, showIdentity: false };
  t.same((await r.byPosyandu(q)).items.map((i) => [i.id, i.version]), [['c2', 1], ['c1', 2]]);
  t.same(await r.byPosyandu(q), await ledger.byPosyandu(q), 'as Redis');
});
