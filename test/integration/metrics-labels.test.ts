import t from 'tap';
import { errorCodes } from '../../src/errors/codes.js';
import { recordSchemas } from '../../src/records/schemas/index.js';
import { postJson, startGateway } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { withChanges } from '../fixtures/records.js';

// Metric labels come from closed sets: what a client sends as `kind` never becomes a label value
// (a NIK sent as kind would be published on /metrics, and each new value is a series kept for good).

const redis = await startRedis();
const gw = await startGateway({ redisUrl: redis.url });
t.teardown(async () => {
  await gw.close();
  await redis.stop();
});

const NIK = '3201015503230004';

t.test('client-chosen kinds are counted as `other`', async (t) => {
  const kinds = [NIK, 'Siti Aminah', ...Array.from({ length: 60 }, (_, i) => `kind-${i}-${Math.random().toString(36).slice(2)}`)];
  for (const kind of kinds) await postJson(`${gw.url}/v1/records?source=labels`, withChanges({ kind }));
  await fetch(`${gw.url}/v1/records/$batch?source=labels`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(kinds.slice(0, 10).map((kind) => withChanges({ kind }))) });
  await postJson(`${gw.url}/v1/records?source=labels`, withChanges({ recordId: 'M-ok' }));
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  t.notMatch(text, new RegExp(NIK), 'the NIK sent as kind is not on /metrics');
  t.notMatch(text, /Siti|kind-\d/, 'nor any other kind a client made up');
  const allowedKinds = new Set([...Object.keys(recordSchemas), 'other']);
  const seen = [...text.matchAll(/^gerbang_records_(?:accepted|refused)_total\{([^}]*)\}/gm)].map((m) => m[1]!);
  t.ok(seen.length > 0, `${seen.length} series`);
  for (const labels of seen) {
    const kind = /kind="([^"]*)"/.exec(labels)?.[1];
    const reason = /reason="([^"]*)"/.exec(labels)?.[1];
    t.ok(allowedKinds.has(kind ?? ''), `kind "${kind}" is a kind or other`);
    if (reason !== undefined) t.ok(reason === 'other' || Object.hasOwn(errorCodes, reason), `reason "${reason}" is an error code`);
  }
  t.match(text, /gerbang_records_refused_total\{kind="other",reason="record.invalid"\} 7\d/, 'the made-up kinds are counted together');
  t.match(text, /gerbang_records_accepted_total\{kind="anthropometry",outcome="created"\} 1/);
});
