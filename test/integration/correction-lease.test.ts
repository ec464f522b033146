import t from 'tap';
import type { Observation } from '@medplum/fhirtypes';
import { startFhirServer } from '../helpers/fhir-server.js';
import { getJson, postJson, sandboxUpstream, startGateway, waitFor } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { withChanges } from '../fixtures/records.js';

// A correction waits for the push of the version it corrects while that push's lease
// (sendingUntil) lasts. The lease was not renewed while the push went on, so a push in parts (a
// server capping transactions) that outlived it wrote its last part after the correction's push:
// the record read synced at version 2 while the engine held version 1's value. Found by the fault
// tests of issue 15 (pg-scale-out, under load), on both ledgers; the worker now renews the lease
// as BullMQ renews the job's lock (Ledger.renewSending).

const redis = await startRedis();
const fhir = await startFhirServer();
const gw = await startGateway({ redisUrl: redis.url, upstreams: [{ name: 'sandbox', ...sandboxUpstream(fhir.baseUrl) }] });
t.teardown(async () => {
  await gw.close();
  await fhir.stop();
  await redis.stop();
});

const MUAC = 'http://sys-ids.kemkes.go.id/observation/10000004|lease.LEASE-1.muac';

t.test(
  'a correction accepted while a two-part push of its first version outlives the lease: the engine ends with the correction',
  async (t) => {
    fhir.setDelay(500);
    // the first version's second part (it carries the MUAC) is answered long after the 2 s lease
    fhir.delayContaining('"value":14.2', 5_000);
    const v1 = await postJson(`${gw.url}/v1/records?source=lease`, withChanges({ recordId: 'LEASE-1' }));
    t.equal(v1.status, 202);
    await waitFor(() => fhir.requests.length >= 1, 10_000, 'the first part answered, the second in flight');
    const v2 = await postJson(`${gw.url}/v1/records?source=lease`, withChanges({ recordId: 'LEASE-1', muacCm: 15.1 }));
    t.equal(v2.body.version, 2, 'a correction');
    await waitFor(async () => {
      const r = await getJson(`${gw.url}/v1/records/${v1.body.id}`);
      return r.body.upstreams.sandbox.state === 'synced' && r.body.upstreams.sandbox.version === 2;
    }, 20_000, 'version 2 synced');
    await waitFor(() => fhir.requests.some((r) => r.body.includes('"value":14.2') && r.method === 'POST'), 20_000, "the first version's late part answered");
    fhir.delayContaining('"value":14.2', 0);
    const [muac] = await fhir.search<Observation>('Observation', { identifier: MUAC });
    t.equal(muac?.valueQuantity?.value, 15.1, "the engine holds the correction's MUAC");
  },
);
