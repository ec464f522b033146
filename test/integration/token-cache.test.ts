import t from 'tap';
import { Redis } from 'ioredis';
import { TokenCache, TokenUnavailableError, UnknownOrganizationError, type TokenCacheOptions } from '../../src/upstream/satusehat/token-cache.js';
import { startRedis } from '../helpers/redis-server.js';
import { startSatusehatServer, type SatusehatClient, type SatusehatServerHandle } from '../helpers/satusehat-server.js';

// The SATUSEHAT token cache against a real redis-server and the SATUSEHAT test upstream.

const client = (org: string): SatusehatClient => ({ clientId: `client-${org}`, clientSecret: `secret-${org}`, organizationId: org });
const ORGS = ['100001', '100002', '100003', '100004', '100005', '100006'] as const;

const redisServer = await startRedis({ appendonly: false });
const connections: Redis[] = [];
const connect = () => {
  const r = new Redis(redisServer.url);
  connections.push(r);
  return r;
};
const redis = connect();
const srv = await startSatusehatServer({ clients: ORGS.map(client), penaltySeconds: 1 });
t.teardown(async () => {
  await srv.close();
  for (const c of connections) c.disconnect();
  await redisServer.stop();
});

const credentialsFor = (...orgs: string[]) => Object.fromEntries(orgs.map((o) => [o, { clientId: client(o).clientId, clientSecret: client(o).clientSecret }]));

function cache(s: SatusehatServerHandle, orgs: string[], extra: Partial<TokenCacheOptions> = {}) {
  return new TokenCache({ redis: extra.redis ?? redis, authUrl: s.authBase, credentials: credentialsFor(...orgs), penaltySeconds: 1, ...extra });
}

async function fhirStatus(s: SatusehatServerHandle, token: string) {
  const res = await fetch(`${s.fhirBase}/Patient`, { headers: { authorization: `Bearer ${token}` } });
  await res.body?.cancel();
  return res.status;
}

t.test('a token is fetched once, cached under a hash of the client id, with TTL expires_in minus the margin', async (t) => {
  const org = '100001';
  let refreshes = 0;
  const c = cache(srv, [org], { onRefresh: () => refreshes++ });
  const token = await c.get(org);
  t.equal(await fhirStatus(srv, token), 200);
  t.equal(await c.get(org), token);
  t.equal(srv.tokenRequests(client(org).clientId), 1);
  t.equal(refreshes, 1);

  const key = TokenCache.tokenKey(client(org).clientId);
  t.match(key, /^g:token:[0-9a-f]{32}$/);
  t.notMatch(key, client(org).clientId);
  t.equal(await redis.get(key), token);
  const ttl = await redis.pttl(key);
  t.ok(ttl > (3599 - 60 - 5) * 1000 && ttl <= (3599 - 60) * 1000, `TTL from the string expires_in "3599" (${ttl} ms)`);
  for (const k of await redis.keys('*')) t.notMatch((await redis.type(k)) === 'string' ? await redis.get(k) : '', client(org).clientSecret, 'the secret is never stored');
});

t.test('10 concurrent callers in separate processes (own connections) cause one token request', async (t) => {
  const org = '100002';
  let refreshes = 0;
  const caches = Array.from({ length: 10 }, () => cache(srv, [org], { redis: connect(), onRefresh: () => refreshes++ }));
  srv.delayNext(1, 150, { on: 'token' }); // keeps the lock held while the others arrive
  const tokens = await Promise.all(caches.map((c) => c.get(org)));
  t.equal(new Set(tokens).size, 1);
  t.equal(srv.tokenRequests(client(org).clientId), 1);
  t.equal(refreshes, 1);
});

t.test('10 concurrent callers in one process share one request', async (t) => {
  const org = '100003';
  const c = cache(srv, [org]);
  const tokens = await Promise.all(Array.from({ length: 10 }, () => c.get(org)));
  t.equal(new Set(tokens).size, 1);
  t.equal(srv.tokenRequests(client(org).clientId), 1);
});

t.test('refreshes before the platform expires the token; expires_in string honoured', async (t) => {
  const short = await startSatusehatServer({ clients: [client('100004')], tokenLifetimeSeconds: 3 });
  t.teardown(() => short.close());
  const org = '100004';
  let refreshes = 0;
  const c = cache(short, [org], { refreshMarginSeconds: 1, onRefresh: () => refreshes++ });
  const first = await c.get(org);
  const ttl = await redis.pttl(TokenCache.tokenKey(client(org).clientId));
  t.ok(ttl > 1_500 && ttl <= 2_000, `expires_in "3" minus 1 s margin (${ttl} ms)`);
  await new Promise((r) => setTimeout(r, 2_100));
  const second = await c.get(org);
  t.not(second, first, 'a new token');
  t.equal(await fhirStatus(short, first), 200, 'the old one had not expired yet: refreshed early');
  t.equal(refreshes, 2);
  t.equal(short.tokenRequests(client(org).clientId), 2);
});

t.test('invalidate after a 401 drops only the token that was refused', async (t) => {
  const org = '100005';
  const c = cache(srv, [org]);
  const old = await c.get(org);
  srv.revokeTokens(client(org).clientId);
  t.equal(await fhirStatus(srv, old), 401);
  t.equal(await c.invalidate(org, old), true);
  const fresh = await c.get(org);
  t.not(fresh, old);
  t.equal(await fhirStatus(srv, fresh), 200);
  t.equal(await c.invalidate(org, old), false, 'a late 401 for the old token keeps the new one');
  t.equal(await c.get(org), fresh);
  t.equal(srv.tokenRequests(client(org).clientId), 2);
});

