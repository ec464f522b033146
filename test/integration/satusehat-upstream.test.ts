import t from 'tap';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Bundle, Encounter, EpisodeOfCare, Immunization, Medication, MedicationDispense, Observation, Patient, Practitioner, Procedure } from '@medplum/fhirtypes';
import { defaultMaxAnswerBytes, loadConfig } from '../../src/config/load.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import { decide } from '../../src/sync/retry-policy.js';
import { ResendMarker } from '../../src/upstream/satusehat/resend-marker.js';
import { Corrections, readWithdrawals } from '../../src/upstream/corrections.js';
import { SatusehatUpstream, type SatusehatUpstreamOptions } from '../../src/upstream/satusehat/satusehat-upstream.js';
import type { PushResult } from '../../src/upstream/upstream.js';
import { newbornAnthropometry, validAncVisit, validAnthropometry, validImmunization, withChanges, type RecordLike } from '../fixtures/records.js';
import { waitFor } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { DEFAULT_CLIENT, NIK_IBU_SYSTEM, NIK_SYSTEM, startSatusehatServer } from '../helpers/satusehat-server.js';

// The SATUSEHAT upstream against the SATUSEHAT test server (real FHIR engine, SATUSEHAT's rules) and
// a real redis-server: Bundles as Gerbang builds them, delivered the way SATUSEHAT accepts them.

const ORG = DEFAULT_CLIENT.organizationId;
const CHILD_NIK = validAnthropometry.subject.nik;
let clock = Date.parse('2025-11-06T02:00:00Z');

const redisServer = await startRedis({ appendonly: false });
const redis = new Redis(redisServer.url);
const srv = await startSatusehatServer({ now: () => clock });
const config = loadConfig({});
// The posyandu of the fixtures has a supervising bidan: a kader's records are hers to answer for.
const SUPERVISOR_NIK = '3201014404800002';
const facilities = {
  ...config.facilities,
  posyandu: {
    ...config.facilities.posyandu,
    '3201010001-01': { ...config.facilities.posyandu['3201010001-01']!, supervisorNik: SUPERVISOR_NIK },
    // A posyandu only the Location race below uses, so its Location is not on the server before.
    '3201010001-09': { name: 'Posyandu Anggrek (test)', puskesmas: 'P3201010101', village: '3201010001', supervisorNik: SUPERVISOR_NIK },
    // Posyandu whose Location the puskesmas registered at SATUSEHAT itself (locationId, below).
    '3201010001-05': { name: 'Posyandu Mawar (test)', puskesmas: 'P3201010101', village: '3201010001', supervisorNik: SUPERVISOR_NIK },
    '3201010001-06': { name: 'Posyandu Dahlia (test)', puskesmas: 'P3201010101', village: '3201010001', supervisorNik: SUPERVISOR_NIK },
  },
};
let refreshes = 0;
const opened: SatusehatUpstream[] = [];
t.teardown(async () => {
  for (const u of opened) await u.close();
  await srv.close();
  redis.disconnect();
  await redisServer.stop();
});

function upstream(extra: Partial<SatusehatUpstreamOptions> = {}): SatusehatUpstream {
  const u = new SatusehatUpstream({
    name: 'satusehat',
    authUrl: srv.authBase,
    baseUrl: srv.fhirBase,
    credentials: { [ORG]: { clientId: DEFAULT_CLIENT.clientId, clientSecret: DEFAULT_CLIENT.clientSecret } },
    timeouts: { connectMs: 2_000, headersMs: 5_000, bodyMs: 5_000, totalMs: 20_000 },
    maxAnswerBytes: defaultMaxAnswerBytes,
    redis,
    corrections: new Corrections(readWithdrawals()),
    onTokenRefresh: () => refreshes++,
    now: () => clock,
    ...extra,
  });
  opened.push(u);
  return u;
}
const up = upstream();

function bundleOf(record: RecordLike): Bundle {
  const r = prepareRecord(record, 'default', facilities, new Date(clock), undefined);
  if (!r.ok) throw new Error(`fixture does not prepare: ${JSON.stringify(r.issues)}`);
  return r.prepared.bundle;
}

const anthropometry = (recordId: string, changes: RecordLike = {}) => withChanges({ recordId, ...changes }, validAnthropometry as unknown as RecordLike);
const ctx = (recordId: string, version = 1) => ({ recordId: `default.${recordId}`, version });
// waiting-identity and not-sent carry fields the other kinds lack; read them loosely.
const outcome = (r: PushResult) => r.outcome as unknown as Record<string, unknown>;

const count = (method: string, path: string) => srv.requests.filter((r) => r.method === method && r.path === `/fhir-r4/v1${path}`).length;
const transactions = () => count('POST', '');

async function encounterOf(recordId: string): Promise<Encounter | undefined> {
  return (await srv.resources<Encounter>('Encounter')).find((e) => e.identifier?.some((i) => i.value === `default.${recordId}`));
}
async function observationsOf(recordId: string): Promise<Observation[]> {
  return (await srv.resources<Observation>('Observation')).filter((o) => o.identifier?.some((i) => i.value?.startsWith(`default.${recordId}.`)));
}
async function identifierCounts(resourceType: string, recordId: string): Promise<number[]> {
  const counts = await srv.countByIdentifier(resourceType);
  return Object.entries(counts)
    .filter(([k]) => k.endsWith(`|default.${recordId}`) || k.includes(`|default.${recordId}.`))
    .map(([, n]) => n);
}

let childIhs = '';
let supervisorId = '';

