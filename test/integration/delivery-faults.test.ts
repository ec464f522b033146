import t from 'tap';
import type { Observation, Patient } from '@medplum/fhirtypes';
import { getJson, postJson, waitFor } from '../helpers/gateway.js';
import { startStack } from '../helpers/stack.js';
import { withChanges } from '../fixtures/records.js';

// Upstream outages, rejections, and Redis going away, against real servers.

const { redis, fhir, gw } = await startStack(t, { timeouts: { connectMs: 500, headersMs: 1_000, bodyMs: 1_000 } });

const recordState = async (id: string) => (await getJson(`${gw.url}/v1/records/${id}`)).body;
const until = (id: string, state: string) =>
  waitFor(async () => {
    const r = await recordState(id);
    return r.upstreams?.sandbox?.state === state ? r : undefined;
  }, 20_000, `record ${id} ${state}`);

t.test('upstream answers 503 twice, then recovers: retried with backoff, synced once', async (t) => {
  fhir.failNext(2, 503);
  const res = await postJson(`${gw.url}/v1/records?source=faults`, withChanges({ recordId: 'F-503' }));
  const rec = await until(res.body.id, 'synced');
  t.equal(rec.upstreams.sandbox.attempts, 3);
  const patients = await fhir.search<Patient>('Patient', { identifier: 'https://fhir.kemkes.go.id/id/nik|3201015503230004' });
  t.equal(patients.length, 1);
});

t.test('retrying shows the next attempt time and the last error', async (t) => {
  fhir.failNext(1, 429, { retryAfter: '2' });
  const res = await postJson(`${gw.url}/v1/records?source=faults`, withChanges({ recordId: 'F-429' }));
  const retrying = await until(res.body.id, 'retrying');
  t.equal(retrying.upstreams.sandbox.lastError.httpStatus, 429);
  const wait = Date.parse(retrying.upstreams.sandbox.nextAttemptAt) - Date.parse(retrying.upstreams.sandbox.updatedAt);
  t.ok(wait >= 1_900, `Retry-After honoured (${wait} ms)`);
  await until(res.body.id, 'synced');
});

t.test('upstream rejects the content (422): the record is parked as failed with the OperationOutcome', async (t) => {
  const outcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: 'rule 10441 failed' }] };
  fhir.failNext(1, 422, { body: outcome });
  const before = fhir.requests.length;
  const res = await postJson(`${gw.url}/v1/records?source=faults`, withChanges({ recordId: 'F-422' }));
  const failed = await until(res.body.id, 'failed');
  t.equal(failed.status, 'failed');
  t.equal(failed.upstreams.sandbox.attempts, 1, 'not retried');
  t.same(failed.upstreams.sandbox.outcome, outcome);
  t.equal(failed.upstreams.sandbox.lastError.code, 'upstream.http-422');
  await new Promise((r) => setTimeout(r, 500));
  t.equal(fhir.requests.length, before + 1);
});

t.test('upstream down for a while (connections reset), then back: every record goes through once', async (t) => {
  fhir.setDown(true);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await postJson(`${gw.url}/v1/records?source=outage`, withChanges({ recordId: `O-${i}`, weightKg: 9 + i / 10 }));
    t.equal(res.status, 202, 'ingest does not depend on the upstream');
    ids.push(res.body.id);
  }
  await until(ids[0]!, 'retrying');
  await new Promise((r) => setTimeout(r, 1_500));
  fhir.setDown(false);
  for (const id of ids) await until(id, 'synced');
  for (let i = 0; i < 5; i++) {
    const obs = await fhir.search<Observation>('Observation', { identifier: `http://sys-ids.kemkes.go.id/observation/10000004|outage.O-${i}.weight` });
    t.equal(obs.length, 1, `O-${i} weight once`);
  }
});

t.test('an upstream that hangs past the timeout is retried, and the retry is harmless', async (t) => {
  fhir.setDelay(1_500);
  const res = await postJson(`${gw.url}/v1/records?source=faults`, withChanges({ recordId: 'F-slow' }));
  await until(res.body.id, 'retrying');
  fhir.setDelay(0);
  const rec = await until(res.body.id, 'synced');
  t.ok(rec.upstreams.sandbox.attempts >= 2);
  const obs = await fhir.search<Observation>('Observation', { identifier: 'http://sys-ids.kemkes.go.id/observation/10000004|faults.F-slow.weight' });
  t.equal(obs.length, 1, 'the first (timed-out) push and the retry made one Observation');
});

t.test('Redis down at ingest: a fast answer, and the gateway recovers by itself', async (t) => {
  await redis.kill();
  const started = Date.now();
  const res = await postJson(`${gw.url}/v1/records?source=faults`, withChanges({ recordId: 'F-redis' }));
  const took = Date.now() - started;
  if (gw.config.ledger.store === 'postgres') {
    // The ledger and its outbox are in PostgreSQL: the record is kept, and becomes a job once Redis is back.
    t.equal(res.status, 202, 'accepted into the PostgreSQL ledger while Redis is away');
  } else {
    t.equal(res.status, 503);
    t.equal(res.body.issue[0].details.coding[0].code, 'store.unavailable');
    t.ok(res.headers.get('retry-after'));
  }
  t.ok(took < 3_000, `answered in ${took} ms`);
  t.equal((await getJson(`${gw.url}/readyz`)).status, 503);
  await redis.restart();
  const again = await waitFor(async () => {
    const r = await postJson(`${gw.url}/v1/records?source=faults`, withChanges({ recordId: 'F-redis' }));
    return r.status === 202 ? r : undefined;
  }, 20_000, 'ingest back');
  if (res.status === 202) t.equal(again.body.id, res.body.id, 'the same record');
  await until(again.body.id, 'synced');
  const obs = await fhir.search<Observation>('Observation', { identifier: 'http://sys-ids.kemkes.go.id/observation/10000004|faults.F-redis.weight' });
  t.equal(obs.length, 1, 'accepted and synced after Redis came back, once');
});