t.test('a refused token request starts a penalty: no request until it ends, shared by every process', async (t) => {
  const org = '100006';
  const wrong = new TokenCache({ redis, authUrl: srv.authBase, credentials: { [org]: { clientId: client(org).clientId, clientSecret: 'wrong' } }, penaltySeconds: 1 });
  const err = await wrong.get(org).catch((e: unknown) => e);
  t.type(err, TokenUnavailableError);
  const e = err as TokenUnavailableError;
  t.equal(e.reason, 'rejected');
  t.equal(e.httpStatus, 401);
  t.equal(e.retryAfterSeconds, 1);
  t.notMatch(e.message, 'wrong', 'no secret in the error');
  t.equal(srv.tokenRequests(client(org).clientId), 1);

  const right = cache(srv, [org], { redis: connect() });
  const during = await right.get(org).catch((x: unknown) => x);
  t.equal((during as TokenUnavailableError).reason, 'penalty');
  t.ok((during as TokenUnavailableError).retryAfterSeconds >= 1);
  t.equal(srv.tokenRequests(client(org).clientId), 1, 'the platform was not asked during the penalty');

  await new Promise((r) => setTimeout(r, 1_100));
  const token = await right.get(org);
  t.equal(await fhirStatus(srv, token), 200, 'asked again once the penalty ended');
  t.equal(srv.tokenRequests(client(org).clientId), 2);
});

t.test('a token endpoint nobody answers at: a short pause every caller shares, told as unreachable, not as a penalty', async (t) => {
  const org = '100099'; // its own client: no token of it is cached yet
  // A port nothing listens on: the connection is refused, the platform never saw a request.
  const closed = await startSatusehatServer({ clients: [client(org)] });
  const authBase = closed.authBase;
  await closed.close();
  const first = cache({ ...srv, authBase } as SatusehatServerHandle, [org]);
  const err = (await first.get(org).catch((e: unknown) => e)) as TokenUnavailableError;
  t.equal(err.reason, 'unreachable');
  t.ok(err.retryAfterSeconds <= 5, `a pause of ${err.retryAfterSeconds} s, not the platform's minute`);
  // Another process during that pause: it waits too, and hears the same reason.
  const other = cache({ ...srv, authBase } as SatusehatServerHandle, [org], { redis: connect() });
  const during = (await other.get(org).catch((e: unknown) => e)) as TokenUnavailableError;
  t.equal(during.reason, 'unreachable', 'the pause is not called a penalty');
  t.ok(during.retryAfterSeconds >= 1 && during.retryAfterSeconds <= 5);
});

t.test('a slow token endpoint is cut off by the timeout and counts as a failure', async (t) => {
  const slow = await startSatusehatServer({ clients: [client('100007')] });
  t.teardown(() => slow.close());
  const org = '100007';
  const c = cache(slow, [org], { timeoutMs: 200 });
  slow.delayNext(1, 1_000, { on: 'token' });
  const started = performance.now();
  const err = (await c.get(org).catch((e: unknown) => e)) as TokenUnavailableError;
  t.ok(performance.now() - started < 900, 'bounded');
  t.equal(err.reason, 'unreachable');
  t.equal(err.retryAfterSeconds, 1);
});

t.test('an organization without credentials is a configuration error', async (t) => {
  await t.rejects(cache(srv, []).get('999'), UnknownOrganizationError);
});

t.test('a 429 with a longer Retry-After lengthens the penalty', async (t) => {
  const busy = await startSatusehatServer({ clients: [client('100008')] });
  t.teardown(() => busy.close());
  const org = '100008';
  busy.throttle(1, 5, { on: 'token' });
  const err = (await cache(busy, [org]).get(org).catch((e: unknown) => e)) as TokenUnavailableError;
  t.equal(err.httpStatus, 429);
  t.equal(err.retryAfterSeconds, 5);
});

t.test('a token endpoint briefly unavailable (503 twice) is asked again at once: a token, no penalty', async (t) => {
  const flaky = await startSatusehatServer({ clients: [client('100009')] });
  t.teardown(() => flaky.close());
  const org = '100009';
  flaky.failNext(2, 503, { on: 'token' });
  const token = await cache(flaky, [org]).get(org);
  t.equal(await fhirStatus(flaky, token), 200);
  t.equal(flaky.requests.filter((r) => r.path.endsWith('/accesstoken')).length, 3, 'two 503s, then the token');
  t.equal(await redis.pttl(`${TokenCache.tokenKey(client(org).clientId)}:penalty`), -2, 'no penalty started');

  flaky.failNext(3, 503, { on: 'token' });
  await redis.del(TokenCache.tokenKey(client(org).clientId));
  const err = (await cache(flaky, [org]).get(org).catch((e: unknown) => e)) as TokenUnavailableError;
  t.equal(err.reason, 'rejected', 'three in a row: it counts as failed');
  t.equal(err.httpStatus, 503);
});

t.test('a token endpoint asking for a Retry-After of years is waited out for at most maxRetryAfterSeconds', async (t) => {
  const greedy = await startSatusehatServer({ clients: [client('100010')] });
  t.teardown(() => greedy.close());
  const org = '100010';
  greedy.throttle(1, 999_999_999, { on: 'token' });
  const err = (await cache(greedy, [org], { maxRetryAfterSeconds: 120 }).get(org).catch((e: unknown) => e)) as TokenUnavailableError;
  t.equal(err.httpStatus, 429);
  t.equal(err.retryAfterSeconds, 120);
  const left = await redis.pttl(`${TokenCache.tokenKey(client(org).clientId)}:penalty`);
  t.ok(left > 110_000 && left <= 120_000, `the penalty lasts ${left} ms`);
});
