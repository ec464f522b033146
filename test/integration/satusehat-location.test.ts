import t from 'tap';
import type { Encounter, Location } from '@medplum/fhirtypes';
import { startGateway } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { startSatusehatServer } from '../helpers/satusehat-server.js';
import { ORG, childRecord, postAll, recordState, satusehatFacilities, satusehatUpstream, seedPeople, untilAllSynced } from '../helpers/satusehat-drain.js';

// facilities.posyandu.*.locationId from the configuration file to SATUSEHAT, through the gateway:
// a posyandu whose Location its puskesmas registered itself is referenced by that id; the other
// posyandu of the puskesmas get the Location Gerbang finds or creates.

const redis = await startRedis({ appendonly: false });
const srv = await startSatusehatServer();
// Registered by the puskesmas with an identifier of its own: Gerbang's would not find it.
const registered = (await srv.repo.createResource<Location>({
  resourceType: 'Location',
  identifier: [{ system: `http://sys-ids.kemkes.go.id/location/${ORG}`, value: 'R-MELATI' }],
  name: 'Ruang Posyandu Melati',
  status: 'active',
  managingOrganization: { reference: `Organization/${ORG}` },
})).id!;
const facilities = satusehatFacilities() as { posyandu: Record<string, Record<string, unknown>> };
facilities.posyandu['3201010001-02'] = { ...facilities.posyandu['3201010001-02'], locationId: registered };
const gw = await startGateway({ redisUrl: redis.url, upstreams: [satusehatUpstream(srv)], facilities });
t.teardown(async () => {
  await gw.close();
  await srv.close();
  await redis.stop();
});

t.test('the configured Location is the one the visits at that posyandu take place in', async (t) => {
  const records = [childRecord(1, 'LOC-1', { posyandu: '3201010001-02' }), childRecord(2, 'LOC-2', { posyandu: '3201010001-02' }), childRecord(3, 'LOC-3')];
  await seedPeople(srv, records);
  const sent = await postAll(gw.url, 'lokasi', records);
  await untilAllSynced(gw.url, sent, 20_000);

  const encounters = await srv.resources<Encounter>('Encounter');
  const at = (recordId: string) => encounters.find((e) => e.identifier?.some((i) => i.value?.includes(recordId)))?.location?.[0]?.location?.reference;
  t.equal(at('LOC-1'), `Location/${registered}`);
  t.equal(at('LOC-2'), `Location/${registered}`);
  t.not(at('LOC-3'), `Location/${registered}`, 'a posyandu without locationId has a Location of its own');
  t.equal((await srv.resources('Location')).length, 2, "the registered one and 3201010001-01's, created once");
  t.equal(srv.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/Location')).length, 1, "one Location search, 3201010001-01's: the configured posyandu is never looked up");
  const state = await recordState(gw.url, sent[0]!.id);
  t.ok(JSON.stringify(state).includes(registered), 'its record names the Location among the ids written');
});
