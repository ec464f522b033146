import t from 'tap';
import { postJson, startGateway } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { validAnthropometry } from '../fixtures/records.js';

// The headers a health app's answers carry: no framing (the dashboard's replay buttons cannot be
// clickjacked), a CSP that allows only Gerbang's own assets, nosniff, no referrer, and answers
// with personal data never stored. Public probes say ok without upstream URLs or paths.

const redis = await startRedis();
const UPSTREAM_URL = 'http://127.0.0.1:9/secret-path/fhir';
const gw = await startGateway({ redisUrl: redis.url, upstreams: [{ name: 'sandbox', kind: 'fhir', baseUrl: UPSTREAM_URL }] });
t.teardown(async () => {
  await gw.close();
  await redis.stop();
});

t.test('every answer: no framing, nosniff, no referrer, a CSP', async (t) => {
  for (const path of ['/dashboard/', '/dashboard/dashboard.js', '/v1/me', '/healthz', '/no-such-path', '/docs/json']) {
    const res = await fetch(`${gw.url}${path}`);
    await res.arrayBuffer();
    const csp = res.headers.get('content-security-policy') ?? '';
    t.match(csp, /frame-ancestors 'none'/, `${path}: frame-ancestors 'none'`);
    t.equal(res.headers.get('x-frame-options'), 'DENY', `${path}: X-Frame-Options`);
    t.equal(res.headers.get('x-content-type-options'), 'nosniff', `${path}: nosniff`);
    t.equal(res.headers.get('referrer-policy'), 'no-referrer', `${path}: Referrer-Policy`);
  }
  const page = await fetch(`${gw.url}/dashboard/`);
  const csp = page.headers.get('content-security-policy') ?? '';
  t.match(csp, /script-src 'self'(;|$)/, 'the dashboard runs only its own script');
  t.notMatch(csp, /script-src[^;]*unsafe-inline/, 'no inline script');
});

t.test('answers with personal data are not stored; public ones may be', async (t) => {
  const accepted = await postJson(`${gw.url}/v1/records?source=headers`, validAnthropometry);
  t.equal(accepted.status, 202);
  t.equal(accepted.headers.get('cache-control'), 'no-store', 'POST /v1/records');
  for (const path of [`/v1/records/${accepted.body.id}`, '/v1/records', '/v1/sync/failures', '/v1/sync/summary', '/v1/me']) {
    const res = await fetch(`${gw.url}${path}`);
    await res.arrayBuffer();
    t.equal(res.headers.get('cache-control'), 'no-store', `${path}: no-store`);
  }
  const map = await fetch(`${gw.url}/v1/$map?source=headers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(validAnthropometry) });
  await map.arrayBuffer();
  t.equal(map.headers.get('cache-control'), 'no-store', '$map');
  const schema = await fetch(`${gw.url}/v1/schemas/anthropometry`);
  await schema.arrayBuffer();
  t.not(schema.headers.get('cache-control'), 'no-store', 'a schema holds no person');
});

t.test('public probes say ok without upstream URLs or paths', async (t) => {
  const ready = await fetch(`${gw.url}/readyz`);
  const text = await ready.text();
  t.equal(ready.status, 200);
  t.equal(JSON.parse(text).status, 'ready');
  t.notMatch(text, /secret-path|127\.0\.0\.1|http:/, `no URL in ${text}`);
  t.same(JSON.parse(text).upstreams, [{ name: 'sandbox', kind: 'fhir' }]);
  t.same(await (await fetch(`${gw.url}/healthz`)).json(), { status: 'ok' });
});
