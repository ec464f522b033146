import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { Queue, Worker, type Job } from 'bullmq';
import { Cluster } from 'ioredis';
import { pino } from 'pino';
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { hashTagOf } from '../../src/config/redis-cluster.js';
import { AuthFailures } from '../../src/http/auth/auth-failures.js';
import type { Caller } from '../../src/http/auth/authenticate.js';
import { RecordBudget } from '../../src/http/auth/record-budget.js';
import { freePort } from '../../src/runtime/private-redis.js';
import { describeTarget, producerConnection, untilReady, workerConnection, type RedisConnection, type RedisTarget } from '../../src/runtime/redis-connections.js';
import { Circuit } from '../../src/sync/circuit.js';
import { Dispatcher } from '../../src/sync/dispatcher.js';
import type { PendingDelivery } from '../../src/sync/ledger.js';
import { DeliveryQueues, jobId, queueName, type DeliveryJob } from '../../src/sync/queues.js';
import { storeKeys } from '../../src/sync/store/keys.js';
import { storeMemory } from '../../src/sync/store-pressure.js';
import { TokenCache } from '../../src/upstream/satusehat/token-cache.js';
import { IdentityCache } from '../../src/upstream/satusehat/identity-cache.js';
import { startRedisCluster } from '../helpers/redis-cluster.js';
import { startSatusehatServer } from '../helpers/satusehat-server.js';

// The parts of the gateway that stay in Redis once the ledger is in PostgreSQL (queues, circuits,
// record budgets, the dispatcher's lock, the SATUSEHAT caches), each through the gateway's own
// classes and connections, against a real three-node Redis Cluster.

// With a password, so that the credentials of REDIS_URL are seen to reach every node.
const cluster = await startRedisCluster({ password: 'cluster-test-password' });
const logger = pino({ level: 'silent' });
const target: RedisTarget = { url: cluster.url, cluster: true };
const connections: RedisConnection[] = [];
const producer = () => {
  const c = producerConnection(target, logger);
  connections.push(c);
  return c;
};
const worker = () => {
  const c = workerConnection(target, logger);
  connections.push(c);
  return c;
};
const redis = producer();
await untilReady(redis, target);
const keys = storeKeys('{gw-test}:', '{gw-test-q}');
const admin = cluster.client();
t.teardown(async () => {
  for (const c of connections) c.disconnect();
  await cluster.stop();
});

const slotOf = async (key: string) => Number(await admin.cluster('KEYSLOT', key));

/** Every key on every primary, with the port of the node holding it. */
async function keysByNode(): Promise<Array<{ key: string; port: number }>> {
  const out: Array<{ key: string; port: number }> = [];
  for (const port of cluster.ports) {
    for (const key of await cluster.node(port).keys('*')) out.push({ key, port });
  }
  return out;
}

t.test('the gateway connects to the cluster it is given, and it is a cluster of three primaries', async (t) => {
  t.ok(redis instanceof Cluster, 'redis.cluster: an ioredis Cluster client');
  t.equal((redis as Cluster).nodes('master').length, 3, 'it found the three primaries');
  t.equal(await redis.set(`${keys.prefix}hello`, 'x'), 'OK');
  t.match(cluster.url, /^redis:\/\/:cluster-test-password@/, 'REDIS_URL carries the password');
  t.notMatch(describeTarget(target), /password/, 'what the log says of the target names hosts only');
  const without = producerConnection({ url: cluster.url.replace(/:cluster-test-password@/g, ''), cluster: true }, logger);
  connections.push(without);
  await sleep(1_000); // as long as the others took to be ready
  t.not(without.status, 'ready', 'without the password the client never gets the slot map');
  await t.rejects(without.get(`${keys.prefix}hello`), 'and its commands are refused');
  // Keys without a shared tag do spread over the nodes: what the tagged prefixes prevent below.
  const slots = new Set(await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => slotOf(`gw-untagged:${k}`))));
  t.ok(slots.size > 1, 'untagged keys fall in different slots');
});

