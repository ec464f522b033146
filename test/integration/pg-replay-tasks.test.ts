import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pino from 'pino';
import t from 'tap';
import type { Config } from '../../src/config/types.js';
import type { CanonicalRecord } from '../../src/records/schemas/index.js';
import { expiringStores } from '../../src/roles/stores.js';
import { BulkReplays } from '../../src/sync/bulk-replay.js';
import { PgReplayTasks } from '../../src/sync/pg/pg-replay-tasks.js';
import type { ReplayTask, ReplayTaskStore } from '../../src/sync/replay-tasks.js';
import { RedisLedger } from '../../src/sync/store/redis-ledger.js';
import { RetentionSweeper } from '../../src/sync/retention.js';
import { RedisReplayTasks } from '../../src/sync/store/redis-replay-tasks.js';
import { migratedPool } from '../helpers/ledger-database.js';
import { startRedis } from '../helpers/redis-server.js';
import { testKeys, testPayload } from '../helpers/store.js';

// A bulk replay's task reads the same from Redis and from PostgreSQL: as saved, its progress
// replacing it, gone a week after it finished (or, unfinished, a week after it was asked for).
// Then a whole bulk replay runs with each store (its jobs in Redis either way).

const DAY = 86_400_000;
const redisServer = await startRedis({ appendonly: false });
const redis = new Redis(redisServer.url);
const pool = await migratedPool();
t.teardown(async () => {
  redis.disconnect();
  await redisServer.stop();
});