t.test('a record goes to SATUSEHAT with IHS references and without the entries SATUSEHAT owns', async (t) => {
  childIhs = await srv.addPatient({ nik: CHILD_NIK, name: 'Siti Aminah', birthDate: '2023-03-15', gender: 'female' });
  supervisorId = await srv.addPractitioner({ nik: SUPERVISOR_NIK, name: 'Bidan Desa', gender: 'female' });
  const bundle = bundleOf(validAnthropometry);
  const res = await up.push(bundle, ctx('PB-2025-000123'));
  t.same(res.outcome, { kind: 'delivered' });

  const enc = await encounterOf('PB-2025-000123');
  t.ok(enc, 'the Encounter is stored');
  t.equal(enc?.subject?.reference, `Patient/${childIhs}`);
  t.equal(enc?.serviceProvider?.reference, `Organization/${ORG}`);
  t.match(enc?.location?.[0]?.location?.reference, /^Location\/[0-9a-f-]{36}$/);
  const obs = await observationsOf('PB-2025-000123');
  t.equal(obs.length, bundle.entry!.filter((e) => e.resource?.resourceType === 'Observation').length, 'every Observation is stored');
  for (const o of obs) {
    t.equal(o.subject?.reference, `Patient/${childIhs}`);
    t.equal(o.encounter?.reference, `Encounter/${enc?.id}`);
  }
  t.same(obs[0]?.performer, [{ reference: `Practitioner/${supervisorId}` }], 'the supervisor answers; a kader is no performer (rule 10383)');
  t.same(enc?.participant?.[0]?.individual, { reference: `Practitioner/${supervisorId}` }, 'the supervisor attends (rule 10119)');
  t.notMatch(JSON.stringify(enc), SUPERVISOR_NIK, 'the health worker’s NIK does not travel');
  t.equal((await srv.resources('Patient')).length, 1, 'no Patient was created');
  t.equal((await srv.resources('Organization')).length, 0, 'the puskesmas Organization is referenced, not created');
  t.equal((await srv.resources('Location')).length, 1, 'the posyandu Location is created once');

  const byType = (type: string) => res.resources?.filter((r) => r.resourceType === type) ?? [];
  t.equal(res.resources?.length, bundle.entry?.length, 'an id for every entry of Gerbang’s Bundle');
  t.same(byType('Patient').map((r) => r.id), [childIhs]);
  t.same(byType('Organization').map((r) => r.id), [ORG]);
  t.same(byType('Encounter').map((r) => [r.id, r.status]), [[enc?.id, '201 Created']]);
  for (const r of res.resources ?? []) t.equal(r.fullUrl, bundle.entry?.find((e) => e.fullUrl === r.fullUrl)?.fullUrl);

  for (const k of await redis.keys('*')) {
    t.notMatch(k, CHILD_NIK, 'no Redis key holds a NIK');
    if ((await redis.type(k)) === 'string') t.notMatch((await redis.get(k)) ?? '', /Siti|3201015503230004/, 'no Redis value holds a NIK or name');
  }
});

t.test('identity cache: the next record of the same child asks SATUSEHAT nothing about her or the posyandu', async (t) => {
  const patientSearches = count('GET', '/Patient');
  const locationSearches = count('GET', '/Location');
  const res = await up.push(bundleOf(anthropometry('PB-2025-000124')), ctx('PB-2025-000124'));
  t.same(res.outcome, { kind: 'delivered' });
  t.equal((await encounterOf('PB-2025-000124'))?.subject?.reference, `Patient/${childIhs}`);
  // Another worker process shares the cache through Redis.
  const other = upstream();
  t.same((await other.push(bundleOf(anthropometry('PB-2025-000125')), ctx('PB-2025-000125'))).outcome, { kind: 'delivered' });
  t.equal(count('GET', '/Patient'), patientSearches, 'no Patient search');
  t.equal(count('GET', '/Location'), locationSearches, 'no Location search');
  t.equal((await srv.resources('Location')).length, 1);
});

t.test('an unknown NIK waits for identity, with words for a person and no NIK or name', async (t) => {
  const nik = '3201015503230009';
  const record = anthropometry('PB-2025-000300', { subject: { nik, name: 'Nama Rahasia', sex: 'female', birthDate: '2023-03-15' } });
  const sent = transactions();
  const res = await up.push(bundleOf(record), ctx('PB-2025-000300'));
  t.equal(outcome(res).kind, 'waiting-identity');
  t.type(outcome(res).reason, 'string');
  t.notMatch(String(outcome(res).reason), nik);
  t.notMatch(String(outcome(res).reason), /Rahasia/);
  t.equal(transactions(), sent, 'nothing was sent');
  t.notOk(await encounterOf('PB-2025-000300'));

  // Not found is not remembered: once the person is registered the record goes.
  const ihs = await srv.addPatient({ nik, name: 'Nama Rahasia', birthDate: '2023-03-15', gender: 'female' });
  t.same((await up.push(bundleOf(record), ctx('PB-2025-000300'))).outcome, { kind: 'delivered' });
  t.equal((await encounterOf('PB-2025-000300'))?.subject?.reference, `Patient/${ihs}`);
});