t.test('the producer fails fast while the cluster is away (a 503 the app retries), instead of queueing', async (t) => {
  const away = producerConnection({ url: `redis://127.0.0.1:${await freePort()}`, cluster: true }, logger);
  connections.push(away);
  const started = Date.now();
  await t.rejects(away.get(`${keys.prefix}x`), /startup nodes|not ready|offline/i, 'an error, which ingest answers with 503 store.unavailable');
  t.ok(Date.now() - started < 3_000, `refused within 3 s (${Date.now() - started} ms)`);
});

t.test('a cluster configuration whose prefix has no hash tag is refused; BullMQ would fail with one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-cluster-config-'));
  const file = join(dir, 'gerbang.json');
  const base = JSON.parse(readFileSync(new URL('../../mappings/demo-facilities.json', import.meta.url), 'utf8')) as { facilities: unknown };
  const write = (redisPart: object, ledger?: object) =>
    writeFileSync(file, JSON.stringify({ upstreams: [{ name: 'outbox', kind: 'outbox', directory: join(dir, 'outbox') }], facilities: base.facilities, redis: redisPart, ...(ledger ? { ledger } : {}) }));
  const refusal = (redisPart: object, ledger?: object): string => {
    write(redisPart, ledger);
    try {
      loadConfig({ GERBANG_CONFIG: file, REDIS_URL: cluster.url, HOST: '127.0.0.1' });
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      throw err;
    }
    return '';
  };
  t.match(refusal({ cluster: true, keyPrefix: 'gw:' }), /\/redis\/keyPrefix: "gw:" has no hash tag/);
  t.match(refusal({ cluster: true, queuePrefix: 'gw-q' }), /\/redis\/queuePrefix: "gw-q" has no hash tag/);
  t.notMatch(refusal({ cluster: true }), /hash tag/, 'the defaults on a cluster are tagged');
  t.equal(refusal({ cluster: true }), '', 'with the ledger in PostgreSQL (the default) a cluster is accepted');
  t.match(refusal({ cluster: true }, { store: 'redis' }), /ledger must be in PostgreSQL/, 'the Redis ledger is refused on a cluster');

  // What the refusal saves an operator from: BullMQ's scripts touch several keys of a queue.
  const untagged = new Queue('push-x', { connection: worker(), prefix: 'gw-untagged-q' });
  await t.rejects(untagged.add('push', { recordId: 'r', version: 1 }, { jobId: 'r.v1' }), /CROSSSLOT|slot/i, 'an untagged queue prefix fails at the first job');
  await untagged.close();
});

t.test('DeliveryQueues: jobs by id once each, prioritised, taken by a BullMQ worker', async (t) => {
  const ranks = new Map([['rec-1', 1], ['rec-2', 2], ['rec-3', 1]]);
  const queues = new DeliveryQueues(redis, ['satusehat', 'fhir'], keys, { queueRanks: async (_u, ids) => ids.map((id) => ranks.get(id) ?? 1) });
  t.teardown(() => queues.close());
  const jobs: DeliveryJob[] = [{ recordId: 'rec-1', version: 1 }, { recordId: 'rec-2', version: 1 }, { recordId: 'rec-3', version: 2 }];
  await queues.enqueueMany(jobs, ['satusehat', 'fhir']);
  await queues.enqueueMany(jobs, ['satusehat', 'fhir']); // a dispatcher that crashed before deliveriesQueued
  await queues.enqueueMany([{ recordId: 'rec-1', version: 1, replay: 1 }], ['satusehat']);
  const counts = await queues.queue('satusehat').getJobCounts('prioritized', 'waiting');
  t.equal(counts.prioritized! + counts.waiting!, 4, 'three versions and one replay, none twice');
  t.equal((await queues.queue('fhir').getJobCounts('prioritized', 'waiting')).prioritized, 3);
  t.equal((await queues.queue('satusehat').getJob(jobId('rec-2', 1)))?.opts.priority, 2, 'the rank is the priority');

  const seen: string[] = [];
  const done = new Promise<void>((resolve) => {
    const w = new Worker<DeliveryJob>(queueName('satusehat'), async (job: Job<DeliveryJob>) => {
      seen.push(job.id!);
      if (seen.length === 4) resolve();
    }, { connection: worker(), prefix: keys.queuePrefix, concurrency: 1 });
    t.teardown(() => w.close());
  });
  await done;
  t.strictSame(seen.slice(0, 2).sort(), [jobId('rec-1', 1), jobId('rec-3', 2)].sort(), 'rank 1 before rank 2');
  t.strictSame(new Set(seen), new Set([jobId('rec-1', 1), jobId('rec-2', 1), jobId('rec-3', 2), jobId('rec-1', 1, 1)]), 'every job, once');
});

