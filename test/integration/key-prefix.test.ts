import { Redis } from 'ioredis';
import t from 'tap';
import { hashApiKey } from '../../src/http/auth/api-keys.js';
import { withChanges } from '../fixtures/records.js';
import { getJson, startGateway, waitFor } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { startSatusehatServer } from '../helpers/satusehat-server.js';
import { childRecord, postAll, satusehatFacilities, satusehatUpstream, seedPeople, untilAllSynced } from '../helpers/satusehat-drain.js';

// Two gateways with their own prefixes (redis.keyPrefix, redis.queuePrefix) share one Redis: each
// keeps its own records, counts and queues, and writes nothing outside its prefixes.

const redis = await startRedis({ appendonly: false });
const peek = new Redis(redis.url);
const key = 'k-prefix-test-0123456789abcdef0123456789';
const tenant = (name: string) =>
  startGateway({ redisUrl: redis.url, redis: { keyPrefix: `${name}:`, queuePrefix: `${name}-q` }, apiKeys: [{ id: 'admin', hash: hashApiKey(key), role: 'admin' }] });
const a = await tenant('tenant-a');
const b = await tenant('tenant-b');
t.teardown(async () => {
  peek.disconnect();
  await a.close();
  await b.close();
  await redis.stop();
});

const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
const post = async (url: string) => {
  const res = await fetch(`${url}/v1/records?source=prefix`, { method: 'POST', headers: auth, body: JSON.stringify(withChanges({ recordId: 'KP-1' })) });
  return { status: res.status, body: (await res.json()) as { id: string; outcome: string } };
};
const stateAt = async (url: string, id: string) => {
  const res = await fetch(`${url}/v1/records/${id}`, { headers: auth });
  return ((await res.json()) as { upstreams?: Record<string, { state: string }> }).upstreams?.outbox?.state;
};

t.test('the same record is new to each gateway, is delivered by each, and every key is under its prefix', async (t) => {
  const first = await post(a.url);
  const second = await post(b.url);
  t.equal(first.body.outcome, 'created');
  t.equal(second.body.outcome, 'created', "the other gateway's record is not a duplicate: its ledger is its own");
  await waitFor(async () => (await stateAt(a.url, first.body.id)) === 'synced', 15_000, 'synced at a');
  await waitFor(async () => (await stateAt(b.url, second.body.id)) === 'synced', 15_000, 'synced at b');
  // a failed authentication and the status API, so their keys are written too
  t.equal((await getJson(`${a.url}/v1/me`)).status, 401);
  const summary = await fetch(`${a.url}/v1/sync/summary`, { headers: auth });
  const totals = ((await summary.json()) as { upstreams: Array<{ totals: { counts: { synced: number } } }> }).upstreams[0]!.totals;
  t.equal(totals.counts.synced, 1, "a's counts hold a's record only");
  const keys = await peek.keys('*');
  t.ok(keys.some((k) => k.startsWith('tenant-a:')) && keys.some((k) => k.startsWith('tenant-b-q:')), 'both wrote');
  t.same(keys.filter((k) => !/^tenant-[ab](:|-q:)/.test(k)), [], 'no key outside the prefixes');
});

t.test('the SATUSEHAT token, identity and resend-marker caches live under the prefix too', async (t) => {
  const srv = await startSatusehatServer();
  const gw = await startGateway({ redisUrl: redis.url, redis: { keyPrefix: 'tenant-s:', queuePrefix: 'tenant-s-q' }, upstreams: [satusehatUpstream(srv)], facilities: satusehatFacilities() });
  t.teardown(async () => {
    await gw.close();
    await srv.close();
  });
  const records = [childRecord(901), childRecord(902)];
  await seedPeople(srv, records);
  const sent = await postAll(gw.url, 'prefix-ss', records);
  await untilAllSynced(gw.url, sent, 30_000);
  const keys = (await peek.keys('*')).filter((k) => !/^tenant-[ab](:|-q:)/.test(k));
  for (const cache of ['tenant-s:token:', 'tenant-s:ss:id:', 'tenant-s:ss:sent:']) t.ok(keys.some((k) => k.startsWith(cache)), `${cache}* written`);
  t.same(keys.filter((k) => !/^tenant-s(:|-q:)/.test(k)), [], 'no key outside the prefixes');
});
