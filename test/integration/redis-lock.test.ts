import { readdirSync } from 'node:fs';
import t from 'tap';
import { Redis } from 'ioredis';
import { defineLockScripts, deleteIfHeld, RedisLock } from '../../src/locks/redis-lock.js';
import { startRedis } from '../helpers/redis-server.js';

// The one Redis lock (the dispatcher's leader lock, the SATUSEHAT token mutex), alone against a
// real redis-server, under a key prefix of its own: only its holder renews or releases it.

const server = await startRedis({ appendonly: false });
const redis = new Redis(server.url);
const other = new Redis(server.url);
t.teardown(async () => {
  redis.disconnect();
  other.disconnect();
  await server.stop();
});

const PREFIX = 'lock-test:';
let n = 0;
const freshKey = () => `${PREFIX}${++n}`;

async function keysOutside(): Promise<string[]> {
  return (await redis.keys('*')).filter((k) => !k.startsWith(PREFIX));
}

t.test('each script is a file beside the module, defined once per connection', async (t) => {
  const files = readdirSync(new URL('../../src/locks/scripts/', import.meta.url)).filter((f) => f.endsWith('.lua')).sort();
  t.same(files, ['delete-if-held.lua', 'renew-if-held.lua']);
  const fresh = new Redis(server.url);
  t.teardown(() => fresh.disconnect());
  await t.rejects(deleteIfHeld(fresh, freshKey(), 'x'), /not defined on this connection/, 'used before it is defined: a clear error, not a silent eval');
  defineLockScripts(fresh);
  defineLockScripts(fresh);
  t.equal(await deleteIfHeld(fresh, freshKey(), 'x'), false, 'defined twice without harm; nothing to delete');
});

t.test('taken only when free, by one holder at a time', async (t) => {
  const key = freshKey();
  const a = new RedisLock(redis, key, 5_000);
  const b = new RedisLock(other, key, 5_000);
  t.not(a.token, b.token, 'every lock has its own token');
  // Two connections: which take reaches Redis first is not known, only that one alone wins.
  const [a1, b1, a2] = await Promise.all([a.take(), b.take(), a.take()]);
  t.equal([a1, b1, a2].filter(Boolean).length, 1, 'one take wins; neither the other lock nor a second take of the same one gets it');
  t.equal(await redis.get(key), b1 ? b.token : a.token, "the key holds the winner's token");
  const ttl = await redis.pttl(key);
  t.ok(ttl > 4_000 && ttl <= 5_000, `it lapses by itself (${ttl} ms left)`);
  t.same(await keysOutside(), []);
});

t.test('renewed only by its holder; a holder that lost it cannot take it back by renewing', async (t) => {
  const key = freshKey();
  const a = new RedisLock(redis, key, 300);
  const b = new RedisLock(other, key, 10_000);
  t.equal(await a.renew(), false, 'no lock to renew');
  t.ok(await a.take());
  t.equal(await b.renew(), false, 'not renewed by another');
  t.equal(await redis.pttl(key) <= 300, true, 'and its life unchanged');
  await new Promise((r) => setTimeout(r, 400));
  t.equal(await redis.exists(key), 0, 'lapsed: its holder stalled past its life');
  t.equal(await b.hold(), 'taken', 'another takes it over');
  t.equal(await a.renew(), false, 'the stalled holder does not renew it back');
  t.equal(await a.hold(), false, 'nor take it while the other holds it');
  t.equal(await b.hold(), 'renewed', 'the new holder keeps it');
  t.ok((await redis.pttl(key)) > 9_000, 'with a new life');
  t.equal(await redis.get(key), b.token);
});

t.test('released only by its holder', async (t) => {
  const key = freshKey();
  const a = new RedisLock(redis, key, 10_000);
  const b = new RedisLock(other, key, 10_000);
  t.ok(await a.take());
  t.equal(await b.release(), false, 'not released by another');
  t.equal(await redis.get(key), a.token, 'still held');
  t.equal(await a.release(), true);
  t.equal(await redis.exists(key), 0, 'released');
  t.equal(await a.release(), false, 'releasing twice does nothing');
  t.ok(await b.take(), 'free again for the next');
});

t.test('deleteIfHeld: a value another caller replaced is kept', async (t) => {
  defineLockScripts(redis);
  const key = freshKey();
  await redis.set(key, 'old');
  t.equal(await deleteIfHeld(redis, key, 'older'), false);
  t.equal(await redis.get(key), 'old', 'not the value asked for: kept');
  t.equal(await deleteIfHeld(redis, key, 'old'), true);
  t.equal(await redis.exists(key), 0);
  t.same(await keysOutside(), []);
});