t.test('the dispatcher lock: one dispatcher at a time across processes, the next takes over on release', async (t) => {
  // An inbox in memory: what the ledger's outbox gives the dispatcher (not Redis' business here).
  const inbox = (items: PendingDelivery[]) => {
    const calls = { pending: 0 };
    return {
      calls,
      items,
      pendingDeliveries: async (max: number) => {
        calls.pending++;
        return items.slice(0, max);
      },
      deliveriesQueued: async (done: readonly PendingDelivery[]) => {
        items.splice(0, done.length);
      },
    };
  };
  const ledgerA = inbox([{ recordId: 'lock-1', version: 1 }]);
  const ledgerB = inbox([{ recordId: 'lock-2', version: 1 }]);
  const connA = producer();
  const connB = producer();
  const queues = new DeliveryQueues(connA, ['satusehat'], keys, { queueRanks: async (_u, ids) => ids.map(() => 1) });
  t.teardown(() => queues.close());
  const a = new Dispatcher({ redis: connA, keys, ledger: ledgerA, queues, upstreams: ['satusehat'], logger });
  a.start();
  await until(() => ledgerA.items.length === 0);
  const b = new Dispatcher({ redis: connB, keys, ledger: ledgerB, queues, upstreams: ['satusehat'], logger });
  b.start();
  await sleep(300);
  t.equal(ledgerB.calls.pending, 0, 'the second dispatcher waits while the first holds the lock');
  t.ok(await redis.get(keys.dispatcherLock), 'the lock is held');
  await a.close();
  await until(() => ledgerB.items.length === 0);
  t.ok(ledgerB.calls.pending > 0, 'released: the other one dispatches');
  t.ok(await queues.queue('satusehat').getJob(jobId('lock-2', 1)), 'its delivery became a job');
  await b.close();
  t.equal(await redis.get(keys.dispatcherLock), null, 'closing releases the lock');
});

t.test('the circuit: shared by every process, on the cluster', async (t) => {
  const cfg = { failureThreshold: 3, failureRate: 0.5, windowSize: 20, openSeconds: 10, maxOpenSeconds: 25 };
  const a = new Circuit(worker(), 'up-cluster', cfg, 5_000, keys);
  const b = new Circuit(worker(), 'up-cluster', cfg, 5_000, keys);
  let now = 1_000_000;
  for (let i = 0; i < 2; i++) t.equal(await a.record(false, false, now), 'closed');
  t.equal(await b.record(false, false, now), 'open', 'failures of both processes count together');
  t.strictSame(await b.admit(now + 1), { go: false, waitMs: 9_999 });
  now += 10_000;
  t.strictSame(await a.admit(now), { go: true, probe: true }, 'one probe');
  t.strictSame(await b.admit(now), { go: false, waitMs: 5_000 }, 'not two');
  t.equal(await a.record(true, true, now), 'closed');
  t.equal(await b.state(), 'closed');
});

