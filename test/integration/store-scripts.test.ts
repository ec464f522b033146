import { readdirSync, readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import type { CanonicalRecord } from '../../src/records/schemas/index.js';
import { reportingDay } from '../../src/sync/aggregates.js';
import type { NewRecord } from '../../src/sync/ledger.js';
import { RedisLedger } from '../../src/sync/store/redis-ledger.js';
import type { UpstreamStatus } from '../../src/sync/states.js';
import { CIRCUIT_FIELDS, KEY_LAYOUTS, PLACE_SEPARATOR, RECORD_FIELDS as F, SEALED_WORDS_PROPERTY, UPSTREAM_FIELD_PREFIX, layoutParts, upstreamField, type StoreKeys } from '../../src/sync/store/keys.js';
import { defineScripts, preamble, runScript, SCRIPT_NAMES, scriptSources } from '../../src/sync/store/scripts.js';
import { startRedis } from '../helpers/redis-server.js';
import { testKeys, testPayload } from '../helpers/store.js';
import { storeKeys } from '../../src/sync/store/keys.js';

// Each Lua script of the store on its own, against a real redis-server, under a key prefix of
// its own: what it writes, where, and that nothing lands outside its prefix.

const server = await startRedis({ appendonly: false });
const redis = new Redis(server.url);
defineScripts(redis);
t.teardown(async () => {
  redis.disconnect();
  await server.stop();
});

const U = 'up';
const place = { regency: '3201', puskesmas: 'P3201010101', posyandu: '3201010001-01' };
const placeField = (...rest: string[]) => [place.regency, place.puskesmas, place.posyandu, ...rest].join(PLACE_SEPARATOR);
const T0 = Date.parse('2025-11-06T02:00:00Z');

function newRecord(id: string, hash: string, over: Partial<NewRecord> = {}): NewRecord {
  return {
    id,
    source: 'app',
    record: { kind: 'anthropometry', recordId: `R-${id}` } as unknown as CanonicalRecord,
    contentHash: hash,
    bundle: { resourceType: 'Bundle', type: 'transaction', entry: [] },
    indicators: {},
    warnings: [],
    subject: `subject-${id}`,
    ...place,
    receivedAt: new Date(T0),
    upstreams: [U],
    ...over,
  };
}

/** The same record (source and recordId) posted again. */
const sameRecord = (recordId: string) => ({ record: { kind: 'anthropometry', recordId } as unknown as CanonicalRecord });

const status = (over: Partial<UpstreamStatus>): UpstreamStatus => ({ state: 'queued', version: 1, attempts: 0, updatedAt: new Date(T0).toISOString(), ...over });

/** Every key the server holds is under the prefix. */
async function onlyUnder(t: Test, keys: StoreKeys): Promise<void> {
  const all = await redis.keys('*');
  t.same(all.filter((k) => !k.startsWith(keys.prefix)), [], `every key written is under ${keys.prefix}`);
}

// This server is the file's own: each test starts from an empty one, to see every key it wrote.
t.beforeEach(async () => {
  await redis.flushall();
});

t.test('every script is read, and the preamble builds each key as keys.ts does', async (t) => {
  const sources = scriptSources();
  t.same(Object.keys(sources).sort(), [...SCRIPT_NAMES].sort());
  const keys = testKeys('preamble');
  for (const [name, layout] of Object.entries(KEY_LAYOUTS)) {
    const args = layoutParts(layout).flatMap((p) => ('arg' in p ? [`<${p.arg}>`] : []));
    const lua = `${preamble()}\nreturn K.${name}(ARGV[1], ${args.map((_, i) => `ARGV[${i + 2}]`).join(', ') || 'nil'})`;
    const fromLua = await redis.eval(lua, 0, keys.prefix, ...args);
    const member = (keys as unknown as Record<string, string | ((...a: string[]) => string)>)[name];
    const fromTs = typeof member === 'function' ? member(...args) : member;
    t.equal(fromLua, fromTs, `${name}: the same key in Lua and TypeScript`);
  }
});

t.test('no Lua file spells a key or field name of its own: they come from keys.ts', async (t) => {
  const names = new Set<string>([
    ...Object.values(F),
    ...Object.values(CIRCUIT_FIELDS),
    UPSTREAM_FIELD_PREFIX,
    SEALED_WORDS_PROPERTY,
    PLACE_SEPARATOR,
    ...Object.values(KEY_LAYOUTS).flatMap((layout) => layoutParts(layout).flatMap((p) => ('text' in p ? [p.text] : []))),
  ]);
  const dir = new URL('../../src/sync/store/scripts/', import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith('.lua'));
  t.ok(files.length >= SCRIPT_NAMES.length, 'every script is a file');
  for (const file of files) {
    const literals = [...readFileSync(new URL(file, dir), 'utf8').replace(/--.*$/gm, '').matchAll(/'([^']*)'|"([^"]*)"/g)].map((m) => m[1] ?? m[2] ?? '');
    t.same(literals.filter((l) => names.has(l)), [], `${file}: no name of keys.ts written again`);
  }
});

t.test('accept: created, duplicate, new version, place-changed', async (t) => {
  const keys = testKeys('accept');
  const ledger = new RedisLedger(redis, keys, testPayload());
  const first = await ledger.accept(newRecord('a1', 'h1'));
  t.same(first, { id: 'a1', outcome: 'created', version: 1 });
  t.equal(await redis.get(keys.index('app', 'R-a1')), 'a1', 'the idempotency index names the record');
  t.equal(await redis.zscore(keys.received, 'a1'), String(T0));
  t.equal(await redis.zscore(keys.byPosyandu(place.posyandu), 'a1'), String(T0));
  t.same(await redis.lrange(keys.inbox, 0, -1), ['a1 1'], 'in the inbox, to become a job');
  t.same(await redis.lrange(keys.order('subject-a1', U), 0, -1), ['a1'], "in its person's order at the upstream");
  t.same(await redis.hgetall(keys.states(U)), { [placeField('queued')]: '1' });
  t.same(await redis.hgetall(keys.day(U, reportingDay(T0))), { [placeField('accepted')]: '1' });
  t.equal(await redis.zscore(keys.inQueue(U, place.puskesmas), 'a1'), String(T0));
  t.equal(await redis.zscore(keys.backlog(U), 'a1'), String(T0));
  t.equal(await redis.hget(keys.record('a1'), F.unsynced), '1');

  t.same(await ledger.accept(newRecord('other-id', 'h1', { ...sameRecord('R-a1'), subject: 'subject-a1' })), { id: 'a1', outcome: 'duplicate', version: 1 }, 'the same content is a duplicate of the stored record');
  // synced at the upstream, then a changed copy: the ids it wrote are held for the new version
  const resources = [{ fullUrl: 'urn:uuid:e', resourceType: 'Encounter', id: 'enc-1', status: '201 Created' }];
  await ledger.setState('a1', U, status({ state: 'synced', resources }), T0 + 1000, 'subject-a1');
  t.same(await ledger.accept(newRecord('other-id', 'h2', { ...sameRecord('R-a1'), subject: 'subject-a1' })), { id: 'a1', outcome: 'new-version', version: 2 });
  const v2 = (await ledger.stateAt('a1', U))!.status;
  t.match(v2, { state: 'queued', version: 2, attempts: 0, held: resources, heldVersion: 1 });
  t.same(await redis.lrange(keys.inbox, 0, -1), ['a1 1', 'a1 2']);
  t.equal(await redis.zscore(keys.purge, 'a1'), null, 'a new version is not due for retention');

  const moved = await ledger.accept(newRecord('other-id', 'h3', { ...sameRecord('R-a1'), subject: 'subject-a1', posyandu: '3201010001-02' }));
  t.same(moved, { id: 'a1', outcome: 'place-changed', version: 2, storedPosyandu: place.posyandu });
  t.equal(await redis.hget(keys.record('a1'), F.contentHash), 'h2', 'nothing written for a copy of another posyandu');
  await onlyUnder(t, keys);
});

t.test('set-state: counts move, an older version does not overwrite, a settled record leaves its order', async (t) => {
  const keys = testKeys('set-state');
  const ledger = new RedisLedger(redis, keys, testPayload());
  await ledger.accept(newRecord('s1', 'h1'));
  t.ok(await ledger.setState('s1', U, status({ state: 'sending', attempts: 1 }), T0 + 10));
  t.same(await redis.hgetall(keys.states(U)), { [placeField('queued')]: '0', [placeField('sending')]: '1' });
  t.ok(await ledger.setState('s1', U, status({ state: 'failed', attempts: 1 }), T0 + 20, 'subject-s1'));
  t.equal(await redis.zscore(keys.problems(U), 's1'), String(T0), 'failed: among the problems');
  t.equal(await redis.zscore(keys.inQueue(U, place.puskesmas), 's1'), null, 'and out of the fairness queue');
  t.same(await redis.lrange(keys.order('subject-s1', U), 0, -1), [], "settled: out of its person's order");
  t.same(await redis.hgetall(keys.day(U, reportingDay(T0))), { [placeField('accepted')]: '1', [placeField('failed')]: '1' });

  await ledger.accept(newRecord('s1', 'h2'));
  t.notOk(await ledger.setState('s1', U, status({ state: 'synced', version: 1 }), T0 + 30), 'a push of version 1 does not overwrite version 2');
  t.equal((await ledger.stateAt('s1', U))!.status.state, 'queued');
  t.ok(await ledger.setState('s1', U, status({ state: 'synced', version: 2 }), T0 + 40_000));
  t.equal(await redis.zscore(keys.purge, 's1'), String(T0 + 40_000), 'synced everywhere: due for retention');
  t.equal(await redis.hget(keys.lastSynced(U), placeField()), new Date(T0 + 40_000).toISOString());
  t.same(await redis.hgetall(keys.latency(U)), { [placeField('4')]: '1' }, 'accepted→synced 40 s: the 60 s bucket');
  t.equal(await redis.zcard(keys.backlog(U)), 0);
  t.equal(await redis.zcard(keys.pending(U, place.posyandu)), 0);
  await onlyUnder(t, keys);
});

t.test("begin-delivery: missing, superseded, the person's order, settled", async (t) => {
  const keys = testKeys('begin');
  const ledger = new RedisLedger(redis, keys, testPayload());
  t.same(await ledger.beginDelivery('nope', U, 1, T0), { kind: 'missing' });
  await ledger.accept(newRecord('b1', 'h1', { subject: 'same-person' }));
  await ledger.accept(newRecord('b2', 'h1', { subject: 'same-person', ...sameRecord('R-b2') }));
  t.same(await ledger.beginDelivery('b2', U, 1, T0), { kind: 'wait' }, "the person's later record waits for the earlier one");
  const go = await ledger.beginDelivery('b1', U, 1, T0);
  t.match(go, { kind: 'go', bundle: { resourceType: 'Bundle' }, status: { state: 'queued', version: 1 }, subject: 'same-person' });
  await ledger.setState('b1', U, status({ state: 'synced' }), T0 + 1, 'same-person');
  t.match(await ledger.beginDelivery('b2', U, 1, T0), { kind: 'go' }, 'then it goes');
  t.same(await ledger.beginDelivery('b1', U, 1, T0), { kind: 'settled', state: 'synced' });
  await ledger.accept(newRecord('b1', 'h2', { subject: 'same-person' }));
  t.same(await ledger.beginDelivery('b1', U, 1, T0), { kind: 'superseded' }, 'a job of version 1 after version 2 came');
  await onlyUnder(t, keys);
});

t.test('requeue: a failed record back to queued, into the inbox for one upstream', async (t) => {
  const keys = testKeys('requeue');
  const ledger = new RedisLedger(redis, keys, testPayload());
  await ledger.accept(newRecord('q1', 'h1'));
  t.notOk(await ledger.requeue('q1', U, T0), 'a queued record is not replayed');
  await ledger.setState('q1', U, status({ state: 'failed', attempts: 3 }), T0 + 1, 'subject-q1');
  t.ok(await ledger.requeue('q1', U, T0 + 2));
  t.match((await ledger.stateAt('q1', U))!.status, { state: 'queued', attempts: 0, replays: 1 });
  t.same(await redis.lrange(keys.inbox, 0, -1), ['q1 1', `q1 1 ${U} 1`]);
  const due = await ledger.pendingDeliveries(10);
  t.same(due, [{ recordId: 'q1', version: 1 }, { recordId: 'q1', version: 1, replay: { upstream: U, count: 1 } }], 'due: the version for every upstream, then the replay for one');
  await ledger.deliveriesQueued(due.slice(0, 1));
  t.same(await ledger.pendingDeliveries(10), due.slice(1), 'what became a job is no longer due');
  t.same(await redis.lrange(keys.order('subject-q1', U), 0, -1), ['q1'], "back in its person's order");
  t.equal(await redis.zscore(keys.problems(U), 'q1'), null);
  await ledger.setState('q1', U, status({ state: 'failed', replays: 1 }), T0 + 3);
  await redis.hdel(keys.record('q1'), F.bundle);
  t.notOk(await ledger.requeue('q1', U, T0 + 4), 'nothing to send without the payload');
  await onlyUnder(t, keys);
});

t.test('drop-payload and drop-unsynced: only what retention may drop', async (t) => {
  const keys = testKeys('retention');
  const ledger = new RedisLedger(redis, keys, testPayload());
  await ledger.accept(newRecord('d1', 'h1', { upstreams: [U, 'other'] }));
  await ledger.setState('d1', U, status({ state: 'synced' }), T0 + 1);
  await redis.zadd(keys.purge, T0, 'd1');
  t.equal(await runScript(redis, 'drop-payload', [keys.record('d1'), keys.purge], ['d1', 'then']), 0, 'not synced at every upstream: kept');
  t.equal(await redis.zscore(keys.purge, 'd1'), null, 'and off the purge list');
  t.equal(await runScript(redis, 'drop-unsynced', [keys.record('d1')], ['then']), 0, 'still queued at one upstream: kept');
  await ledger.setState('d1', 'other', status({ state: 'failed' }), T0 + 2);
  t.equal(await runScript(redis, 'drop-unsynced', [keys.record('d1')], ['then']), 1, 'settled everywhere: dropped');
  t.same(await redis.hmget(keys.record('d1'), F.record, F.bundle, F.payloadDroppedAt), [null, null, 'then']);
  t.equal(await runScript(redis, 'drop-unsynced', [keys.record('d1')], ['later']), 0, 'once');

  await ledger.accept(newRecord('d2', 'h1'));
  await ledger.setState('d2', U, status({ state: 'synced' }), T0 + 1);
  t.equal(await runScript(redis, 'drop-payload', [keys.record('d2'), keys.purge], ['d2', 'now']), 1);
  t.same(await redis.hmget(keys.record('d2'), F.record, F.bundle, F.payloadDroppedAt), [null, null, 'now']);
  t.ok(await redis.hget(keys.record('d2'), upstreamField(U)), 'the state stays');

  // the upstream's words (sealed into the state) go with the payload; the rest of the state stays as it was
  await ledger.accept(newRecord('d3', 'h1'));
  const words = { code: 'upstream.http-422', message: 'Pasien Kirana Puspitasari ditolak', at: new Date(T0).toISOString() };
  await ledger.setState('d3', U, status({ state: 'failed', lastError: words, outcome: { resourceType: 'OperationOutcome' }, resources: [] }), T0 + 1);
  const before = JSON.parse((await redis.hget(keys.record('d3'), upstreamField(U)))!) as Record<string, unknown>;
  t.type(before[SEALED_WORDS_PROPERTY], 'string', 'the words are sealed into the state');
  t.equal(await runScript(redis, 'drop-unsynced', [keys.record('d3')], ['then']), 1);
  const after = JSON.parse((await redis.hget(keys.record('d3'), upstreamField(U)))!) as Record<string, unknown>;
  const { [SEALED_WORDS_PROPERTY]: _dropped, ...kept } = before;
  t.same(after, kept, 'dropped from the state, which is otherwise unchanged (its empty list still a list)');
  t.same(after.resources, []);
  await onlyUnder(t, keys);
});

t.test('replace-if-unchanged: only values still as they were read', async (t) => {
  const keys = testKeys('replace');
  const key = keys.record('x1');
  await redis.hset(key, F.record, 'old-record', F.bundle, 'changed-meanwhile');
  t.equal(await runScript(redis, 'replace-if-unchanged', [key], [F.record, 'old-record', 'new-record', F.bundle, 'old-bundle', 'new-bundle']), 1, 'one replaced');
  t.same(await redis.hmget(key, F.record, F.bundle), ['new-record', 'changed-meanwhile'], 'the value written meanwhile stays');
  await onlyUnder(t, keys);
});

t.test("queue-ranks: a record's place in its puskesmas' queue", async (t) => {
  const keys = testKeys('ranks');
  const ledger = new RedisLedger(redis, keys, testPayload());
  for (const [i, pk] of ['PA', 'PA', 'PB'].entries()) {
    await ledger.accept(newRecord(`r${i}`, 'h', { puskesmas: pk, receivedAt: new Date(T0 + i), ...sameRecord(`R-r${i}`) }));
  }
  const ids = ['r0', 'r1', 'r2', 'unknown'];
  t.same(await runScript(redis, 'queue-ranks', ids.map((id) => keys.record(id)), [keys.prefix, U, ...ids]), [1, 2, 1, 1], "PA's second record ranks after the first of PB");
  await onlyUnder(t, keys);
});

t.test('history-read and history-remember: carried over, trimmed, expiring', async (t) => {
  const keys = testKeys('history');
  const current = keys.history('weighing', 'keyed');
  const legacy = keys.history('weighing', 'plain');
  await redis.hset(legacy, '2025-01', '{"w":1}');
  t.same(await runScript(redis, 'history-read', [current, legacy], []), ['2025-01', '{"w":1}'], 'a 0.3.x history is read');
  t.equal(await redis.exists(legacy), 0, 'and renamed to its keyed name');
  for (const month of ['2025-02', '2025-03', '2025-06']) await runScript(redis, 'history-remember', [current], [month, '{}', 2_000_000_000, '2025-04']);
  t.same(Object.keys(await redis.hgetall(current)).sort(), ['2025-03', '2025-06'], 'months before the first kept go, but for the newest of them');
  t.equal(Number(await redis.call('EXPIRETIME', current)), 2_000_000_000);
  await onlyUnder(t, keys);
});

t.test('window-count: the first event starts the window, the rest count in it', async (t) => {
  const keys = testKeys('window');
  const counter = keys.authFailures('203.0.113.9');
  const [n1, ttl1] = await runScript<[number, number]>(redis, 'window-count', [counter], [60_000]);
  t.equal(n1, 1);
  t.ok(ttl1 > 59_000 && ttl1 <= 60_000, 'a minute from the first');
  await redis.pexpire(counter, 5_000);
  const [n2, ttl2] = await runScript<[number, number]>(redis, 'window-count', [counter], [60_000]);
  t.equal(n2, 2);
  t.ok(ttl2 <= 5_000, 'a later event does not extend the window');
  await onlyUnder(t, keys);
});

t.test('budget-take and budget-give: grants never pass the limit, and what comes back is in the same window', async (t) => {
  const keys = testKeys('budget');
  const counter = keys.recordBudget('key-1');
  const [g1, ttl1] = await runScript<[number, number]>(redis, 'budget-take', [counter], [10, 7, 60_000]);
  t.equal(g1, 7, 'all asked for, within the limit');
  t.ok(ttl1 > 59_000 && ttl1 <= 60_000, 'the first take starts a minute');
  const [g2] = await runScript<[number, number]>(redis, 'budget-take', [counter], [10, 7, 60_000]);
  t.equal(g2, 3, 'only what is left of the limit');
  const [g3] = await runScript<[number, number]>(redis, 'budget-take', [counter], [10, 1, 60_000]);
  t.equal(g3, 0, 'nothing once it is spent');
  await runScript(redis, 'budget-give', [counter], [4]);
  const [g4] = await runScript<[number, number]>(redis, 'budget-take', [counter], [10, 9, 60_000]);
  t.equal(g4, 4, 'what was given back can be taken again');
  await redis.del(counter);
  await runScript(redis, 'budget-give', [counter], [4]);
  t.equal(await redis.exists(counter), 0, 'a window that has ended is not brought back by a give');
  await onlyUnder(t, keys);
});

t.test("with a hash tag in the prefix, every key a record's way touches is in one cluster slot", async (t) => {
  // Redis Cluster hashes only what is inside the first {…} of a key: the same for all of these.
  const keys = storeKeys('{tenant-c}:', '{tenant-c}-q');
  const ledger = new RedisLedger(redis, keys, testPayload());
  await ledger.accept(newRecord('c1', 'h1', { upstreams: [U, 'other'] }));
  await ledger.beginDelivery('c1', U, 1, T0);
  await ledger.setState('c1', U, status({ state: 'failed' }), T0 + 1, 'subject-c1');
  await ledger.requeue('c1', U, T0 + 2);
  await ledger.setState('c1', U, status({ state: 'synced', replays: 1 }), T0 + 3, 'subject-c1');
  await ledger.setState('c1', 'other', status({ state: 'synced' }), T0 + 4, 'subject-c1');
  await ledger.queueRanks(U, ['c1']);
  t.equal(await ledger.dropSyncedPayloads(T0 + 10, T0 + 10), 1);
  const all = await redis.keys('*');
  t.ok(all.length > 10, `${all.length} keys written`);
  t.same(all.filter((k) => !k.startsWith('{tenant-c}:')), [], 'all under the hash tag');
});

t.test('a script refuses a call that does not give the keys it declares', async (t) => {
  t.throws(() => runScript(redis, 'drop-payload', ['only-one'], []), /declares 2 keys/);
});