t.test('a newborn without NIK is found or registered through the mother’s NIK', async (t) => {
  const motherNik = '3201014507950002';
  const babiesOfMother = async () =>
    (await srv.resources<Patient>('Patient')).filter((p) => p.identifier?.some((i) => i.system === NIK_IBU_SYSTEM && i.value === motherNik));

  const res = await up.push(bundleOf(newbornAnthropometry), ctx('PB-2025-000200'));
  t.same(res.outcome, { kind: 'delivered' });
  const babies = await babiesOfMother();
  t.equal(babies.length, 1, 'registered once');
  const baby = babies[0]!;
  t.equal(baby.birthDate, '2025-10-20');
  t.equal(baby.multipleBirthInteger, 0, 'a single birth is 0 in SATUSEHAT (P07)');
  t.notOk(baby.identifier?.some((i) => i.system?.includes('gerbang')), 'Gerbang’s own newborn key does not travel');
  t.same(res.resources?.filter((r) => r.resourceType === 'Patient').map((r) => [r.id, r.status]), [[baby.id, '201 Created']]);
  t.equal((await encounterOf('PB-2025-000200'))?.subject?.reference, `Patient/${baby.id}`);

  // Another worker without the cache (another key secret) finds the baby by search: 0 matches order 1.
  const searches = count('GET', '/Patient');
  const uncached = upstream({ identityKeySecret: 'another-secret' });
  const again = bundleOf(withChanges({ recordId: 'PB-2025-000201' }, newbornAnthropometry));
  t.same((await uncached.push(again, ctx('PB-2025-000201'))).outcome, { kind: 'delivered' });
  t.equal(count('GET', '/Patient'), searches + 1, 'searched by nik-ibu');
  t.equal((await babiesOfMother()).length, 1, 'not registered twice');
  t.equal((await encounterOf('PB-2025-000201'))?.subject?.reference, `Patient/${baby.id}`);

  // A twin already registered by another faskes: matched on birthDate + multipleBirthInteger.
  const twin = await srv.addPatient({ motherNik, name: 'Bayi Ny. Dewi 2', birthDate: '2025-10-20', gender: 'female', multipleBirthInteger: 2 });
  const twinRecord = withChanges(
    { recordId: 'PB-2025-000202', subject: { name: 'Bayi Ny. Dewi 2', sex: 'female', birthDate: '2025-10-20', mother: { nik: motherNik, name: 'Dewi Lestari' }, birthOrder: 2 } },
    newbornAnthropometry,
  );
  t.same((await up.push(bundleOf(twinRecord), ctx('PB-2025-000202'))).outcome, { kind: 'delivered' });
  t.equal((await encounterOf('PB-2025-000202'))?.subject?.reference, `Patient/${twin}`);
  t.equal((await babiesOfMother()).length, 2);

  // Older than SATUSEHAT's 60 days and not registered: the child needs its own NIK.
  const older = withChanges(
    { recordId: 'PB-2025-000203', subject: { name: 'Bayi Ny. Dewi 3', sex: 'male', birthDate: '2025-08-20', mother: { nik: motherNik, name: 'Dewi Lestari' }, birthOrder: 1 } },
    newbornAnthropometry,
  );
  const waiting = await up.push(bundleOf(older), ctx('PB-2025-000203'));
  t.equal(outcome(waiting).kind, 'waiting-identity');
  t.match(String(outcome(waiting).reason), /60 days/);
  t.notMatch(String(outcome(waiting).reason), motherNik);
  t.equal((await babiesOfMother()).length, 2, 'not registered');
});

t.test('a token that expired on SATUSEHAT’s clock mid-run is refreshed', async (t) => {
  const tokens = srv.tokenRequests();
  const before = refreshes;
  t.same((await up.push(bundleOf(anthropometry('PB-2025-000400')), ctx('PB-2025-000400'))).outcome, { kind: 'delivered' });
  t.equal(srv.tokenRequests(), tokens, 'the cached token was used');
  clock += 3_600_000;
  t.same((await up.push(bundleOf(anthropometry('PB-2025-000401')), ctx('PB-2025-000401'))).outcome, { kind: 'delivered' });
  t.equal(srv.tokenRequests(), tokens + 1, 'one new token');
  t.equal(refreshes, before + 1, 'onTokenRefresh told');
  t.ok(await encounterOf('PB-2025-000401'));
});