t.test('the record budget and the failed-authentication count, on the cluster', async (t) => {
  const budget = new RecordBudget(redis, 100, keys);
  const caller = { keyId: 'app-1', recordsPerMinute: 100 } as Caller;
  t.equal((await budget.take(caller, 64)).granted, 64);
  t.equal((await budget.take(caller, 64)).granted, 36, 'never more than what is left');
  const spent = await budget.take(caller, 1);
  t.equal(spent.granted, 0);
  t.ok(spent.retryAfterSeconds >= 1 && spent.retryAfterSeconds <= 60, 'until the window ends');
  await budget.give(caller, 10);
  t.equal((await budget.take(caller, 20)).granted, 10, 'what was given back');
  t.equal(Number(await redis.get(keys.recordBudget('app-1'))), 100, 'the counter is the gateway key');

  const failures = new AuthFailures(redis, 2, keys);
  t.equal(await failures.failed('203.0.113.9'), undefined);
  t.equal(await failures.failed('203.0.113.9'), undefined);
  const wait = await failures.failed('203.0.113.9');
  t.ok(wait !== undefined && wait >= 1 && wait <= 60, 'the third failure a minute waits');
});

t.test("@fastify/rate-limit's Redis store counts on the cluster", async (t) => {
  const app = Fastify();
  await app.register(rateLimit, { global: true, max: 2, timeWindow: 60_000, redis, nameSpace: keys.rateLimit, skipOnError: false, keyGenerator: () => 'key-1' });
  app.get('/', async () => 'ok');
  t.teardown(() => app.close());
  const codes = [];
  for (let i = 0; i < 3; i++) codes.push((await app.inject('/')).statusCode);
  t.strictSame(codes, [200, 200, 429]);
  const counted = (await keysByNode()).filter((k) => k.key.startsWith(keys.rateLimit));
  t.equal(counted.length, 1, 'one counter, under the prefix');
});

t.test('the SATUSEHAT token cache: one token request across processes, cached under the prefix', async (t) => {
  const org = '100001';
  const creds = { clientId: 'client-cluster', clientSecret: 'secret-cluster' };
  const srv = await startSatusehatServer({ clients: [{ ...creds, organizationId: org }], penaltySeconds: 1 });
  t.teardown(() => srv.close());
  const cache = (r: RedisConnection) => new TokenCache({ redis: r, keyPrefix: keys.prefix, authUrl: srv.authBase, credentials: { [org]: creds }, penaltySeconds: 1 });
  const [one, two] = [cache(worker()), cache(worker())];
  const [ta, tb] = await Promise.all([one.get(org), two.get(org)]);
  t.equal(ta, tb, 'both processes use the same token');
  t.equal(srv.tokenRequests(creds.clientId), 1, 'the lock let one of them ask');
  const key = TokenCache.tokenKey(creds.clientId, keys.prefix);
  t.equal(await redis.get(key), ta);
  t.ok(await one.invalidate(org, ta), 'dropped after a 401');
  t.not(await two.get(org), ta, 'a new token');
  t.equal(srv.tokenRequests(creds.clientId), 2);

  const ids = new IdentityCache(worker(), 'hmac-secret', srv.fhirBase, 60, keys.prefix);
  await ids.set('patient', ['3201010101010001'], 'P0001');
  t.equal(await ids.get('patient', ['3201010101010001']), 'P0001');
});

t.test('every key of a prefix lives in the one slot of its hash tag, on one node', async (t) => {
  const all = await keysByNode();
  for (const prefix of [keys.prefix, keys.queuePrefix]) {
    const mine = all.filter((k) => k.key.startsWith(prefix));
    t.ok(mine.length >= 3, `${prefix}: keys were written (${mine.length})`);
    const slots = new Set(await Promise.all(mine.map((k) => slotOf(k.key))));
    t.strictSame([...slots], [await slotOf(`{${hashTagOf(prefix)}}`)], `${prefix}: one slot, the tag's`);
    t.equal(new Set(mine.map((k) => k.port)).size, 1, `${prefix}: one node`);
  }
  const circuit = all.find((k) => k.key === keys.circuit('up-cluster'));
  t.equal(circuit, undefined, 'a closed circuit leaves no key (it was written and deleted in its slot)');
});