const redisKeys = testKeys('replays');
const pgTasks = new PgReplayTasks(pool);
const stores: { name: string; tasks: ReplayTaskStore; dropExpired(): Promise<number>; stored(): Promise<number> }[] = [
  { name: 'redis', tasks: new RedisReplayTasks(redis, redisKeys), dropExpired: async () => 0, stored: async () => (await redis.keys(redisKeys.replayTask('*'))).length },
  { name: 'postgres', tasks: pgTasks, dropExpired: () => pgTasks.dropExpired(), stored: async () => Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM replay_tasks')).rows[0]!.n) },
];

const filter = { upstreams: ['sandbox', 'outbox'], posyandu: '3201010001-01', reason: 'upstream.http-422', from: 1_700_000_000_000, state: 'failed' as const };
const taskAt = (createdMs: number, over: Partial<ReplayTask> = {}): ReplayTask => ({
  id: randomUUID(), status: 'queued', requestedBy: 'key-admin', createdAt: new Date(createdMs).toISOString(), filter, ...over,
});

for (const s of stores) {
  const { tasks } = s;

  t.test(`${s.name}: a task reads back as saved, and its progress replaces it`, async (t) => {
    const now = Date.now();
    const task = taskAt(now - 1234);
    await tasks.save(task);
    t.same(await tasks.get(task.id), task, 'as saved, filter and all');
    await tasks.save({ ...task, status: 'running' });
    t.same(await tasks.get(task.id), { ...task, status: 'running' });
    const done: ReplayTask = { ...task, status: 'done', matched: 0, replayed: 0, finishedAt: new Date(now).toISOString() };
    await tasks.save(done);
    t.same(await tasks.get(task.id), done, 'counts of 0 are counts, not absent');
    t.equal(await tasks.get(randomUUID()), undefined, 'an unknown id');
    t.equal(await tasks.get('not-a-task'), undefined, 'an id that is no uuid');
    t.equal(await tasks.get(task.id.toUpperCase()), undefined, 'ids are lower case, as made');
  });

  t.test(`${s.name}: a week after it finished (or, unfinished, after it was asked for), a task is gone`, async (t) => {
    const now = Date.now();
    const recent = taskAt(now - 9 * DAY, { status: 'done', matched: 3, replayed: 2, finishedAt: new Date(now - 6 * DAY).toISOString() });
    const old = taskAt(now - 9 * DAY, { status: 'done', matched: 3, replayed: 2, finishedAt: new Date(now - 8 * DAY).toISOString() });
    const waiting = taskAt(now - 6 * DAY, { status: 'running' });
    const stuck = taskAt(now - 8 * DAY, { status: 'running' });
    for (const task of [recent, old, waiting, stuck]) await tasks.save(task);
    t.same(await tasks.get(recent.id), recent, 'finished six days ago: kept');
    t.equal(await tasks.get(old.id), undefined, 'finished eight days ago: gone');
    t.same(await tasks.get(waiting.id), waiting, 'asked for six days ago, not finished: kept');
    t.equal(await tasks.get(stuck.id), undefined, 'asked for eight days ago, never finished: gone');
    const before = await s.stored();
    const dropped = await s.dropExpired();
    t.equal(await s.stored(), before - dropped, 'the sweep deletes what it says');
    if (s.name === 'postgres') t.equal(dropped, 2, 'the two expired rows');
    t.same(await tasks.get(recent.id), recent, 'and keeps the others');
    t.equal(await s.dropExpired(), 0);
  });

  t.test(`${s.name}: a bulk replay runs and its task says what it did`, async (t) => {
    const keys = testKeys(`bulk-${s.name}`);
    const ledger = new RedisLedger(redis, keys, testPayload());
    const place = { regency: '3201', puskesmas: 'P3201010101', posyandu: '3201010001-01' };
    for (const id of ['f1', 'f2']) {
      await ledger.accept({
        id, source: 'app', record: { kind: 'anthropometry', recordId: `R-${id}` } as unknown as CanonicalRecord, contentHash: `h-${id}`,
        bundle: { resourceType: 'Bundle', type: 'transaction', entry: [] }, indicators: {}, warnings: [], subject: `subject-${id}`, ...place,
        receivedAt: new Date(), upstreams: ['up'],
      });
      await ledger.setState(id, 'up', { state: 'failed', version: 1, attempts: 3, updatedAt: new Date().toISOString() }, Date.now(), `subject-${id}`);
    }
    const config = { facilities: { puskesmas: {}, posyandu: {} } } as unknown as Config;
    const replays = new BulkReplays({ redis, queuePrefix: keys.queuePrefix, tasks, ledger, search: ledger, config, logger: pino({ level: 'silent' }) });
    const worker = new Redis(redisServer.url, { maxRetriesPerRequest: null });
    t.teardown(async () => {
      await replays.close();
      worker.disconnect();
    });
    replays.startWorker(worker);
    const asked = await replays.request({ filter: { upstreams: ['up'] }, scope: undefined, requestedBy: 'key-admin' });
    t.same(await replays.get(asked.id), asked, 'the task is there at once');
    let task: ReplayTask | undefined;
    for (let i = 0; i < 200 && task?.status !== 'done'; i += 1) {
      await new Promise((r) => setTimeout(r, 50));
      task = await replays.get(asked.id);
    }
    t.match(task, { id: asked.id, status: 'done', matched: 2, replayed: 2, requestedBy: 'key-admin', createdAt: asked.createdAt });
    t.ok(task?.finishedAt && Date.parse(task.finishedAt) >= Date.parse(asked.createdAt));
    t.match((await ledger.stateAt('f1', 'up'))?.status, { state: 'queued', replays: 1 }, 'the records are queued again');
  });
}

t.test('the retention sweep deletes the expired replay tasks and history rows of PostgreSQL', async (t) => {
  const now = Date.now();
  const expired = taskAt(now - 20 * DAY, { status: 'done', finishedAt: new Date(now - 10 * DAY).toISOString() });
  const kept = taskAt(now - DAY);
  await pgTasks.save(expired);
  await pgTasks.save(kept);
  await pool.query("INSERT INTO subject_history (subject_key, what, field, entry, expires_at) VALUES ('k-old', 'weighing', '2020-01', '{}', now() - interval '1 day'), ('k-new', 'weighing', '2025-01', '{}', now() + interval '1 day')");
  const ledger = new RedisLedger(redis, testKeys('sweep'), testPayload());
  const sweeper = new RetentionSweeper({
    ledger, logger: pino({ level: 'silent' }), expiring: expiringStores({ kind: 'postgres', pool }),
    retention: { payloadDays: 30, unsyncedPayloadDays: 90, sweepIntervalMinutes: 60 },
  });
  await sweeper.sweep();
  const ids = (await pool.query<{ id: string }>('SELECT id FROM replay_tasks')).rows.map((r) => r.id);
  t.notOk(ids.includes(expired.id), 'the task finished ten days ago is deleted');
  t.ok(ids.includes(kept.id), 'the one asked for yesterday stays');
  t.same((await pool.query<{ subject_key: string }>("SELECT subject_key FROM subject_history WHERE subject_key LIKE 'k-%'")).rows, [{ subject_key: 'k-new' }], 'the expired history row is deleted, the other stays');
  t.same(expiringStores({ kind: 'redis', redis, keys: testKeys('sweep') }), [], 'Redis expires its keys itself');
});
