import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import t from 'tap';
import { postJson, startGateway } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { validAncVisit, validAnthropometry, withChanges } from '../fixtures/records.js';

// When the store refuses writes, the Redis client's error carries the refused command with every
// argument: the whole record, names and NIKs. No log line may carry them, the client hears a 503
// (nothing accepted, send again) and not a 500, and an outage writes a bounded number of lines.
// The gateway keeps its ledger in Redis here, so that the refused write is the accept itself; with
// the ledger in PostgreSQL a Redis refusing writes holds up the jobs, not the accept.

const redis = await startRedis();
const gw = await startGateway({ redisUrl: redis.url, ledgerStore: 'redis' });
const admin = new Redis(redis.url);
t.teardown(async () => {
  await admin.config('SET', 'min-replicas-to-write', '0').catch(() => undefined);
  admin.disconnect();
  await gw.close();
  await redis.stop();
});

const sample = JSON.parse(readFileSync(new URL('../fixtures/samples/posyandu-ilp-vrynd__kunjungan_balita__01.json', import.meta.url), 'utf8')) as unknown;

/** Every NIK and name in a value: the strings under keys that say so. */
function personal(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => personal(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'string' && /^(nik|nama|name)(_|$)/i.test(k)) out.push(v);
      else personal(v, out);
    }
  }
  return out;
}

const records = [validAnthropometry, validAncVisit, withChanges({ recordId: 'S-2', subject: { ...validAnthropometry.subject, nik: '3201015503230012', name: 'Dewi Lestari Ningsih' } })] as Array<Record<string, unknown> & { subject: { nik: string; name: string } }>;
const secrets = [...new Set([...records.flatMap((r) => personal(r)), ...personal(sample)])];

/** A NIK also written in groups (spaces, dots, dashes between its digits). */
function nikPattern(nik: string): RegExp {
  return new RegExp(nik.split('').join('[\\s.\\-]*'));
}

t.test('the store refuses writes: 503s, and no NIK or name in any log line', async (t) => {
  t.ok(secrets.length >= 8, `${secrets.length} NIKs and names to look for`);
  // Redis keeps answering reads, and refuses every write. (A full store is refused before it is
  // written to, as store.full: store-pressure.test.ts. Here the store refuses while it looks fine,
  // as it does when it wants replicas it does not have.)
  await admin.config('SET', 'min-replicas-to-write', '1');
  const before = gw.logs.length;

  for (const [i, record] of records.entries()) {
    const res = await postJson(`${gw.url}/v1/records?source=refusal`, record);
    t.equal(res.status, 503, `record ${i}: 503`);
    t.equal(res.body.issue[0].details.coding[0].code, 'store.unavailable');
    t.ok(res.headers.get('retry-after'), 'with Retry-After');
  }
  const adapted = await postJson(`${gw.url}/v1/records?source=posyandu-ilp-vrynd&posyandu=3201010001-02`, sample);
  t.equal(adapted.status, 503, 'through an adapter: 503');

  const batch = await fetch(`${gw.url}/v1/records/$batch?source=refusal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(records) });
  const answer = (await batch.json()) as { results: Array<{ result: string; code: string }>; summary: { refused: number } };
  t.same(answer.results.map((r) => `${r.result}:${r.code}`), records.map(() => 'refused:store.unavailable'), '$batch: each record refused as store.unavailable');
  t.equal(answer.summary.refused, records.length, '$batch ends with its summary');
  const ndjson = await fetch(`${gw.url}/v1/records/$batch?source=posyandu-ilp-vrynd&posyandu=3201010001-02`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: `${JSON.stringify(sample)}\n` });
  t.match(await ndjson.text(), /store\.unavailable/, 'adapter $batch: refused as store.unavailable');

  // a NIK and a name put in a URL are not logged with it either
  await (await fetch(`${gw.url}/v1/records/${records[0]!.subject.nik}?name=${encodeURIComponent(records[0]!.subject.name)}&nik=${records[2]!.subject.nik.replace(/(\d{4})/g, '$1-')}`)).arrayBuffer();
  await (await fetch(`${gw.url}/v1/records/${encodeURIComponent(records[1]!.subject.name)}`)).arrayBuffer();

  // a burst: one line for the error class, not one per record
  for (let i = 0; i < 30; i++) await postJson(`${gw.url}/v1/records?source=refusal`, withChanges({ recordId: `S-burst-${i}` }));
  // let the worker, the dispatcher and the retention sweep meet the refusing store too
  await new Promise((r) => setTimeout(r, 1_500));

  const lines = gw.logs.slice(before);
  t.ok(lines.some((l) => l.includes('store unavailable at ingest')), 'the refusal is logged');
  t.ok(lines.some((l) => /NOREPLICAS/.test(l)), 'with the store\'s own reason (NOREPLICAS)');
  const ingestLines = lines.filter((l) => l.includes('store unavailable at ingest'));
  t.ok(ingestLines.length <= 2, `${ingestLines.length} line(s) for ${records.length * 2 + 32} refused records`);
  t.same(lines.filter((l) => l.includes('"command"') || l.includes('"args"') || l.includes('previousErrors')), [], 'no command or arguments of a Redis call in any line');
  t.same(lines.filter((l) => /"level":50/.test(l) && l.includes('unexpected error')), [], 'no unexpected error (a 500) was logged');

  for (const secret of secrets) {
    const pattern = /^\d{16}$/.test(secret) ? nikPattern(secret) : new RegExp(secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
    t.same(gw.logs.filter((l) => pattern.test(l)), [], `"${secret.slice(0, 4)}…" appears in no log line (of ${gw.logs.length})`);
  }
  await admin.config('SET', 'min-replicas-to-write', '0');
});

t.test('after the store takes writes again, records are accepted', async (t) => {
  const res = await postJson(`${gw.url}/v1/records?source=refusal`, withChanges({ recordId: 'S-after' }));
  t.equal(res.status, 202);
});