t.test('a resharding moves the queues\' slot mid-delivery: jobs added before and after are all processed', async (t) => {
  const queues = new DeliveryQueues(redis, ['moving'], keys, { queueRanks: async (_u, ids) => ids.map(() => 1) });
  t.teardown(() => queues.close());
  const slot = await slotOf(keys.queuePrefix);
  const before = await cluster.ownerOf(slot);
  await queues.enqueueMany([{ recordId: 'm-1', version: 1 }, { recordId: 'm-2', version: 1 }], ['moving']);
  const dest = cluster.ports.find((p) => p !== before)!;
  await cluster.moveSlot(slot, dest);
  t.equal(await cluster.ownerOf(slot), dest, 'the slot now lives on another node');
  await queues.enqueueMany([{ recordId: 'm-3', version: 1 }, { recordId: 'm-1', version: 1 }], ['moving']);
  const seen = new Set<string>();
  await new Promise<void>((resolve) => {
    const w = new Worker<DeliveryJob>(queueName('moving'), async (job: Job<DeliveryJob>) => {
      seen.add(job.id!);
      if (seen.size === 3) resolve();
    }, { connection: worker(), prefix: keys.queuePrefix });
    t.teardown(() => w.close());
  });
  t.strictSame([...seen].sort(), [jobId('m-1', 1), jobId('m-2', 1), jobId('m-3', 1)], 'the producer followed the slot (MOVED), and the job id still deduplicates');
  const budget = new RecordBudget(redis, 5, keys);
  const caller = { keyId: 'app-moving', recordsPerMinute: 5 } as Caller;
  await budget.take(caller, 3);
  const keySlot = await slotOf(keys.prefix);
  const keyOwner = await cluster.ownerOf(keySlot);
  await cluster.moveSlot(keySlot, cluster.ports.find((p) => p !== keyOwner)!);
  t.not(await cluster.ownerOf(keySlot), keyOwner);
  t.equal((await budget.take(caller, 3)).granted, 2, 'the budget counted on across the move of its slot');
});

t.test('store pressure reads the fullest primary of the cluster', async (t) => {
  const fullest = cluster.ports[1]!;
  await cluster.node(fullest).config('SET', 'maxmemory', String(4 * 1024 * 1024));
  t.teardown(() => cluster.node(fullest).config('SET', 'maxmemory', '0'));
  const m = await storeMemory(redis);
  t.equal(m?.maxBytes, 4 * 1024 * 1024, 'the only capped node is the fullest one');
});

t.test('the Lua scripts that stay in Redis name no key beyond the ones they declare', async (t) => {
  // Computed keys (K.<name>(…) of the preamble) are the Redis ledger's; these must not use them.
  const stay = [
    ...['circuit-admit', 'circuit-record', 'budget-take', 'budget-give', 'window-count', 'history-read', 'history-remember'].map((name) => `sync/store/scripts/${name}`),
    ...['renew-if-held', 'delete-if-held'].map((name) => `locks/scripts/${name}`),
  ];
  for (const name of stay) {
    const text = readFileSync(new URL(`../../src/${name}.lua`, import.meta.url), 'utf8');
    const code = text.split('\n').filter((l) => !l.trimStart().startsWith('--')).join('\n');
    t.notMatch(code, /\bK\.\w+\(/, `${name}: no key built at run time`);
    for (const m of code.matchAll(/redis\.call\('(\w+)',\s*([^,)]+)/g)) t.match(m[2]!.trim(), /^(KEYS\[\d\]|key)$/, `${name}: ${m[1]} on a declared key`);
  }
});

async function until(cond: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
