import t from 'tap';
import { hashApiKey } from '../../src/http/auth/api-keys.js';
import { validAnthropometry, withChanges } from '../fixtures/records.js';
import { startGateway } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';

// The whole matrix: every route × no key, an unknown key and each role × a place in and out of
// the key's scope. Puskesmas A (P3201010101, regency 3201) has posyandu 3201010001-01 and -02;
// puskesmas B (P5271010101, regency 5271) has 5271010002-01.

const IN = '3201010001-01';
const OUT = '5271010002-01';
const keys = {
  submitter: 'gbk_test-submitter-a',
  monitor: 'gbk_test-monitor-a',
  admin: 'gbk_test-admin-a',
  adminB: 'gbk_test-admin-b',
  slow: 'gbk_test-rate-limited',
  app: 'gbk_test-app-bound',
};
const scopeA = { puskesmas: ['P3201010101'] };
const apiKeys = [
  { id: 'sub-a', hash: hashApiKey(keys.submitter), role: 'submitter', scope: scopeA },
  { id: 'mon-a', hash: hashApiKey(keys.monitor), role: 'monitor', scope: { regency: ['3201'] } },
  { id: 'adm-a', hash: hashApiKey(keys.admin), role: 'admin', scope: scopeA },
  { id: 'adm-b', hash: hashApiKey(keys.adminB), role: 'admin', scope: { posyandu: [OUT] } },
  { id: 'slow', hash: hashApiKey(keys.slow), role: 'monitor', rateLimitPerMinute: 3 },
  { id: 'app', hash: hashApiKey(keys.app), role: 'submitter', source: 'sim-posyandu', scope: scopeA },
];

type Who = 'none' | 'unknown' | 'submitter' | 'monitor' | 'admin';
const WHO: Who[] = ['none', 'unknown', 'submitter', 'monitor', 'admin'];
const auth = (who: Who): Record<string, string> =>
  who === 'none' ? {} : { authorization: `Bearer ${who === 'unknown' ? 'gbk_nobody' : keys[who]}` };

const redis = await startRedis();
// The matrix sends some 50 requests without a valid key within seconds, more than an address may
// fail in a minute; that throttle has its own test (scope.test.ts).
const gw = await startGateway({ redisUrl: redis.url, apiKeys, server: { host: '127.0.0.1', authFailuresPerMinute: 1000 } });
t.teardown(async () => {
  await gw.close();
  await redis.stop();
});

async function call(method: string, path: string, who: Who | Record<string, string>, body?: unknown) {
  const headers = typeof who === 'string' ? auth(who) : who;
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, body: json, type: res.headers.get('content-type') ?? '', headers: res.headers };
}

let n = 0;
const record = (posyandu: string) => withChanges({ recordId: `ACL-${++n}`, posyandu });

// One record in each puskesmas, posted by that puskesmas's admin.
const inRec = await call('POST', '/v1/records', 'admin', record(IN));
const outRec = await call('POST', '/v1/records', { authorization: `Bearer ${keys.adminB}` }, record(OUT));
t.equal(inRec.status, 202);
t.equal(outRec.status, 202);
const inId: string = inRec.body.id;
const outId: string = outRec.body.id;

interface Route {
  name: string;
  /** what each role gets, in scope and out of scope */
  expect: Record<'submitter' | 'monitor' | 'admin', [number, number]>;
  run(who: Who, inScope: boolean): ReturnType<typeof call>;
}

const routes: Route[] = [
  {
    name: 'POST /v1/records',
    expect: { submitter: [202, 403], monitor: [403, 403], admin: [202, 403] },
    run: (who, inScope) => call('POST', '/v1/records', who, record(inScope ? IN : OUT)),
  },
  {
    name: 'POST /v1/$map',
    expect: { submitter: [200, 200], monitor: [200, 200], admin: [200, 200] },
    run: (who, inScope) => call('POST', '/v1/$map', who, record(inScope ? IN : OUT)),
  },
  {
    name: 'GET /v1/records/{id}',
    expect: { submitter: [200, 403], monitor: [200, 403], admin: [200, 403] },
    run: (who, inScope) => call('GET', `/v1/records/${inScope ? inId : outId}`, who),
  },
  {
    name: 'GET /v1/records?posyandu=',
    expect: { submitter: [200, 403], monitor: [200, 403], admin: [200, 403] },
    run: (who, inScope) => call('GET', `/v1/records?posyandu=${inScope ? IN : OUT}`, who),
  },
  {
    name: 'GET /v1/sync/summary',
    expect: { submitter: [403, 403], monitor: [200, 200], admin: [200, 200] },
    run: (who) => call('GET', '/v1/sync/summary', who),
  },
  {
    name: 'GET /v1/sync/failures?posyandu=',
    expect: { submitter: [403, 403], monitor: [200, 403], admin: [200, 403] },
    run: (who, inScope) => call('GET', `/v1/sync/failures?posyandu=${inScope ? IN : OUT}`, who),
  },
  {
    name: 'GET /v1/sync/failures?puskesmas=',
    expect: { submitter: [403, 403], monitor: [200, 403], admin: [200, 403] },
    run: (who, inScope) => call('GET', `/v1/sync/failures?puskesmas=${inScope ? 'P3201010101' : 'P5271010101'}`, who),
  },
  {
    // Nothing has failed, so an allowed replay of an in-scope record is "nothing to replay".
    name: 'POST /v1/records/{id}/$retry',
    expect: { submitter: [403, 403], monitor: [403, 403], admin: [409, 403] },
    run: (who, inScope) => call('POST', `/v1/records/${inScope ? inId : outId}/$retry`, who),
  },
  {
    name: 'POST /v1/records/$retry',
    expect: { submitter: [403, 403], monitor: [403, 403], admin: [202, 403] },
    run: (who, inScope) => call('POST', '/v1/records/$retry', who, { puskesmas: inScope ? 'P3201010101' : 'P5271010101' }),
  },
  {
    name: 'GET /v1/me',
    expect: { submitter: [200, 200], monitor: [200, 200], admin: [200, 200] },
    run: (who) => call('GET', '/v1/me', who),
  },
];

