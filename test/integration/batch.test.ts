import { readFileSync } from 'node:fs';
import t from 'tap';
import type { Observation } from '@medplum/fhirtypes';
import { getJson, waitFor } from '../helpers/gateway.js';
import { startStack } from '../helpers/stack.js';
import { validAnthropometry, validScreening, withChanges } from '../fixtures/records.js';

// A backlog after days offline: $batch as JSON or NDJSON, one result per record in order,
// bad records answered in their place, the batch never sunk.

const { fhir, gw } = await startStack(t);

async function batch(body: string, contentType: string, query = '') {
  const res = await fetch(`${gw.url}/v1/records/$batch${query}`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

t.test('JSON array: accepted, duplicate and refused in order, with a summary', async (t) => {
  const records = [
    withChanges({ recordId: 'B-1' }),
    withChanges({ recordId: 'B-2', weightKg: 9800 }),
    withChanges({ recordId: 'B-1' }),
    validScreening,
  ];
  const res = await batch(`[${records.map((r) => JSON.stringify(r)).join(',')}, {"kind": oops}]`, 'application/json', '?source=backlog');
  t.equal(res.status, 200);
  const body = JSON.parse(res.text);
  t.same(body.results.map((r: { index: number; result: string }) => `${r.index}:${r.result}`), ['0:accepted', '1:refused', '2:duplicate', '3:accepted', '4:refused']);
  t.equal(body.results[1].outcome.issue[0].details.coding[0].code, 'value.grams-as-kg');
  t.equal(body.results[2].id, body.results[0].id, 'a duplicate answers with the existing id');
  t.equal(body.results[4].outcome.issue[0].details.coding[0].code, 'request.not-json');
  t.same(body.summary, { received: 5, accepted: 2, duplicate: 1, refused: 2 });
  await waitFor(async () => (await getJson(`${gw.url}/v1/records/${body.results[3].id}`)).body.status === 'synced', 15_000, 'synced');
});

t.test('NDJSON through an adapter, answered as NDJSON', async (t) => {
  const sample = (name: string) => JSON.stringify(JSON.parse(readFileSync(new URL(`../fixtures/samples/${name}.json`, import.meta.url), 'utf8')));
  const lines = [sample('posyandu-ilp-vrynd__kunjungan_balita__01'), sample('posyandu-ilp-vrynd__kunjungan_lansia__01'), '{"not": "a visit"}'].join('\n');
  const res = await batch(lines, 'application/x-ndjson', '?source=posyandu-ilp-vrynd&posyandu=3201010001-02');
  t.match(res.type, /x-ndjson/);
  const out = res.text.trim().split('\n').map((l) => JSON.parse(l));
  t.same(out.slice(0, 3).map((r) => `${r.index}:${r.result}:${r.kind ?? ''}`), ['0:accepted:anthropometry', '1:accepted:screening', '2:refused:']);
  t.equal(out[2].outcome.issue[0].details.coding[0].code, 'adapter.no-record');
  t.same(out[3].summary, { received: 3, accepted: 2, duplicate: 0, refused: 1 });
});

t.test('records of one child keep their order through to the upstream', async (t) => {
  const child = { ...validAnthropometry.subject, nik: '3201011003230007', sex: 'male', birthDate: '2023-03-10' };
  const visits = ['2025-06-05', '2025-07-05', '2025-08-05', '2025-09-05', '2025-10-05'].map((d, i) =>
    withChanges({ recordId: `ORD-${i}`, occurredAt: d, subject: child, weightKg: 10 + i / 10 }),
  );
  const res = await batch(visits.map((v) => JSON.stringify(v)).join('\n'), 'application/x-ndjson', '?source=order');
  const ids = res.text.trim().split('\n').slice(0, 5).map((l) => JSON.parse(l).id as string);
  t.equal(ids.filter(Boolean).length, 5, res.text);
  for (const id of ids) await waitFor(async () => (await getJson(`${gw.url}/v1/records/${id}`)).body.status === 'synced', 20_000, `${id} synced`);
  const posts = fhir.requests.filter((r) => r.method === 'POST');
  t.ok(posts.length >= 5);
  const weights = await Promise.all(visits.map(async (_, i) => (await fhir.search<Observation>('Observation', { identifier: `http://sys-ids.kemkes.go.id/observation/10000004|order.ORD-${i}.weight` }))[0]));
  const written = weights.map((w) => Date.parse(w?.meta?.lastUpdated ?? ''));
  t.same([...written].sort((a, b) => a - b), written, 'written upstream in the order the kader recorded them');
  const gains = await Promise.all(ids.map(async (id) => (await getJson(`${gw.url}/v1/records/${id}`)).body.indicators.growth.weightGain.status));
  t.same(gains, ['B', 'T', 'T', 'T', 'T'], 'each judged against the one before it in the batch');
});

t.test('a device clock that is off, and a batch dated in the future, are said (dates unchanged)', async (t) => {
  const ahead = new Date(Date.now() + 3 * 3_600_000).toISOString();
  const res = await batch(JSON.stringify([withChanges({ recordId: 'CLK-1', occurredAt: ahead }), withChanges({ recordId: 'CLK-2', occurredAt: ahead })]), 'application/json', `?source=clock&deviceTime=${encodeURIComponent(ahead)}`);
  const body = JSON.parse(res.text);
  t.same(body.results.map((r: { result: string }) => r.result), ['accepted', 'accepted']);
  t.equal(body.results[0].warnings.issue[0].details.coding[0].code, 'date.clock-ahead');
  t.equal(body.summary.warnings.length, 2);
  t.match(body.summary.warnings[0], /180 menit/);
});

t.test('not a list', async (t) => {
  const res = await batch('{"kind": "anthropometry"}', 'application/json');
  const body = JSON.parse(res.text);
  t.equal(body.results[0].outcome.issue[0].details.coding[0].code, 'batch.not-a-list');
});