t.test('a 401 refreshes the token once, never twice', async (t) => {
  const tokens = srv.tokenRequests();
  srv.failNext(1, 401, { body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login', details: { text: 'Invalid access token' } }] } });
  t.same((await up.push(bundleOf(anthropometry('PB-2025-000410')), ctx('PB-2025-000410'))).outcome, { kind: 'delivered' });
  t.equal(srv.tokenRequests(), tokens + 1);

  srv.failNext(2, 401);
  const res = await up.push(bundleOf(anthropometry('PB-2025-000411')), ctx('PB-2025-000411'));
  t.same(res.outcome, { kind: 'http', status: 401 });
  t.equal(srv.tokenRequests(), tokens + 2, 'one refresh for the two 401s');
  t.same((await up.push(bundleOf(anthropometry('PB-2025-000411')), ctx('PB-2025-000411', 1))).outcome, { kind: 'delivered' });
});

// What SATUSEHAT holds of a record's own resources, as searched by identifier.
const CLINICAL = ['Encounter', 'Observation', 'Condition', 'Immunization', 'Procedure', 'Medication', 'MedicationDispense'];
const CLINICAL_SEARCH = new RegExp(`^/fhir-r4/v1/(${CLINICAL.join('|')})$`);
const ownResources = (bundle: Bundle) => bundle.entry!.filter((e) => CLINICAL.includes(e.resource?.resourceType ?? '')).length;

t.test('a timeout while SATUSEHAT still commits, then a retry: nothing is written twice', async (t) => {
  const impatient = upstream({ timeouts: { connectMs: 2_000, headersMs: 400, bodyMs: 2_000, totalMs: 20_000 } });
  const id = 'PB-2025-000500';
  const bundle = bundleOf(anthropometry(id));
  const sent = transactions();
  srv.delayNext(1, 1_500);
  const first = await impatient.push(bundle, ctx(id));
  t.same(first.outcome, { kind: 'network', code: 'headers-timeout' });
  t.equal(transactions(), sent + 1, 'the transaction reached SATUSEHAT');
  t.ok(await encounterOf(id), 'and was committed');
  t.equal(await redis.exists(ResendMarker.key(`default.${id}`, 1)), 1, 'the attempt is remembered');

  // Resent with the usual timeouts: a look-up slower than 400 ms on a loaded machine would be tried again.
  const from = srv.requests.length;
  const retry = await up.push(bundle, ctx(id));
  t.same(retry.outcome, { kind: 'delivered' });
  t.equal(transactions(), sent + 1, 'nothing sent again: every resource was found by identifier');
  const searches = srv.requests.slice(from).filter((r) => r.method === 'GET' && CLINICAL_SEARCH.test(r.path));
  t.equal(searches.length, ownResources(bundle), 'the Encounter found first, then one search for each other resource');
  t.equal(searches[0]?.path, '/fhir-r4/v1/Encounter');
  t.same(await identifierCounts('Encounter', id), [1]);
  const obsCounts = await identifierCounts('Observation', id);
  t.ok(obsCounts.length > 0 && obsCounts.every((n) => n === 1), 'one of each Observation');
  const enc = await encounterOf(id);
  t.equal(retry.resources?.find((r) => r.resourceType === 'Encounter')?.id, enc?.id, 'the ids are the committed ones');
  const committed = (await observationsOf(id)).map((o) => o.id).sort();
  t.same(retry.resources?.filter((r) => r.resourceType === 'Observation').map((r) => r.id).sort(), committed, 'every Observation id adopted, none missing');
});

t.test('the same, with the resend marker gone with a Redis that lost its data: the ledger says the answer was lost, nothing is written twice', async (t) => {
  const impatient = upstream({ timeouts: { connectMs: 2_000, headersMs: 400, bodyMs: 2_000, totalMs: 20_000 } });
  const id = 'PB-2025-000501';
  const bundle = bundleOf(anthropometry(id, { subject: { ...validAnthropometry.subject } }));
  const sent = transactions();
  srv.delayNext(1, 1_500);
  const first = await impatient.push(bundle, ctx(id));
  t.same(first.outcome, { kind: 'network', code: 'headers-timeout' });
  t.ok(await encounterOf(id), 'committed, its answer lost');
  await redis.del(ResendMarker.key(`default.${id}`, 1));
  // what the worker passes from the ledger's state: one push begun, ended by the lost answer
  const retry = await up.push(bundle, { ...ctx(id), previousPush: { ended: true, code: 'upstream.headers-timeout' } });
  t.same(retry.outcome, { kind: 'delivered' });
  t.equal(transactions(), sent + 1, 'nothing sent again: found by identifier');
  t.same(await identifierCounts('Encounter', id), [1]);
  // and a push that died in the middle (its state still "sending") is treated the same
  const id2 = 'PB-2025-000502';
  const bundle2 = bundleOf(anthropometry(id2));
  srv.delayNext(1, 1_500);
  await impatient.push(bundle2, ctx(id2));
  await redis.del(ResendMarker.key(`default.${id2}`, 1));
  const before = transactions();
  t.same((await up.push(bundle2, { ...ctx(id2), previousPush: { ended: false } })).outcome, { kind: 'delivered' });
  t.equal(transactions(), before, 'a push that died sending: looked up, not sent again');
  t.same(await identifierCounts('Encounter', id2), [1]);
});

t.test('a transaction answered 503 before SATUSEHAT carried it out: the resend makes one look-up, not one per resource', async (t) => {
  const id = 'PB-2025-000510';
  const bundle = bundleOf(anthropometry(id));
  const own = ownResources(bundle);
  t.ok(own >= 3, `the record has ${own} resources of its own`);
  srv.failNext(1, 503, { on: 'transaction' });
  const first = await up.push(bundle, ctx(id));
  t.same(first.outcome, { kind: 'http', status: 503 });
  t.notOk(await encounterOf(id), 'nothing was written');
  t.equal(await redis.exists(ResendMarker.key(`default.${id}`, 1)), 1, 'the attempt is remembered: a 503 may also come after a commit');

  const from = srv.requests.length;
  const retry = await up.push(bundle, ctx(id));
  t.same(retry.outcome, { kind: 'delivered' });
  const after = srv.requests.slice(from);
  const searches = after.filter((r) => r.method === 'GET' && CLINICAL_SEARCH.test(r.path));
  t.same(searches.map((r) => r.path), ['/fhir-r4/v1/Encounter'], `the Encounter's absence answers for all ${own}: a transaction is carried out whole or not at all`);
  t.same(after.filter((r) => r.method === 'POST').map((r) => r.status), [200], 'then one transaction');
  t.same(await identifierCounts('Encounter', id), [1]);
  const obsCounts = await identifierCounts('Observation', id);
  t.ok(obsCounts.length > 0 && obsCounts.every((n) => n === 1), 'one of each Observation');
});

t.test('one Observation of the record already there without its Encounter: the duplicate answer still finds it by looking everything up', async (t) => {
  const id = 'PB-2025-000513';
  const bundle = bundleOf(anthropometry(id));
  const planned = bundle.entry!.find((e) => e.resource?.resourceType === 'Observation')!.resource as Observation;
  // Left by another sender or an earlier version whose ids the ledger lost: not all-or-nothing.
  const stray = await srv.repo.createResource<Observation>({ resourceType: 'Observation', identifier: planned.identifier, status: 'final', code: planned.code, subject: { reference: `Patient/${childIhs}` } });
  const from = srv.requests.length;
  const res = await up.push(bundle, ctx(id));
  t.same(res.outcome, { kind: 'delivered' });
  const after = srv.requests.slice(from);
  t.same(after.filter((r) => r.method === 'POST').map((r) => r.status), [400, 200], 'refused as a duplicate, then sent without it');
  t.equal(after.filter((r) => r.method === 'GET' && CLINICAL_SEARCH.test(r.path)).length, 1 + ownResources(bundle), 'the Encounter found nothing, so every resource was looked up');
  t.equal(res.resources?.find((r) => r.fullUrl === bundle.entry!.find((e) => e.resource === planned)?.fullUrl)?.id, stray.id, 'the Observation there is taken up');
  t.ok((await identifierCounts('Observation', id)).every((n) => n === 1), 'none twice');
  t.same(await identifierCounts('Encounter', id), [1]);
  const replaced = (await srv.resources<Observation>('Observation')).find((o) => o.id === stray.id);
  t.equal(replaced?.encounter?.reference, `Encounter/${(await encounterOf(id))?.id}`, 'and replaced by the record’s, in its Encounter');
});

t.test('a posyandu Location created by another push meanwhile: the duplicate answer costs two look-ups, not one per entry', async (t) => {
  const id = 'PB-2025-000512';
  const bundle = bundleOf(anthropometry(id, { posyandu: '3201010001-09' }));
  const planned = bundle.entry!.find((e) => e.resource?.resourceType === 'Location')!.resource as { identifier?: unknown; name?: string };
  const locationSearches = () => srv.requests.filter((r) => r.method === 'GET' && r.path === '/fhir-r4/v1/Location');
  const before = locationSearches().length;
  const from = srv.requests.length;
  // The Location search is answered "none" late; meanwhile another push creates it.
  srv.delayNext(1, 600, { on: 'fhir' });
  const pushing = up.push(bundle, ctx(id));
  await waitFor(() => srv.heldAnswers().some((r) => r.path === '/fhir-r4/v1/Location'), 5_000, 'the Location search held');
  const other = await srv.repo.createResource({ resourceType: 'Location', identifier: planned.identifier, name: planned.name, status: 'active', managingOrganization: { reference: `Organization/${ORG}` } } as never);
  const res = await pushing;
  t.same(res.outcome, { kind: 'delivered' });
  const after = srv.requests.slice(from);
  t.same(after.filter((r) => r.method === 'POST').map((r) => r.status), [400, 200], 'refused as a duplicate, then sent without the Location');
  t.equal(locationSearches().length - before, 2, 'the Location looked up again after the refusal');
  t.same(after.filter((r) => r.method === 'GET' && CLINICAL_SEARCH.test(r.path)).map((r) => r.path), ['/fhir-r4/v1/Encounter'], 'the record’s own resources: one look-up');
  t.equal(res.resources?.find((r) => r.resourceType === 'Location')?.id, (other as { id?: string }).id, 'the other push’s Location is adopted');
  t.same(await identifierCounts('Encounter', id), [1]);
  t.equal((await srv.resources('Location')).filter((l) => JSON.stringify((l as { identifier?: unknown }).identifier) === JSON.stringify(planned.identifier)).length, 1, 'one Location for the posyandu');
});

t.test('a duplicate answer: the existing resource is found, replaced by the record’s under its id, and the rest is sent', async (t) => {
  const id = 'PB-2025-000600';
  const existing = await srv.repo.createResource<Encounter>({
    resourceType: 'Encounter',
    identifier: [{ system: `http://sys-ids.kemkes.go.id/encounter/${ORG}`, value: `default.${id}` }],
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
    subject: { reference: `Patient/${childIhs}` },
  });
  const bundle = bundleOf(anthropometry(id));
  const refused = srv.requests.filter((r) => r.method === 'POST' && r.status === 400).length;
  const res = await up.push(bundle, ctx(id));
  t.same(res.outcome, { kind: 'delivered' });
  t.equal(srv.requests.filter((r) => r.method === 'POST' && r.status === 400).length, refused + 1, 'SATUSEHAT refused the first transaction as a duplicate');
  t.same(await identifierCounts('Encounter', id), [1], 'no second Encounter, no new identifier');
  const obs = await observationsOf(id);
  t.ok(obs.length > 0);
  for (const o of obs) t.equal(o.encounter?.reference, `Encounter/${existing.id}`);
  t.same(res.resources?.filter((r) => r.resourceType === 'Encounter').map((r) => [r.id, r.status]), [[existing.id, '200 OK']]);
  t.same((await encounterOf(id))?.participant?.[0]?.individual, { reference: `Practitioner/${supervisorId}` }, 'what SATUSEHAT held is replaced by the record’s Encounter');

  // A correction whose earlier ids the ledger does not have (its push ended after the correction
  // went): every entry is refused as a duplicate, found by identifier and replaced, not adopted.
  const weight = (o: Observation) => o.valueQuantity?.unit === 'kg' && o.valueQuantity.value;
  t.ok((await observationsOf(id)).some((o) => weight(o) === 9.8), 'version 1 weighed 9.8 kg');
  const v2 = await up.push(bundleOf(anthropometry(id, { weightKg: 10.9 })), ctx(id, 2));
  t.same(v2.outcome, { kind: 'delivered' });
  t.same(await identifierCounts('Encounter', id), [1]);
  t.ok((await identifierCounts('Observation', id)).every((n) => n === 1));
  t.same(
    v2.resources?.filter((r) => r.resourceType === 'Observation').map((r) => r.id).sort(),
    obs.map((o) => o.id).sort(),
    'the same Observations',
  );
  const weights = (await observationsOf(id)).map(weight).filter((w) => w !== false);
  t.same(weights, [10.9], 'SATUSEHAT holds the corrected weight, not the old one');
});

t.test('throttling, server errors and an unavailable token are transient; missing credentials are not', async (t) => {
  srv.throttle(1, 30);
  const throttled = await up.push(bundleOf(anthropometry('PB-2025-000700')), ctx('PB-2025-000700'));
  t.same(throttled.outcome, { kind: 'http', status: 429, retryAfter: '30' });
  const decision = decide(throttled.outcome, { attempts: 1, ageMs: 0, now: Date.now() }, config.delivery);
  t.equal(decision.action, 'retry');
  t.ok(decision.action === 'retry' && decision.delayMs >= 30_000, 'the retry waits as long as SATUSEHAT asked');

  srv.failNext(1, 503);
  t.same((await up.push(bundleOf(anthropometry('PB-2025-000700')), ctx('PB-2025-000700'))).outcome, { kind: 'http', status: 503 });
  t.same((await up.push(bundleOf(anthropometry('PB-2025-000700')), ctx('PB-2025-000700'))).outcome, { kind: 'delivered' });
  t.same(await identifierCounts('Encounter', 'PB-2025-000700'), [1]);

  await srv.down();
  const unreachable = await up.push(bundleOf(anthropometry('PB-2025-000703')), ctx('PB-2025-000703'));
  await srv.up();
  t.same(unreachable.outcome, { kind: 'network', code: 'econnrefused' });
  t.same((await up.push(bundleOf(anthropometry('PB-2025-000703')), ctx('PB-2025-000703'))).outcome, { kind: 'delivered' });

  srv.addClient({ clientId: 'pkm-wrong-secret', clientSecret: 'right', organizationId: ORG });
  const wrong = upstream({ credentials: { [ORG]: { clientId: 'pkm-wrong-secret', clientSecret: 'wrong' } } });
  const noToken = await wrong.push(bundleOf(anthropometry('PB-2025-000701')), ctx('PB-2025-000701'));
  t.match(outcome(noToken), { kind: 'not-sent', transient: true, retryAfter: '60', code: 'satusehat.token-rejected' });
  t.notMatch(JSON.stringify(noToken), /wrong|right/, 'no secret in the outcome');

  const elsewhere = upstream({ credentials: { '99999999': { clientId: DEFAULT_CLIENT.clientId, clientSecret: DEFAULT_CLIENT.clientSecret } } });
  const none = await elsewhere.push(bundleOf(anthropometry('PB-2025-000702')), ctx('PB-2025-000702'));
  t.match(outcome(none), { kind: 'not-sent', transient: false, code: 'satusehat.no-credentials' });
  t.match(String(outcome(none).message), ORG);
});

t.test('ANC: the pregnancy’s active EpisodeOfCare is created once and reused; the bidan is a Practitioner', async (t) => {
  const motherIhs = await srv.addPatient({ nik: validAncVisit.subject.nik, name: 'Ratna Sari', birthDate: '1998-01-22', gender: 'female' });
  const bidan = await srv.addPractitioner({ nik: validAncVisit.performer.nik, name: 'Bidan Yuli', gender: 'female' });
  const practitionerSearches = count('GET', '/Practitioner');

  const visit1 = await up.push(bundleOf(validAncVisit), ctx('ANC-2025-0007'));
  t.same(visit1.outcome, { kind: 'delivered' });
  const visit2Record = withChanges({ recordId: 'ANC-2025-0008', occurredAt: '2025-11-05T11:00:00+07:00', visitNumber: 'K5' }, validAncVisit as unknown as RecordLike);
  const visit2 = await up.push(bundleOf(visit2Record), ctx('ANC-2025-0008'));
  t.same(visit2.outcome, { kind: 'delivered' });

  const episodes = await srv.resources<EpisodeOfCare>('EpisodeOfCare');
  t.equal(episodes.length, 1, 'one EpisodeOfCare for the pregnancy');
  t.equal(episodes[0]?.patient?.reference, `Patient/${motherIhs}`);
  t.equal(episodes[0]?.managingOrganization?.reference, `Organization/${ORG}`);
  for (const id of ['ANC-2025-0007', 'ANC-2025-0008']) {
    const enc = await encounterOf(id);
    t.same(enc?.episodeOfCare, [{ reference: `EpisodeOfCare/${episodes[0]?.id}` }], `${id} joins the episode`);
    t.equal(enc?.participant?.[0]?.individual?.reference, `Practitioner/${bidan}`);
    for (const o of await observationsOf(id)) t.equal(o.performer?.[0]?.reference, `Practitioner/${bidan}`);
  }
  t.same(visit2.resources?.filter((r) => r.resourceType === 'EpisodeOfCare').map((r) => [r.id, r.status]), [[episodes[0]?.id, '200 OK']]);
  // Iron tablets as H06__095: the dispense refers to the KFA Medication the platform now holds.
  const medications = await srv.resources<Medication>('Medication');
  for (const id of ['ANC-2025-0007', 'ANC-2025-0008']) {
    const dispense = (await srv.resources<MedicationDispense>('MedicationDispense')).find((d) => d.identifier?.some((i) => i.value === `default.${id}`));
    const medication = medications.find((m) => `Medication/${m.id}` === dispense?.medicationReference?.reference);
    t.equal(medication?.code?.coding?.[0]?.system, 'http://sys-ids.kemkes.go.id/kfa', `${id}: the dispense names a KFA Medication held upstream`);
    t.equal(dispense?.context?.reference, `Encounter/${(await encounterOf(id))?.id}`);
    t.equal(dispense?.performer?.[0]?.actor?.reference, `Practitioner/${bidan}`);
  }
  t.equal(count('GET', '/Practitioner'), practitionerSearches + 1, 'the bidan is looked up once');
  t.equal((await srv.resources('Practitioner')).length, 2, 'master data is never created (the supervisor and the bidan were seeded)');

  // An active ANC episode opened by another faskes is joined, not duplicated (§5).
  const otherNik = '3201016201980003';
  const otherIhs = await srv.addPatient({ nik: otherNik, name: 'Ayu Lestari', birthDate: '1998-01-22', gender: 'female' });
  const theirs = await srv.repo.createResource<EpisodeOfCare>({
    resourceType: 'EpisodeOfCare',
    identifier: [{ system: 'http://sys-ids.kemkes.go.id/episode-of-care/10000099', value: 'anc-elsewhere' }],
    status: 'active',
    type: [{ coding: [{ system: 'http://terminology.kemkes.go.id/CodeSystem/episodeofcare-type', code: 'ANC' }] }],
    patient: { reference: `Patient/${otherIhs}` },
    managingOrganization: { reference: 'Organization/10000099' },
    period: { start: '2025-04-10T00:00:00+00:00' },
  });
  // K6, not the fixture's K4, so the two Encounters differ in more than their subject.
  const otherRecord = withChanges(
    { recordId: 'ANC-2025-0009', visitNumber: 'K6', subject: { nik: otherNik, name: 'Ayu Lestari', sex: 'female', birthDate: '1998-01-22' } },
    validAncVisit as unknown as RecordLike,
  );
  t.same((await up.push(bundleOf(otherRecord), ctx('ANC-2025-0009'))).outcome, { kind: 'delivered' });
  t.same((await encounterOf('ANC-2025-0009'))?.episodeOfCare, [{ reference: `EpisodeOfCare/${theirs.id}` }]);
  t.equal((await srv.resources('EpisodeOfCare')).length, 2, 'no episode of ours for her');
});

t.test('a health worker named by NIK becomes Practitioner/<id>; an unknown one waits', async (t) => {
  await srv.addPatient({ nik: validImmunization.subject.nik, name: 'Arka Pratama', birthDate: '2025-08-15', gender: 'male' });
  const bidan = (await srv.resources<Practitioner>('Practitioner')).find((p) => p.identifier?.some((i) => i.value === validImmunization.performer.nik))!.id!;
  const withNik = (bundle: Bundle, nik: string): Bundle => {
    for (const e of bundle.entry ?? []) {
      const imm = e.resource?.resourceType === 'Immunization' ? e.resource : undefined;
      const performer = imm?.performer?.[0];
      if (performer) performer.actor = { display: 'Bidan Yuli', identifier: { system: NIK_SYSTEM, value: nik } };
    }
    return bundle;
  };
  const res = await up.push(bundleOf(validImmunization), ctx('IMM-2025-0311'));
  t.same(res.outcome, { kind: 'delivered' });
  const imm = (await srv.resources<Immunization>('Immunization'))[0];
  t.same(imm?.performer?.[0]?.actor, { reference: `Practitioner/${bidan}`, display: 'Bidan Yuli' });
  t.equal(imm?.performer?.[1]?.actor?.reference, `Organization/${ORG}`);
  t.notMatch(JSON.stringify(imm), validImmunization.performer.nik, 'the health worker’s NIK does not travel');
  const vaccination = (await srv.resources<Procedure>('Procedure')).find((p) => p.code?.coding?.some((c) => c.code === '99.37'));
  t.same(vaccination?.performer?.[0]?.actor?.reference, `Practitioner/${bidan}`, 'the vaccination Procedure of P13__019 names the same Practitioner');
  t.equal(vaccination?.encounter?.reference, imm?.encounter?.reference, 'on the same visit');

  const unknown = await up.push(withNik(bundleOf(withChanges({ recordId: 'IMM-2025-0312' }, validImmunization as unknown as RecordLike)), '3201014404850009'), ctx('IMM-2025-0312'));
  t.equal(outcome(unknown).kind, 'waiting-identity');
  t.notMatch(String(outcome(unknown).reason), '3201014404850009');
});

t.test('a kader’s record at a posyandu without a supervisor is not sent, and says what to configure', async (t) => {
  const r = prepareRecord(anthropometry('PB-2025-000900'), 'default', config.facilities, new Date(clock), undefined);
  if (!r.ok) throw new Error('fixture does not prepare');
  const sent = transactions();
  const res = await up.push(r.prepared.bundle, ctx('PB-2025-000900'));
  t.match(outcome(res), { kind: 'not-sent', transient: false, code: 'satusehat.no-practitioner' });
  t.match(String(outcome(res).message), /supervisorNik/);
  t.equal(transactions(), sent, 'SATUSEHAT was not asked');
});

t.test('a correction with the ids of the earlier version: replaced in place by PUT, a dropped Immunization entered-in-error', async (t) => {
  const id = 'IMM-2025-0400';
  const record = withChanges({ recordId: id }, validImmunization as unknown as RecordLike);
  const v1 = await up.push(bundleOf(record), ctx(id));
  t.same(v1.outcome, { kind: 'delivered' });
  const immunizationId = v1.resources?.find((r) => r.resourceType === 'Immunization')?.id;
  t.ok(immunizationId);

  // Version 2 changes the lot; version 3 no longer has the Immunization at all.
  const sent = transactions();
  const puts = () => srv.requests.filter((r) => r.method === 'PUT').length;
  const putsBefore = puts();
  // A push overtaken by a newer version stops before it writes over anything.
  const overtaken = await up.push(bundleOf(withChanges({ lotNumber: 'PB2507X' }, record)), { ...ctx(id, 2), held: v1.resources!, superseded: async () => true });
  t.match(outcome(overtaken), { kind: 'not-sent', code: 'delivery.superseded', transient: true });
  t.equal(puts(), putsBefore, 'nothing was replaced');
  const v2 = await up.push(bundleOf(withChanges({ lotNumber: 'PB2507C' }, record)), { ...ctx(id, 2), held: v1.resources! });
  t.same(v2.outcome, { kind: 'delivered' });
  t.equal(transactions(), sent, 'nothing posted: every resource is updated where it is');
  t.ok(puts() > putsBefore, 'by PUT {Type}/{id}');
  const imm = (await srv.resources<Immunization>('Immunization')).filter((i) => i.identifier?.some((x) => x.value === `default.${id}.immunization`));
  t.same(imm.map((i) => [i.id, i.lotNumber, i.status]), [[immunizationId, 'PB2507C', 'completed']], 'one Immunization, the new lot');

  const without = bundleOf(withChanges({ lotNumber: 'PB2507C' }, record));
  without.entry = without.entry!.filter((e) => e.resource?.resourceType !== 'Immunization');
  const v3 = await up.push(without, { ...ctx(id, 3), held: v2.resources! });
  t.same(v3.outcome, { kind: 'delivered' });
  const after = await srv.repo.readResource<Immunization>('Immunization', immunizationId!);
  t.equal(after.status, 'entered-in-error', 'withdrawn, not deleted');
  t.equal(after.lotNumber, 'PB2507C', 'otherwise as it was');
  t.match(v3.resources?.find((r) => r.id === immunizationId), { retracted: true });

  // Version 4 still lacks it: nothing is written again for it.
  const putsNow = puts();
  const v4 = await up.push(without, { ...ctx(id, 4), held: v3.resources! });
  t.same(v4.outcome, { kind: 'delivered' });
  t.equal(puts() - putsNow, (v4.resources ?? []).filter((r) => !r.retracted && !['Patient', 'Practitioner', 'Organization', 'Location'].includes(r.resourceType)).length, 'one PUT per resource the version has, none for the withdrawn one');
});

t.test('a correction whose entries were renamed (a mapping change) updates the same resources and withdraws none of them', async (t) => {
  const id = 'PB-2025-000950';
  const v1 = await up.push(bundleOf(anthropometry(id)), ctx(id));
  t.same(v1.outcome, { kind: 'delivered' });
  // Same identifiers, other fullUrls: the ledger's ids no longer match by entry.
  let text = JSON.stringify(bundleOf(anthropometry(id, { weightKg: 10.7 })));
  for (const e of bundleOf(anthropometry(id)).entry!) text = text.replaceAll(e.fullUrl!, `urn:uuid:${randomUUID()}`);
  const v2 = await up.push(JSON.parse(text) as Bundle, { ...ctx(id, 2), held: v1.resources! });
  t.same(v2.outcome, { kind: 'delivered' });
  const obs = await observationsOf(id);
  t.same(obs.filter((o) => o.status === 'entered-in-error').map((o) => o.id), [], 'nothing withdrawn: every resource was found again by identifier');
  t.ok(obs.some((o) => o.valueQuantity?.unit === 'kg' && o.valueQuantity.value === 10.7), 'and holds the new values');
  t.ok((await identifierCounts('Observation', id)).every((n) => n === 1), 'once each');
  t.same(obs.map((o) => o.id).sort(), v1.resources!.filter((r) => r.resourceType === 'Observation').map((r) => r.id).sort(), 'the same ids');
});

t.test('a 2xx SATUSEHAT cannot have meant is upstream.bad-answer, never delivered; failed look-ups are tried again within the push', async (t) => {
  const id = 'PB-2025-000800';
  srv.failNext(1, 200, { on: 'transaction', body: { resourceType: 'OperationOutcome', issue: [] } });
  const notTx = await up.push(bundleOf(anthropometry(id)), ctx(id));
  t.match(outcome(notTx), { kind: 'network', code: 'bad-answer', detail: /not a transaction-response Bundle/ });
  t.equal(decide(notTx.outcome, { attempts: 1, ageMs: 0, now: Date.now() }, config.delivery).action, 'retry', 'transient');

  const other = 'PB-2025-000801';
  srv.failNext(1, 200, { on: 'fhir', body: { hello: 'a proxy page' } });
  const badSearch = await up.push(bundleOf(anthropometry(other, { subject: { ...validAnthropometry.subject, nik: '3201015503230099' } })), ctx(other));
  t.match(outcome(badSearch), { kind: 'network', code: 'bad-answer', detail: /search with a 2xx that is not a Bundle/ }, 'not "nobody found": the person is not left waiting for identity');

  t.same((await up.push(bundleOf(anthropometry(id)), ctx(id))).outcome, { kind: 'delivered' }, 'the next attempt goes through');
  t.same(await identifierCounts('Encounter', id), [1], 'once');

  // Two look-ups in a row answered 503: the third try of the same look-up succeeds, the push goes.
  const third = 'PB-2025-000802';
  const nik = '3201015503230098'; // known to SATUSEHAT, not yet to the identity cache: the push starts with her look-up
  await srv.addPatient({ nik, name: 'Anak Baru', birthDate: '2023-03-15', gender: 'female' });
  const before = srv.requests.length;
  srv.failNext(2, 503, { on: 'fhir' });
  t.same((await up.push(bundleOf(anthropometry(third, { subject: { ...validAnthropometry.subject, nik } })), ctx(third))).outcome, { kind: 'delivered' });
  t.ok(srv.requests.slice(before).filter((r) => r.status === 503).length === 2, 'after two 503s on the way');
});

t.test('a posyandu whose Location the puskesmas registered itself (locationId) is referenced by that id: not looked up, not created again', async (t) => {
  // Registered with an identifier of the puskesmas' own, which Gerbang's identifier would not find.
  const registered = (await srv.repo.createResource({
    resourceType: 'Location',
    identifier: [{ system: `http://sys-ids.kemkes.go.id/location/${ORG}`, value: 'RUANG-MAWAR' }],
    name: 'Ruang Posyandu Mawar',
    status: 'active',
    managingOrganization: { reference: `Organization/${ORG}` },
  } as never)) as { id: string };
  const locations = (await srv.resources('Location')).length;
  const searches = count('GET', '/Location');
  const u = upstream({ posyanduLocations: { '3201010001-05': registered.id } });
  const id = 'PB-2025-000900';
  const res = await u.push(bundleOf(anthropometry(id, { posyandu: '3201010001-05' })), ctx(id));
  t.same(res.outcome, { kind: 'delivered' });
  t.equal((await encounterOf(id))?.location?.[0]?.location?.reference, `Location/${registered.id}`, 'the Encounter is at the registered Location');
  t.equal(res.resources?.find((r) => r.resourceType === 'Location')?.id, registered.id, 'and the ledger is told its id');
  t.equal(count('GET', '/Location'), searches, 'no Location search');
  t.equal((await srv.resources('Location')).length, locations, 'no second Location for the posyandu');

  // Only the posyandu it is configured for: another of the same puskesmas is found or created as before.
  const other = 'PB-2025-000901';
  t.same((await u.push(bundleOf(anthropometry(other, { posyandu: '3201010001-06' })), ctx(other))).outcome, { kind: 'delivered' });
  t.not((await encounterOf(other))?.location?.[0]?.location?.reference, `Location/${registered.id}`);
  t.equal((await srv.resources('Location')).length, locations + 1, 'its own Location created');
});

t.test('a locationId SATUSEHAT does not know: the platform refuses the reference, the record fails with its words, nothing is created', async (t) => {
  const locations = (await srv.resources('Location')).length;
  const u = upstream({ posyanduLocations: { '3201010001-05': '00000000-0000-4000-8000-000000000000' } });
  const id = 'PB-2025-000902';
  const res = await u.push(bundleOf(anthropometry(id, { posyandu: '3201010001-05' })), ctx(id));
  t.match(outcome(res), { kind: 'http', status: 400 });
  t.equal(decide(res.outcome, { attempts: 1, ageMs: 0, now: Date.now() }, config.delivery).action, 'fail', 'failed for a person to read, not retried');
  t.match(JSON.stringify(res.body), /Location\/00000000-0000-4000-8000-000000000000.*RuleNumber: 20007/, "the platform's words name the Location");
  t.same(await identifierCounts('Encounter', id), [], 'nothing of the record written');
  t.equal((await srv.resources('Location')).length, locations, 'no Location created in its place');
});
