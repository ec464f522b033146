import t from 'tap';
import { Redis } from 'ioredis';
import { Circuit } from '../../src/sync/circuit.js';
import { startRedis } from '../helpers/redis-server.js';
import { testKeys } from '../helpers/store.js';

const server = await startRedis({ appendonly: false });
const redis = new Redis(server.url);
t.teardown(async () => {
  redis.disconnect();
  await server.stop();
});

const cfg = { failureThreshold: 3, failureRate: 0.5, windowSize: 20, openSeconds: 10, maxOpenSeconds: 25 };
const LEASE = 5_000;
const keys = testKeys('circuit');

t.test('opens after failures, rests, lets one probe through, doubles its rest on a failed probe', async (t) => {
  const a = new Circuit(redis, 'up-a', cfg, LEASE, keys);
  const b = new Circuit(redis, 'up-a', cfg, LEASE, keys); // another worker process
  let now = 1_000_000;
  t.same(await a.admit(now), { go: true, probe: false });
  t.equal(await a.record(false, false, now), 'closed');
  for (let i = 0; i < 3; i++) t.equal(await a.record(true, false, now), 'closed', 'pushes through in between count in the window');
  t.equal(await b.record(false, false, now), 'closed', 'two failures: fewer than failureThreshold');
  t.equal(await a.record(false, false, now), 'open', 'failures seen by any process count: three of the last six, half');
  t.same(await b.admit(now + 1), { go: false, waitMs: 9_999 }, 'every process waits');
  t.equal(await a.state(), 'open');

  now += 10_000;
  t.same(await b.admit(now), { go: true, probe: true }, 'rest over: one probe');
  t.same(await a.admit(now), { go: false, waitMs: LEASE }, 'no second probe while the first is out');
  t.equal(await b.record(false, true, now), 'open', 'the probe failed');
  t.same(await a.admit(now + 1), { go: false, waitMs: 19_999 }, 'twice the rest');

  now += 20_000;
  t.same(await a.admit(now), { go: true, probe: true });
  t.equal(await a.record(false, true, now), 'open');
  t.same(await a.admit(now + 1), { go: false, waitMs: 24_999 }, 'capped at maxOpenSeconds');

  now += 25_000;
  t.same(await a.admit(now), { go: true, probe: true });
  t.equal(await a.record(true, false, now), 'half-open', 'a push that was not the probe does not close it');
  t.equal(await a.record(true, true, now), 'closed', 'the probe went through');
  t.same(await b.admit(now), { go: true, probe: false });
});

t.test('a probe whose worker died is taken over after its lease', async (t) => {
  const a = new Circuit(redis, 'up-b', cfg, LEASE, keys);
  let now = 2_000_000;
  for (let i = 0; i < 3; i++) await a.record(false, false, now);
  now += 10_000;
  t.same(await a.admit(now), { go: true, probe: true });
  t.same(await a.admit(now + LEASE - 1), { go: false, waitMs: 1 });
  t.same(await a.admit(now + LEASE), { go: true, probe: true }, 'the lease ran out: a new probe');
});

t.test('while healthy, a process does not ask Redis before and after every push', async (t) => {
  const a = new Circuit(redis, 'up-c', cfg, LEASE, keys);
  const now = 3_000_000;
  await a.admit(now);
  const before = Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1]);
  for (let i = 0; i < 50; i++) {
    await a.admit(now + i);
    await a.record(true, false, now + i);
  }
  const after = Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1]);
  t.ok(after - before <= 2, `${after - before} commands for 50 pushes (the INFO call counts one)`);
  const other = new Circuit(redis, 'up-c', cfg, LEASE, keys);
  for (let i = 0; i < 3; i++) await other.record(false, false, now + 100);
  t.same(await a.admit(now + 200), { go: true, probe: false }, 'within its view, a process may not see the opening yet');
  t.same(await a.admit(now + 1_100), { go: false, waitMs: 9_000 }, 'after it, it does');
});

t.test('a rate over the window, not a run: a platform failing one push in ten never opens it', async (t) => {
  const a = new Circuit(redis, 'up-d', { ...cfg, failureThreshold: 5 }, LEASE, keys);
  const b = new Circuit(redis, 'up-d', { ...cfg, failureThreshold: 5 }, LEASE, keys);
  let now = 4_000_000;
  for (let i = 0; i < 200; i++) {
    const w = i % 2 ? a : b;
    t.same(await w.admit(now), { go: true, probe: false });
    t.equal(await w.record(i % 10 !== 3, false, now), 'closed');
    now += 7;
  }
  for (let i = 0; i < 15; i++) await a.record(true, false, now);
  for (let i = 0; i < 4; i++) t.equal(await a.record(false, false, now), 'closed', 'four failures in a row after fifteen pushes through');
  t.equal(await a.record(false, false, now), 'closed', 'five in a row, but a quarter of the last twenty');
  for (let i = 0; i < 4; i++) await a.record(true, false, now);
  t.equal(await a.record(false, false, now), 'closed', 'six of twenty');
  for (let i = 0; i < 3; i++) await a.record(false, false, now);
  t.equal(await a.record(false, false, now), 'open', 'ten of the last twenty: half');
});

t.test('oks a healthy process did not tell Redis still count in the window', async (t) => {
  const a = new Circuit(redis, 'up-e', { ...cfg, failureThreshold: 2 }, LEASE, keys);
  const now = 5_000_000;
  await a.admit(now);
  for (let i = 0; i < 10; i++) t.equal(await a.record(true, false, now + i), 'closed');
  t.equal(await a.record(false, false, now + 20), 'closed');
  t.equal(await a.record(false, false, now + 21), 'closed', 'two of twelve, not two of two');
});
