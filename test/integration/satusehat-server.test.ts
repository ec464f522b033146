import t from 'tap';
import type { Bundle, Encounter, EpisodeOfCare, Observation, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { DEFAULT_CLIENT, NIK_IBU_SYSTEM, NIK_SYSTEM, startSatusehatServer, type SatusehatServerHandle } from '../helpers/satusehat-server.js';

// The SATUSEHAT test upstream behaves as the reference describes, so tests built on it mean something.

const ORG = DEFAULT_CLIENT.organizationId;
let clock = Date.parse('2025-03-01T08:00:00Z');
const srv = await startSatusehatServer({ now: () => clock });
t.teardown(() => srv.close());
// The posyandu's room, as its puskesmas registers it: the visits below take place there.
const POSYANDU_LOCATION = ((await srv.repo.createResource({ resourceType: 'Location', identifier: [{ system: `http://sys-ids.kemkes.go.id/location/${ORG}`, value: 'posyandu' }], name: 'Ruang Posyandu', status: 'active' } as never)) as { id: string }).id;

async function askToken(s: SatusehatServerHandle, clientId = DEFAULT_CLIENT.clientId, clientSecret = DEFAULT_CLIENT.clientSecret) {
  const res = await fetch(s.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: clientId, client_secret: clientSecret }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function call(s: SatusehatServerHandle, method: string, path: string, opts: { token?: string; body?: unknown; contentType?: string } = {}) {
  const res = await fetch(s.fhirBase + path, {
    method,
    headers: { 'content-type': opts.contentType ?? 'application/json', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
    ...(opts.body ? { body: JSON.stringify(opts.body) } : {}),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

const encounter = (value: string, patient: string, practitioner: string): Encounter => ({
  resourceType: 'Encounter',
  identifier: [{ system: `http://sys-ids.kemkes.go.id/encounter/${ORG}`, value }],
  status: 'finished',
  class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB', display: 'ambulatory' },
  subject: { reference: `Patient/${patient}` },
  participant: [{ individual: { reference: `Practitioner/${practitioner}` } }],
  period: { start: '2025-03-01T01:00:00+00:00', end: '2025-03-01T02:00:00+00:00' },
  // Rules 10120 and 10122: a location and the status history (P16__057).
  location: [{ location: { reference: `Location/${POSYANDU_LOCATION}` } }],
  statusHistory: [
    { status: 'arrived', period: { start: '2025-03-01T01:00:00+00:00', end: '2025-03-01T01:10:00+00:00' } },
    { status: 'in-progress', period: { start: '2025-03-01T01:10:00+00:00', end: '2025-03-01T02:00:00+00:00' } },
    { status: 'finished', period: { start: '2025-03-01T02:00:00+00:00', end: '2025-03-01T02:00:00+00:00' } },
  ],
  serviceProvider: { reference: `Organization/${ORG}` },
});

const weight = (value: string, patient: string, practitioner: string, encounterRef: string): Observation => ({
  resourceType: 'Observation',
  identifier: [{ system: `http://sys-ids.kemkes.go.id/observation/${ORG}`, value }],
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '29463-7', display: 'Body weight' }] },
  subject: { reference: `Patient/${patient}` },
  encounter: { reference: encounterRef },
  performer: [{ reference: `Practitioner/${practitioner}` }],
  valueQuantity: { value: 9.4, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
});

const transaction = (...entries: Array<{ fullUrl: string; resource: Encounter | Observation; ifNoneExist?: string }>): Bundle => ({
  resourceType: 'Bundle',
  type: 'transaction',
  entry: entries.map((e) => ({
    fullUrl: e.fullUrl,
    resource: e.resource,
    request: { method: 'POST', url: e.resource.resourceType, ...(e.ifNoneExist ? { ifNoneExist: e.ifNoneExist } : {}) },
  })),
});

t.test('token: form-encoded client credentials, grant_type in the query, expires_in as a string', async (t) => {
  const before = srv.tokenRequests();
  const { status, body } = await askToken(srv);
  t.equal(status, 200);
  t.type(body.access_token, 'string');
  t.equal(body.expires_in, '3599');
  t.equal(body.token_type, 'BearerToken');
  t.match(body.issued_at, /^\d+$/);
  t.equal(body.client_id, DEFAULT_CLIENT.clientId);
  t.equal(body.status, 'approved');
  t.equal(srv.tokenRequests(), before + 1);

  const noGrant = await fetch(srv.authBase + '/accesstoken', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: DEFAULT_CLIENT.clientId, client_secret: DEFAULT_CLIENT.clientSecret }),
  });
  t.equal(noGrant.status, 400, 'grant_type must be in the query string');
  await noGrant.body?.cancel();
});

t.test('FHIR calls need an unexpired bearer token', async (t) => {
  const none = await call(srv, 'GET', '/Patient?identifier=' + encodeURIComponent(`${NIK_SYSTEM}|3201010101900001`));
  t.equal(none.status, 401);
  t.equal((none.body as OperationOutcome).resourceType, 'OperationOutcome');
  t.equal((await call(srv, 'GET', '/Patient', { token: 'forged' })).status, 401);

  const token = (await askToken(srv)).body.access_token as string;
  t.equal((await call(srv, 'GET', '/Patient', { token })).status, 200);
  clock += 3598_000;
  t.equal((await call(srv, 'GET', '/Patient', { token })).status, 200, 'still valid a second before expiry');
  clock += 2_000;
  t.equal((await call(srv, 'GET', '/Patient', { token })).status, 401, 'expired after expires_in seconds');
});

t.test('a failed token request costs a penalty during which good credentials are refused too', async (t) => {
  const c = { clientId: 'pkm-penalty', clientSecret: 'right', organizationId: '10000005' };
  srv.addClient(c);
  t.equal((await askToken(srv, c.clientId, 'wrong')).status, 401);
  t.equal(srv.penaltyRemaining(c.clientId), 60);
  clock += 30_000;
  t.equal((await askToken(srv, c.clientId, c.clientSecret)).status, 401, 'refused during the penalty');
  t.equal(srv.penaltyRemaining(c.clientId), 60, 'the refused request restarted the penalty');
  clock += 60_001;
  t.equal((await askToken(srv, c.clientId, c.clientSecret)).status, 200, 'accepted once the penalty is over');
  t.equal(srv.tokenRequests(c.clientId), 3);
  t.equal((await askToken(srv)).status, 200, 'the penalty belongs to one client only');
});

t.test('Patient and Practitioner search by NIK give the IHS / nakes id', async (t) => {
  const token = srv.issueToken();
  const ihs = await srv.addPatient({ nik: '3201010101900001', name: 'Siti Aminah', birthDate: '1990-01-01', gender: 'female' });
  t.match(ihs, /^P\d{11}$/);
  const found = await call(srv, 'GET', `/Patient?identifier=${encodeURIComponent(`${NIK_SYSTEM}|3201010101900001`)}`, { token });
  t.equal(found.status, 200);
  t.equal(found.body.total, 1);
  t.equal(found.body.entry[0].resource.id, ihs);
  const none = await call(srv, 'GET', `/Patient?identifier=${encodeURIComponent(`${NIK_SYSTEM}|3201010101909999`)}`, { token });
  t.equal(none.body.type, 'searchset');
  t.equal(none.body.total, 0, 'not found is a searchset with total 0');

  const nakes = await srv.addPractitioner({ nik: '3201010101800002', name: 'Bidan Rina', gender: 'female' });
  t.match(nakes, /^N\d{8}$/);
  const p = await call(srv, 'GET', `/Practitioner?identifier=${encodeURIComponent(`${NIK_SYSTEM}|3201010101800002`)}`, { token });
  t.equal(p.body.entry[0].resource.id, nakes);
  t.equal((await call(srv, 'POST', '/Practitioner', { token, body: { resourceType: 'Practitioner' } })).status, 403, 'master data is read-only');
});

t.test('Patient create: wrappers with HTTP 200, duplicate gives the existing id, newborns by nik-ibu within 60 days', async (t) => {
  const token = srv.issueToken();
  const address = [{ use: 'home', line: ['Jl. Mawar 1'], city: 'Bandung', country: 'ID' }] as Patient['address'];
  const adult: Patient = {
    resourceType: 'Patient',
    identifier: [{ use: 'official', system: NIK_SYSTEM, value: '3201010101910003' }],
    name: [{ use: 'official', text: 'Dewi Lestari' }],
    gender: 'female',
    birthDate: '1991-01-01',
    multipleBirthInteger: 0,
    address,
  };
  const created = await call(srv, 'POST', '/Patient', { token, body: adult });
  t.equal(created.status, 200);
  t.equal(created.body.success, true);
  const again = await call(srv, 'POST', '/Patient', { token, body: adult });
  t.equal(again.status, 200);
  t.same(again.body, { success: false, message: 'Failed to create new patient, another identifier has found', data: { resourceID: created.body.data.patient_id } });

  const missing = await call(srv, 'POST', '/Patient', { token, body: { ...adult, address: undefined } });
  t.equal(missing.status, 400);
  t.match(missing.body.issue[0].details.text, /RuleNumber: 10333/);

  const birthDate = new Date(clock - 10 * 86_400_000).toISOString().slice(0, 10);
  const baby: Patient = {
    resourceType: 'Patient',
    identifier: [{ use: 'official', system: NIK_IBU_SYSTEM, value: '3201010101910003' }],
    name: [{ use: 'official', text: 'Bayi Ny. Dewi' }],
    gender: 'male',
    birthDate,
    multipleBirthInteger: 0,
    address,
    contact: [{ relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0131', code: 'C' }] }], name: { use: 'official', text: 'Dewi Lestari' } }],
  };
  const born = await call(srv, 'POST', '/Patient', { token, body: baby });
  t.equal(born.status, 200);
  const babyId = born.body.create_patient.data.patient_id as string;
  t.match(babyId, /^P\d{11}$/);
  t.type(born.body.create_related_patient.data.related_patient_id, 'string');
  const byMother = await call(srv, 'GET', `/Patient?identifier=${encodeURIComponent(`${NIK_IBU_SYSTEM}|3201010101910003`)}`, { token });
  t.same(byMother.body.entry.map((e: { resource: Patient }) => e.resource.id), [babyId]);
  const same = await call(srv, 'POST', '/Patient', { token, body: baby });
  t.equal(same.body.data.resourceID, babyId, 'same mother, birthDate and multipleBirthInteger: the same baby');
  const twin = await call(srv, 'POST', '/Patient', { token, body: { ...baby, multipleBirthInteger: 2 } });
  t.not(twin.body.create_patient.data.patient_id, babyId);

  const old = await call(srv, 'POST', '/Patient', { token, body: { ...baby, birthDate: new Date(clock - 61 * 86_400_000).toISOString().slice(0, 10) } });
  t.equal(old.status, 400, 'nik-ibu only for babies at most 60 days old');
  t.equal((await call(srv, 'PUT', `/Patient/${babyId}`, { token, body: { ...baby, id: babyId } })).status, 403, 'a faskes may not edit Patient');
});

t.test('a Location must be on the platform or created by the same transaction (20007)', async (t) => {
  // A platform of its own: the counts of the tests below stay theirs.
  const own = await startSatusehatServer({ now: () => clock });
  t.teardown(() => own.close());
  const token = own.issueToken();
  const patient = await own.addPatient({ nik: '3201010101920014', name: 'Ina', birthDate: '2023-05-01', gender: 'female' });
  const nakes = await own.addPractitioner({ nik: '3201010101800015', name: 'Bidan Tari' });
  const nowhere = { ...encounter('E-LOC-1', patient, nakes), location: [{ location: { reference: 'Location/no-such-room' } }] };
  const refused = await call(own, 'POST', '', { token, body: transaction({ fullUrl: 'urn:uuid:1b2c3d4e-5f60-4a1b-8c2d-3e4f5a6b7c8d', resource: nowhere }) });
  t.equal(refused.status, 400);
  t.match((refused.body as OperationOutcome).issue[0]?.details?.text, /Location\/no-such-room.*RuleNumber: 20007/);
  t.same(await own.countByIdentifier('Encounter'), {}, 'nothing written');

  const roomUrl = 'urn:uuid:2c3d4e5f-6071-4b2c-9d3e-4f5a6b7c8d9e';
  const room = { resourceType: 'Location', identifier: [{ system: `http://sys-ids.kemkes.go.id/location/${ORG}`, value: 'room-2' }], name: 'Ruang 2', status: 'active' };
  const withRoom = { resourceType: 'Bundle', type: 'transaction', entry: [
    { fullUrl: roomUrl, resource: room, request: { method: 'POST', url: 'Location' } },
    { fullUrl: 'urn:uuid:3d4e5f60-7182-4c3d-8e4f-5a6b7c8d9e0f', resource: { ...encounter('E-LOC-2', patient, nakes), location: [{ location: { reference: roomUrl } }] }, request: { method: 'POST', url: 'Encounter' } },
  ] };
  t.equal((await call(own, 'POST', '', { token, body: withRoom })).status, 200, 'one created in the same transaction is found');
});

t.test('transaction: urn:uuid references, transaction-response with locations; duplicate rule 20002 on resend', async (t) => {
  const token = srv.issueToken();
  const patient = await srv.addPatient({ nik: '3201010101920004', name: 'Ani', birthDate: '2023-05-01', gender: 'female' });
  const nakes = await srv.addPractitioner({ nik: '3201010101800005', name: 'Bidan Sari' });
  const encUrl = 'urn:uuid:6f1c2a52-3b4d-4e5f-8a9b-0c1d2e3f4a5b';
  const bundle = transaction(
    { fullUrl: encUrl, resource: encounter('E-1', patient, nakes) },
    { fullUrl: 'urn:uuid:7a2d3b63-4c5e-4f60-9bac-1d2e3f4a5b6c', resource: weight('O-1', patient, nakes, encUrl) },
  );
  const ok = await call(srv, 'POST', '', { token, body: bundle });
  t.equal(ok.status, 200);
  t.equal(ok.body.type, 'transaction-response');
  const [enc, obs] = ok.body.entry.map((e: { response: Record<string, string> }) => e.response);
  t.equal(enc.status, '201 Created');
  t.match(enc.location, new RegExp(`^${srv.fhirBase}/Encounter/${enc.resourceID}/_history/.+`));
  t.equal(obs.resourceType, 'Observation');
  const stored = await srv.resources<Observation>('Observation');
  t.equal(stored[0]?.encounter?.reference, `Encounter/${enc.resourceID}`, 'urn:uuid reference resolved');

  const resend = await call(srv, 'POST', '', { token, body: transaction(
    { fullUrl: encUrl, resource: encounter('E-1', patient, nakes), ifNoneExist: `identifier=http://sys-ids.kemkes.go.id/encounter/${ORG}|E-1` },
    { fullUrl: 'urn:uuid:7a2d3b63-4c5e-4f60-9bac-1d2e3f4a5b6c', resource: weight('O-1', patient, nakes, encUrl) },
  ) });
  t.equal(resend.status, 400, 'ifNoneExist does not make it conditional');
  const dup = (resend.body as OperationOutcome).issue.find((i) => i.code === 'duplicate');
  t.match(dup?.details?.text, /Found duplicate resource.*RuleNumber: 20002/);
  t.same(await srv.countByIdentifier('Encounter'), { [`http://sys-ids.kemkes.go.id/encounter/${ORG}|E-1`]: 1 });
  t.same(await srv.countByIdentifier('Observation'), { [`http://sys-ids.kemkes.go.id/observation/${ORG}|O-1`]: 1 });

  const bad = { ...encounter('E-2', patient, nakes), class: undefined } as unknown as Encounter; // class is 1..1
  const failing = await call(srv, 'POST', '', { token, body: transaction(
    { fullUrl: 'urn:uuid:8b3e4c74-5d6f-4071-8cbd-2e3f4a5b6c7d', resource: bad },
    { fullUrl: 'urn:uuid:9c4f5d85-6e70-4182-9dce-3f4a5b6c7d8e', resource: weight('O-2', patient, nakes, 'urn:uuid:8b3e4c74-5d6f-4071-8cbd-2e3f4a5b6c7d') },
  ) });
  t.equal(failing.status, 400);
  t.match(JSON.stringify(failing.body), /previous error/, 'the dependant fails with the failing entry');
  t.equal((await srv.resources('Encounter')).length, 1, 'nothing stored from a failing bundle');

  const wrongPatient = await call(srv, 'POST', '', { token, body: transaction({ fullUrl: 'urn:uuid:ad506e96-7f81-4293-aedf-4a5b6c7d8e9f', resource: encounter('E-3', 'P00000000000', nakes) }) });
  t.equal(wrongPatient.status, 400, 'reference to an unknown IHS number refused');
});

t.test('updates (§13): a POST duplicate changes nothing; PUT {Type}/{id} replaces, plainly and in a transaction; JSON Patch on Encounter and EpisodeOfCare', async (t) => {
  const token = srv.issueToken();
  const patient = await srv.addPatient({ nik: '3201010101920006', name: 'Budi', birthDate: '2023-06-01', gender: 'male' });
  const nakes = await srv.addPractitioner({ nik: '3201010101800007', name: 'Bidan Rina' });
  const encUrl = 'urn:uuid:1b2c3d4e-5f60-4718-9a2b-3c4d5e6f7a8b';
  const obsUrl = 'urn:uuid:2c3d4e5f-6071-4829-8b3c-4d5e6f7a8b9c';
  const created = await call(srv, 'POST', '', { token, body: transaction({ fullUrl: encUrl, resource: encounter('U-1', patient, nakes) }, { fullUrl: obsUrl, resource: weight('U-1.w', patient, nakes, encUrl) }) });
  t.equal(created.status, 200);
  const [encId, obsId] = created.body.entry.map((e: { response: { resourceID: string } }) => e.response.resourceID);
  const stored = () => srv.repo.readResource<Observation>('Observation', obsId);

  const heavier = { ...weight('U-1.w', patient, nakes, `Encounter/${encId}`), valueQuantity: { value: 9.9, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' } };
  const again = await call(srv, 'POST', '/Observation', { token, body: heavier });
  t.equal(again.status, 400);
  t.match(JSON.stringify(again.body), /20002/, 'a second POST under the same identifier is a duplicate');
  t.equal((await stored()).valueQuantity?.value, 9.4, 'and changes nothing');

  const put = await call(srv, 'PUT', `/Observation/${obsId}`, { token, body: { ...heavier, id: obsId } });
  t.equal(put.status, 200);
  t.equal((await stored()).valueQuantity?.value, 9.9, 'PUT replaces the stored resource');
  t.equal((await srv.resources('Observation')).filter((o) => o.id === obsId).length, 1, 'under the same id');
  t.equal((await call(srv, 'PUT', `/Observation/${obsId}`, { token, body: heavier })).status, 400, 'the id in the resource must be the one in the URL');
  t.equal((await call(srv, 'PUT', '/Observation/no-such-id', { token, body: { ...heavier, id: 'no-such-id' } })).status, 404, 'an update of nothing is refused (20007)');
  const invalid = await call(srv, 'PUT', `/Observation/${obsId}`, { token, body: { ...heavier, id: obsId, status: 'preliminary', code: undefined } }); // code is 1..1
  t.equal(invalid.status, 400, 'an update is validated like a create');
  t.equal((await stored()).status, 'final', 'and a refused one changes nothing');

  const inTx = await call(srv, 'POST', '', { token, body: {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { fullUrl: obsUrl, resource: { ...heavier, id: obsId, status: 'entered-in-error' }, request: { method: 'PUT', url: `Observation/${obsId}` } },
      { fullUrl: 'urn:uuid:3d4e5f60-7182-493a-9c4d-5e6f7a8b9cad', resource: weight('U-1.w2', patient, nakes, `Encounter/${encId}`), request: { method: 'POST', url: 'Observation' } },
    ],
  } });
  t.equal(inTx.status, 200);
  t.same(inTx.body.entry.map((e: { response: { status: string } }) => e.response.status), ['200 OK', '201 Created']);
  t.equal((await stored()).status, 'entered-in-error', 'a PUT entry of a transaction replaces too');
  const clash = await call(srv, 'PUT', `/Observation/${obsId}`, { token, body: { ...weight('U-1.w2', patient, nakes, `Encounter/${encId}`), id: obsId } });
  t.equal(clash.status, 400, 'an update may not take another resource’s identifier');
  t.match(JSON.stringify(clash.body), /20002/);

  const patch = [{ op: 'replace', path: '/period/end', value: '2025-03-01T03:00:00+00:00' }];
  const patched = await call(srv, 'PATCH', `/Encounter/${encId}`, { token, body: patch, contentType: 'application/json-patch+json' });
  t.equal(patched.status, 200);
  t.equal((await srv.repo.readResource<Encounter>('Encounter', encId)).period?.end, '2025-03-01T03:00:00+00:00', 'JSON Patch on an Encounter applies');
  t.equal((await call(srv, 'PATCH', `/Encounter/${encId}`, { token, body: patch })).status, 415, 'as application/json-patch+json only');
  t.equal((await call(srv, 'PATCH', `/Observation/${obsId}`, { token, body: [{ op: 'replace', path: '/status', value: 'final' }], contentType: 'application/json-patch+json' })).status, 405, 'not on an Observation');
  const episode = await call(srv, 'POST', '/EpisodeOfCare', { token, body: {
    resourceType: 'EpisodeOfCare',
    identifier: [{ system: `http://sys-ids.kemkes.go.id/episode-of-care/${ORG}`, value: 'EOC-U-1' }],
    status: 'active',
    patient: { reference: `Patient/${patient}` },
    managingOrganization: { reference: `Organization/${ORG}` },
  } });
  t.equal(episode.status, 201);
  const closed = await call(srv, 'PATCH', `/EpisodeOfCare/${episode.body.id}`, { token, body: [{ op: 'replace', path: '/status', value: 'finished' }], contentType: 'application/json-patch+json' });
  t.equal(closed.status, 200);
  t.equal((await srv.repo.readResource<EpisodeOfCare>('EpisodeOfCare', episode.body.id)).status, 'finished', 'and on an EpisodeOfCare (H08__081 closes one by update)');
  const breaking = await call(srv, 'PATCH', `/Encounter/${encId}`, { token, body: [{ op: 'remove', path: '/class' }], contentType: 'application/json-patch+json' });
  t.equal(breaking.status, 400, 'a patch that leaves an invalid Encounter is refused');
  t.ok((await srv.repo.readResource<Encounter>('Encounter', encId)).class, 'and changes nothing');
  t.equal((await call(srv, 'DELETE', `/Observation/${obsId}`, { token })).status, 405, 'nothing is deleted');
});

t.test("validation rules (kamus validasi): one entry breaking them fails the whole transaction, each rule named", async (t) => {
  const token = srv.issueToken();
  const patient = await srv.addPatient({ nik: '3201010101920006', name: 'Dewi', birthDate: '2023-06-01', gender: 'female' });
  const nakes = await srv.addPractitioner({ nik: '3201010101800007', name: 'Bidan Tari' });
  const encounters = (await srv.resources('Encounter')).length;
  const observations = (await srv.resources('Observation')).length;
  const encUrl = 'urn:uuid:be617fa7-8092-43a4-bfe0-5b6c7d8e9fa0';
  // A visit that ends when it starts (10121) and a weight measured by the Organization (10383) on a
  // date without time (10295): all valid FHIR R4, so only the platform's own rules can refuse them.
  const sameInstant = { ...encounter('E-R1', patient, nakes), period: { start: '2025-03-01T01:00:00+00:00', end: '2025-03-01T01:00:00+00:00' } };
  const byOrganization = { ...weight('O-R1', patient, nakes, encUrl), performer: [{ reference: `Organization/${ORG}` }], effectiveDateTime: '2025-03-01' };
  const good = weight('O-R2', patient, nakes, encUrl);
  const res = await call(srv, 'POST', '', { token, body: transaction(
    { fullUrl: encUrl, resource: sameInstant },
    { fullUrl: 'urn:uuid:cf7280b8-91a3-44b5-8af1-6c7d8e9fa0b1', resource: byOrganization },
    { fullUrl: 'urn:uuid:d08391c9-a2b4-45c6-9b02-7d8e9fa0b1c2', resource: good },
  ) });
  t.equal(res.status, 400);
  const issues = (res.body as OperationOutcome).issue;
  const named = issues.map((i) => [/RuleNumber: (\d+)/.exec(i.details?.text ?? '')?.[1], i.expression?.[0]]);
  t.same(named.filter(([n]) => n !== '20012'), [
    ['10121', 'Bundle.entry[0].resource.period.end'],
    ['10295', 'Bundle.entry[1].resource.effectiveDateTime'],
    ['10383', 'Bundle.entry[1].resource.performer[0]'],
  ], 'each broken rule by number and element');
  t.match(issues.find((i) => i.details?.text?.includes('10383'))?.details?.text, /^Path Observation\.performer wajib terisi dengan Reference yang merujuk pada data Practitioner.*\(RuleNumber: 10383\)$/s, "the platform's words");
  t.ok(named.some(([n, at]) => n === '20012' && at === 'Bundle.entry[2]'), 'the good entry refers to the failing Encounter and fails with it');
  t.equal((await srv.resources('Encounter')).length, encounters, 'no Encounter stored');
  t.equal((await srv.resources('Observation')).length, observations, 'no Observation stored, the good one neither');

  const fixed = await call(srv, 'POST', '', { token, body: transaction(
    { fullUrl: encUrl, resource: encounter('E-R1', patient, nakes) },
    { fullUrl: 'urn:uuid:d08391c9-a2b4-45c6-9b02-7d8e9fa0b1c2', resource: good },
  ) });
  t.equal(fixed.status, 200, 'the same visit meeting the rules goes in');

  const single = await call(srv, 'POST', '/Observation', { token, body: byOrganization });
  t.equal(single.status, 400, 'a single POST is judged the same way');
  t.same(single.body.issue.map((i: { expression: string[] }) => i.expression[0]), ['Observation.effectiveDateTime', 'Observation.performer[0]']);

  const [stored] = await srv.resources<Encounter>('Encounter').then((all) => all.filter((e) => e.identifier?.[0]?.value === 'E-R1'));
  const put = await call(srv, 'PUT', `/Encounter/${stored!.id}`, { token, body: { ...stored, period: { start: '2025-03-01T01:00:00+00:00', end: '2025-03-01T00:30:00+00:00' } } });
  t.equal(put.status, 400, 'an update is judged too');
  t.match(put.body.issue[0].details.text, /RuleNumber: 10121/);
  t.equal((await srv.repo.readResource<Encounter>('Encounter', stored!.id!)).period?.end, '2025-03-01T02:00:00+00:00', 'and changes nothing');
});

t.test('faults: 429 with Retry-After, injected errors, slow answers that still commit, down and up', async (t) => {
  const token = srv.issueToken();
  srv.throttle(1, 7);
  const throttled = await call(srv, 'GET', '/Patient', { token });
  t.equal(throttled.status, 429);
  t.equal(throttled.headers.get('retry-after'), '7');
  srv.failNext(1, 503);
  t.equal((await call(srv, 'GET', '/Patient', { token })).status, 503);
  t.equal((await call(srv, 'GET', '/Patient', { token })).status, 200);
  t.same(srv.requests.slice(-3).map((r) => [r.method, r.path, r.status]), [
    ['GET', '/fhir-r4/v1/Patient', 429],
    ['GET', '/fhir-r4/v1/Patient', 503],
    ['GET', '/fhir-r4/v1/Patient', 200],
  ]);

  srv.failNext(1, 500, { on: 'token' });
  t.equal((await askToken(srv)).status, 500, 'token endpoint faults are opt-in');

  const patient = await srv.addPatient({ nik: '3201010101930006', name: 'Budi', birthDate: '2022-02-02', gender: 'male' });
  const nakes = await srv.addPractitioner({ nik: '3201010101800007', name: 'Dokter Tono' });
  srv.delayNext(1, 800);
  const slow = fetch(srv.fhirBase, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(transaction({ fullUrl: 'urn:uuid:be617fa7-8092-44a4-bfe0-5b6c7d8e9fa0', resource: encounter('E-slow', patient, nakes) })),
    signal: AbortSignal.timeout(200),
  });
  await t.rejects(slow, 'the client times out');
  t.equal((await srv.countByIdentifier('Encounter'))[`http://sys-ids.kemkes.go.id/encounter/${ORG}|E-slow`], 1, 'but the write was committed');

  await srv.down();
  await t.rejects(fetch(srv.fhirBase + '/Patient', { headers: { authorization: `Bearer ${token}` } }), 'connection refused while down');
  await srv.up();
  t.equal((await call(srv, 'GET', '/Patient', { token })).status, 200, 'same port after up');
});
