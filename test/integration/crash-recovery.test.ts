import t from 'tap';
import type { Encounter, Observation, Patient } from '@medplum/fhirtypes';
import { startFhirServer } from '../helpers/fhir-server.js';
import { getJson, postJson, sandboxUpstream, spawnGateway, waitFor, withLedgerDatabase, writeTestConfig } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { openLedgerOf } from '../helpers/store.js';
import { loadConfig } from '../../src/config/load.js';
import { withChanges } from '../fixtures/records.js';

// The gateway process killed in the middle of a push loses nothing and duplicates nothing;
// SIGTERM lets the push in flight finish.

const redis = await startRedis();
const fhir = await startFhirServer();
const cfg = writeTestConfig(await withLedgerDatabase({ redisUrl: redis.url, upstreams: [{ name: 'sandbox', ...sandboxUpstream(fhir.baseUrl) }] }));
const env = { GERBANG_CONFIG: cfg.path, REDIS_URL: redis.url, HOST: '127.0.0.1', PORT: '0' };
const config = loadConfig(env);
// the ledger read beside the gateway (its process is killed in the middle of a push)
const store = await openLedgerOf(config);
t.teardown(async () => {
  await store.close();
  await fhir.stop();
  await redis.stop();
  cfg.cleanup();
});

const ledgerState = async (id: string) => (await store.ledger.stateAt(id, 'sandbox'))?.status;

t.test('SIGKILL mid-push: the job is taken again and the conditional writes make it harmless', async (t) => {
  const a = await spawnGateway(env);
  fhir.setDelay(2_500);
  const res = await postJson(`${a.url}/v1/records?source=crash`, withChanges({ recordId: 'C-1' }));
  t.equal(res.status, 202);
  const id: string = res.body.id;
  await waitFor(async () => (await ledgerState(id))?.state === 'sending', 10_000, 'push in flight');
  a.child.kill('SIGKILL');
  await a.exited;
  // The FHIR server still finishes the request the dead gateway sent: the data is there upstream,
  // but the gateway never saw the answer.
  await new Promise((r) => setTimeout(r, 3_000));
  fhir.setDelay(0);

  const b = await spawnGateway(env);
  t.teardown(async () => {
    b.child.kill('SIGTERM');
    await b.exited;
  });
  const rec = await waitFor(async () => {
    const r = await getJson(`${b.url}/v1/records/${id}`);
    return r.body.status === 'synced' ? r.body : undefined;
  }, 30_000, 'synced after restart');
  t.ok(rec.upstreams.sandbox.attempts >= 2, `pushed again (attempts ${rec.upstreams.sandbox.attempts})`);
  const patients = await fhir.search<Patient>('Patient', { identifier: 'https://fhir.kemkes.go.id/id/nik|3201015503230004' });
  t.equal(patients.length, 1, 'one Patient');
  t.equal((await fhir.search<Encounter>('Encounter', { identifier: 'http://sys-ids.kemkes.go.id/encounter/10000004|crash.C-1' })).length, 1, 'one Encounter');
  for (const m of ['weight', 'height', 'head-circumference', 'muac']) {
    const obs = await fhir.search<Observation>('Observation', { identifier: `http://sys-ids.kemkes.go.id/observation/10000004|crash.C-1.${m}` });
    t.equal(obs.length, 1, `one ${m} Observation`);
  }
});

t.test('SIGTERM: stops taking records, finishes the push in flight, exits 0', async (t) => {
  const g = await spawnGateway(env);
  fhir.setDelay(1_000);
  const res = await postJson(`${g.url}/v1/records?source=crash`, withChanges({ recordId: 'C-2' }));
  const id: string = res.body.id;
  await waitFor(async () => (await ledgerState(id))?.state === 'sending', 10_000, 'push in flight');
  g.child.kill('SIGTERM');
  t.equal(await g.exited, 0, g.output());
  fhir.setDelay(0);
  t.equal((await ledgerState(id))?.state, 'synced', 'the push in flight was finished, not abandoned');
});