for (const route of routes) {
  t.test(route.name, async (t) => {
    for (const who of WHO) {
      for (const inScope of [true, false]) {
        const res = await route.run(who, inScope);
        const want = who === 'none' || who === 'unknown' ? 401 : route.expect[who][inScope ? 0 : 1];
        t.equal(res.status, want, `${who}, ${inScope ? 'in' : 'out of'} scope`);
        if (want >= 400) {
          t.match(res.type, /application\/fhir\+json/, `${who}: an OperationOutcome`);
          t.equal(res.body?.resourceType, 'OperationOutcome');
          const code = res.body?.issue?.[0]?.details?.coding?.[0]?.code;
          if (want === 401) t.equal(code, who === 'none' ? 'auth.required' : 'auth.invalid-key');
          if (want === 403) t.match(code, /^auth\.(forbidden|out-of-scope|scope-unknown)$/);
          if (want === 401) t.equal(res.headers.get('www-authenticate'), 'Bearer realm="gerbang"');
        }
      }
    }
  });
}

t.test('$batch: each record outside the scope is refused on its own; monitors cannot post', async (t) => {
  const send = (who: Who) =>
    fetch(`${gw.url}/v1/records/$batch`, {
      method: 'POST',
      headers: { ...auth(who), 'content-type': 'application/x-ndjson' },
      body: `${JSON.stringify(record(IN))}\n${JSON.stringify(record(OUT))}\n`,
    });
  const res = await send('submitter');
  t.equal(res.status, 200);
  const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
  t.equal(lines[0].result, 'accepted');
  t.equal(lines[1].result, 'refused');
  t.equal(lines[1].code, 'auth.out-of-scope');
  t.equal(lines[1].outcome.issue[0].expression[0], 'posyandu');
  t.equal((await send('monitor')).status, 403);
  t.equal((await send('none')).status, 401);
});

t.test('a monitor sees only its own region in the summary and the record list', async (t) => {
  const res = await call('GET', '/v1/sync/summary', 'monitor');
  const regencies = res.body.upstreams[0].regencies.map((r: { code: string }) => r.code);
  t.same(regencies, ['3201']);
  const list = await call('GET', '/v1/records', 'monitor');
  t.ok(list.body.items.length > 0);
  t.ok(list.body.items.every((i: { posyandu: string }) => i.posyandu.startsWith('3201')), 'no record of puskesmas B');
  const b = await call('GET', '/v1/sync/summary', { authorization: `Bearer ${keys.adminB}` });
  t.same(b.body.upstreams[0].regencies.map((r: { code: string }) => r.code), ['5271']);
});

t.test('a key bound to an app posts as that app only', async (t) => {
  const own = await call('POST', '/v1/records?source=e-kohort', { authorization: `Bearer ${keys.app}` }, record(IN));
  t.equal(own.status, 403);
  t.equal(own.body.issue[0].expression[0], 'source');
});

t.test('public routes need no key and hold no records', async (t) => {
  for (const path of ['/healthz', '/readyz', '/v1/schemas/anthropometry', '/metrics', '/docs/json', '/dashboard/', '/dashboard/dashboard.js']) {
    const res = await fetch(`${gw.url}${path}`);
    t.equal(res.status, 200, path);
    await res.arrayBuffer();
  }
});

t.test('a key over its rate limit gets 429 with Retry-After, as an OperationOutcome', async (t) => {
  const slow = { authorization: `Bearer ${keys.slow}` };
  const statuses = [];
  let last;
  for (let i = 0; i < 5; i++) {
    last = await call('GET', '/v1/me', slow);
    statuses.push(last.status);
  }
  t.same(statuses, [200, 200, 200, 429, 429]);
  t.equal(last?.body.issue[0].code, 'throttled');
  t.ok(Number(last?.headers.get('retry-after')) > 0);
  // another key is not slowed down by it
  t.equal((await call('GET', '/v1/me', 'monitor')).status, 200);
});

t.test('no key, no name or key in any log line', async (t) => {
  const text = gw.logs.join('\n');
  for (const k of Object.values(keys)) t.notOk(text.includes(k), 'no API key in the logs');
  t.notOk(text.includes(validAnthropometry.subject.name));
});
