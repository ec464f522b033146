import { readFileSync } from 'node:fs';
import t from 'tap';
import type { Encounter, EpisodeOfCare, Immunization, Observation, Patient } from '@medplum/fhirtypes';
import { getJson, postJson, waitFor } from '../helpers/gateway.js';
import { startStack } from '../helpers/stack.js';
import { validAncVisit, validAnthropometry, validImmunization, validScreening, withChanges } from '../fixtures/records.js';

// A record from POST to a real FHIR engine over HTTP, and the answers to bad records.

const { fhir, gw } = await startStack(t);

// 30 s: one child's records go one at a time, and a weighing is now 16 conditional writes; on a
// shared 2-core machine three of them took longer than 15 s with nothing wrong.
const synced = (id: string) =>
  waitFor(async () => {
    const r = await getJson(`${gw.url}/v1/records/${id}`);
    return r.body.status === 'synced' ? r.body : undefined;
  }, 30_000, `record ${id} synced`);

t.test('a valid record is accepted, synced, and its upstream ids are shown', async (t) => {
  const res = await postJson(`${gw.url}/v1/records?source=sip-demo`, validAnthropometry);
  t.equal(res.status, 202);
  t.equal(res.body.status, 'queued');
  t.equal(res.headers.get('location'), `/v1/records/${res.body.id}`);
  t.same(res.body.links, { self: `/v1/records/${res.body.id}` });
  const rec = await synced(res.body.id);
  const up = rec.upstreams.sandbox;
  t.equal(up.state, 'synced');
  t.equal(up.attempts, 1);
  t.same(up.resources.map((r: { resourceType: string }) => r.resourceType).sort(),
    ['Condition', 'Encounter', 'Location', ...Array(10).fill('Observation'), 'Organization', 'Patient'], 'the visit and its diagnosis, four measurements, height also as 8302-2, five z-scores');
  t.ok(up.resources.every((r: { id: string }) => r.id.length > 0));
  const patients = await fhir.search<Patient>('Patient', { identifier: 'https://fhir.kemkes.go.id/id/nik|3201015503230004' });
  t.equal(patients.length, 1);
  t.equal(patients[0]?.id, up.resources.find((r: { resourceType: string }) => r.resourceType === 'Patient').id);
  const encounters = await fhir.search<Encounter>('Encounter', { subject: `Patient/${patients[0]?.id}` });
  t.equal(encounters.length, 1);
  t.equal(encounters[0]?.serviceProvider?.reference?.startsWith('Organization/'), true, 'references resolved to server ids');
  t.equal(
    encounters[0]?.diagnosis?.[0]?.condition?.reference,
    `Condition/${up.resources.find((r: { resourceType: string }) => r.resourceType === 'Condition').id}`,
    'the Encounter and its diagnosis name each other across the transaction',
  );
  t.same(fhir.validationErrors, [], 'the FHIR engine judged every resource valid');
  const [wfh] = await fhir.search<Observation>('Observation', { identifier: 'http://sys-ids.kemkes.go.id/observation/10000004|sip-demo.PB-2025-000123.z-wfh' });
  t.equal(wfh?.valueQuantity?.code, '{Zscore}');
  t.match(wfh?.derivedFrom?.[0]?.reference ?? '', /^Observation\/[0-9a-f-]+$/, 'derivedFrom points at the stored weight');
  t.equal(res.body.indicators.growth.zScores.length, 6, 'the app sees the z-scores at once');
  const shown = await getJson(`${gw.url}/v1/records/${res.body.id}`);
  t.same(shown.body.indicators, res.body.indicators, 'and in GET /v1/records/{id}');
});

t.test('a screening record: BP, BMI, waist, glucose, lipids, Hb and smoking reach the FHIR engine valid', async (t) => {
  const res = await postJson(`${gw.url}/v1/records?source=posbindu`, validScreening);
  t.equal(res.status, 202);
  t.equal(res.body.indicators.screening.findings[0].key, 'grade-1');
  const rec = await synced(res.body.id);
  t.equal(rec.upstreams.sandbox.resources.filter((r: { resourceType: string }) => r.resourceType === 'Observation').length, 12);
  const [risk] = await fhir.search<Observation>('Observation', { identifier: 'http://sys-ids.kemkes.go.id/observation/10000005|posbindu.PTM-2025-0042.hypertension-risk' });
  t.equal(risk?.derivedFrom?.length, 2);
  const types = rec.upstreams.sandbox.resources.map((r: { resourceType: string }) => r.resourceType);
  t.ok(types.includes('Composition') && types.includes('QuestionnaireResponse'), 'the Form Skrining PTM and Q0013 go to any FHIR server too');
  t.same(fhir.validationErrors, []);
  t.equal((await getJson(`${gw.url}/v1/schemas/screening`)).body.properties.kind.const, 'screening');
});

t.test('ANC visits of one pregnancy share one EpisodeOfCare upstream, and every resource is valid', async (t) => {
  const k4 = await postJson(`${gw.url}/v1/records?source=kia`, validAncVisit);
  t.equal(k4.status, 202, JSON.stringify(k4.body));
  const k5 = await postJson(`${gw.url}/v1/records?source=other-app`, withChanges({ recordId: 'X-77', occurredAt: '2025-11-06T09:00:00+07:00', visitNumber: 'K5' }, validAncVisit));
  await synced(k4.body.id);
  await synced(k5.body.id);
  const episodes = await fhir.search<EpisodeOfCare>('EpisodeOfCare', { type: 'ANC' });
  t.equal(episodes.length, 1, 'one pregnancy, one episode');
  const encounters = await fhir.search<Encounter>('Encounter', { 'episode-of-care': `EpisodeOfCare/${episodes[0]?.id}` });
  t.equal(encounters.length, 2, 'both visits point at it');
  t.same(fhir.validationErrors, []);
});

t.test('immunisation doses reach the FHIR engine valid, one Immunization each', async (t) => {
  const given = await postJson(`${gw.url}/v1/records?source=sim`, validImmunization);
  t.equal(given.status, 202, JSON.stringify(given.body));
  t.match(given.body.indicators.immunization, { antigen: 'dpt-hb-hib', name: { id: 'DPT-HB-Hib (pentavalen)', en: 'DTP-HepB-Hib (pentavalent)' }, dose: 2, given: true, timing: 'on-time', programme: 'IM-Dasar' });
  t.same(given.body.indicators.immunization.status.overdue.slice(0, 2), ['hepb.0', 'bcg.1'], 'earlier doses Gerbang never saw show as overdue');
  const postponed = await postJson(`${gw.url}/v1/records?source=sim`, withChanges({ recordId: 'IMM-2025-0312', vaccine: 'PCV 2', status: 'not-given', notGivenReason: 'postponed' }, validImmunization));
  await synced(given.body.id);
  await synced(postponed.body.id);
  const imms = await fhir.search<Immunization>('Immunization', { patient: `Patient/${(await fhir.search<Patient>('Patient', { identifier: 'https://fhir.kemkes.go.id/id/nik|3201011508250003' }))[0]?.id}` });
  t.same(imms.map((i) => i.status).sort(), ['completed', 'not-done']);
  t.same(fhir.validationErrors, []);
  const bad = await postJson(`${gw.url}/v1/records?source=sim`, withChanges({ vaccine: 'Vaksin Cacar 1' }, validImmunization));
  t.equal(bad.status, 422);
  t.match(bad.body.issue[0].details.text, /Vaksin Cacar 1/);
});

t.test('doses received through Gerbang make the immunisation status; the basic series makes IDL', async (t) => {
  const baby = { nik: '3201014101250001', name: 'Nadia', sex: 'female', birthDate: '2025-01-01' };
  const doses: Array<[string, string]> = [
    ['HB-0', '2025-01-02'], ['BCG', '2025-02-03'], ['Polio 1', '2025-02-03'], ['DPT-HB-Hib 1', '2025-03-03'], ['Polio 2', '2025-03-03'],
    ['DPT-HB-Hib 2', '2025-04-02'], ['Polio 3', '2025-04-02'], ['DPT-HB-Hib 3', '2025-05-02'], ['Polio 4', '2025-05-02'], ['IPV 1', '2025-05-02'],
  ];
  let last: any;
  for (const [i, [vaccine, date]] of doses.entries()) {
    last = await postJson(`${gw.url}/v1/records?source=kohort`, { ...validImmunization, recordId: `IDL-${i}`, subject: baby, vaccine, occurredAt: date });
    t.equal(last.status, 202, `${vaccine}: ${JSON.stringify(last.body).slice(0, 200)}`);
  }
  t.equal(last.body.indicators.immunization.status.idl, false, 'MR1 still missing');
  t.same(last.body.indicators.immunization.status.overdue, ['pcv.1', 'pcv.2', 'rotavirus.1', 'rotavirus.2'], 'at 4 months only the PCV and rotavirus doses never given here are overdue');
  const mr = await postJson(`${gw.url}/v1/records?source=kohort`, { ...validImmunization, recordId: 'IDL-mr', subject: baby, vaccine: 'Campak Rubella 1', occurredAt: '2025-10-01' });
  t.equal(mr.body.indicators.immunization.status.idl, true, 'Imunisasi Dasar Lengkap');
  t.equal(mr.body.indicators.immunization.timing, 'on-time');
});

t.test('a vaccine named without its dose: the next one after the doses Gerbang knows, with a warning; else refused with the choices', async (t) => {
  const baby = { nik: '3201010101250002', name: 'Rafa', sex: 'male', birthDate: '2025-01-01' };
  const post = (recordId: string, vaccine: string, occurredAt: string, subject: object = baby) =>
    postJson(`${gw.url}/v1/records?source=kohort`, { ...validImmunization, recordId, subject, vaccine, occurredAt });
  const unknownChild = await post('NODOSE-0', 'Pentabio', '2025-03-03');
  t.equal(unknownChild.status, 422, 'no dose known: which one it was is the app\'s to say');
  t.match(unknownChild.body.issue[0], { expression: ['vaccine'], details: { coding: [{ code: 'vaccine.dose-missing' }] } });
  t.match(unknownChild.body.issue[0].details.text, /Pilihan: 1, 2, 3, 4/);
  t.equal((await post('NODOSE-1', 'DPT-HB-Hib 1', '2025-03-03')).status, 202);
  const next = await post('NODOSE-2', 'Pentabio', '2025-04-02');
  t.equal(next.status, 202, JSON.stringify(next.body).slice(0, 300));
  t.match(next.body.indicators.immunization, { antigen: 'dpt-hb-hib', dose: 2, doseFrom: 'history' });
  t.match(next.body.warnings.issue, [{ severity: 'warning', details: { coding: [{ code: 'vaccine.dose-from-history' }] }, expression: ['vaccine'] }]);
  t.match(next.body.warnings.issue[0].details.text, /"Pentabio".*dosis 2.*dosis 1/);
  await synced(next.body.id);
  const imms = await fhir.search<Immunization>('Immunization', { 'vaccine-code': '93001282' });
  t.ok(imms.some((i) => i.protocolApplied?.[0]?.doseNumberPositiveInt === 2), 'sent as dose 2 with the Pentabio product code');
  const je = await post('NODOSE-3', 'JE', '2025-10-01');
  t.equal(je.status, 202);
  t.equal(je.body.warnings, undefined, 'JE has one dose: nothing to say');
});

t.test('an app\'s native row through its adapter: ?source=<adapter>', async (t) => {
  const native = JSON.parse(readFileSync(new URL('../fixtures/samples/sim-posyandu__pemeriksaan_balita__01.json', import.meta.url), 'utf8'));
  const res = await postJson(`${gw.url}/v1/records?source=sim-posyandu&posyandu=3201010001-01`, native);
  t.equal(res.status, 202, JSON.stringify(res.body).slice(0, 300));
  t.equal(res.body.kind, 'anthropometry');
  t.same(res.body.provenance.find((p: { field: string }) => p.field === 'weightKg'), { field: 'weightKg', source: 'berat_badan', original: '10.70', value: 10.7, rules: ['number-from-text'] });
  const rec = await synced(res.body.id);
  t.equal(rec.source, 'sim-posyandu');
  t.ok(rec.provenance.length > 5, 'GET shows what the app sent');
  const bad = await postJson(`${gw.url}/v1/records?source=e-kohort&posyandu=3201010001-01`, JSON.parse(readFileSync(new URL('../fixtures/samples/e-kohort__anc_visit__INVALID_05.json', import.meta.url), 'utf8')));
  t.equal(bad.status, 422);
  const visit = bad.body.issue.find((i: { expression: string[] }) => i.expression[0] === 'visitNumber');
  t.same(visit.expression, ['visitNumber', 'visit_code'], 'the canonical field and the app\'s own column');
  t.match(visit.details.text, /K9/);
});

t.test('the same record again answers with the same id and sends nothing', async (t) => {
  const first = await postJson(`${gw.url}/v1/records?source=replay-app`, withChanges({ recordId: 'R-1' }));
  await synced(first.body.id);
  // Records of earlier tests may still be on their way: measure once the upstream is quiet.
  let last = -1;
  await waitFor(async () => {
    const now = fhir.requests.length;
    const quiet = now === last;
    last = now;
    await new Promise((r) => setTimeout(r, 700));
    return quiet;
  }, 20_000, 'upstream quiet');
  const before = fhir.requests.length;
  const again = await postJson(`${gw.url}/v1/records?source=replay-app`, withChanges({ recordId: 'R-1' }));
  t.equal(again.status, 202);
  t.equal(again.body.id, first.body.id);
  t.equal(again.body.outcome, 'duplicate');
  t.equal(again.body.status, 'synced');
  await new Promise((r) => setTimeout(r, 500));
  t.equal(fhir.requests.length, before, 'no new push upstream');
});

t.test('changed content is a new version that updates the same resources upstream', async (t) => {
  const v1 = await postJson(`${gw.url}/v1/records?source=version-app`, withChanges({ recordId: 'V-1', weightKg: 9.1 }));
  await synced(v1.body.id);
  const v2 = await postJson(`${gw.url}/v1/records?source=version-app`, withChanges({ recordId: 'V-1', weightKg: 9.4 }));
  t.equal(v2.body.id, v1.body.id);
  t.equal(v2.body.version, 2);
  t.equal(v2.body.outcome, 'new-version');
  await waitFor(async () => (await getJson(`${gw.url}/v1/records/${v1.body.id}`)).body.upstreams.sandbox.version === 2 && (await synced(v1.body.id)));
  const weights = await fhir.search<Observation>('Observation', { identifier: 'http://sys-ids.kemkes.go.id/observation/10000004|version-app.V-1.weight' });
  t.equal(weights.length, 1, 'updated in place, not duplicated');
  t.equal(weights[0]?.valueQuantity?.value, 9.4);
});

t.test('weighings a month apart: N/T against the KBM, sent as the adequate-gain Observation', async (t) => {
  const child = { ...validAnthropometry.subject, nik: '3201012008230001', sex: 'male', birthDate: '2023-08-20' };
  const first = await postJson(`${gw.url}/v1/records?source=kms`, withChanges({ recordId: 'K-1', occurredAt: '2025-09-05', subject: child, weightKg: 11.0 }));
  t.equal(first.body.indicators.growth.weightGain.status, 'B', 'first weighing Gerbang sees');
  const second = await postJson(`${gw.url}/v1/records?source=kms`, withChanges({ recordId: 'K-2', occurredAt: '2025-10-06', subject: child, weightKg: 11.1 }));
  t.same(second.body.indicators.growth.weightGain, { status: 'T', gainGrams: 100, minimumGrams: 200, twoT: false });
  const third = await postJson(`${gw.url}/v1/records?source=kms`, withChanges({ recordId: 'K-3', occurredAt: '2025-11-04', subject: child, weightKg: 11.15 }));
  t.equal(third.body.indicators.growth.weightGain.twoT, true, 'two T in a row');
  await synced(third.body.id);
  const [gain] = await fhir.search<Observation>('Observation', { identifier: 'http://sys-ids.kemkes.go.id/observation/10000004|kms.K-3.weight-gain' });
  t.equal(gain?.valueBoolean, false);
  t.equal(gain?.code?.coding?.[0]?.code, 'OC000012');
  const again = await postJson(`${gw.url}/v1/records?source=kms`, withChanges({ recordId: 'K-2', occurredAt: '2025-10-06', subject: child, weightKg: 11.4 }));
  t.equal(again.body.outcome, 'new-version');
  t.equal(again.body.indicators.growth.weightGain.status, 'N', 'a corrected weight is judged against last month, not against its own first version');
});

t.test('bad records are refused with a 4xx OperationOutcome naming each problem', async (t) => {
  const cases: Array<[string, unknown, number, string[], Record<string, string>?]> = [
    ['not JSON', '{"kind": "anthropometry",', 400, ['request.not-json']],
    ['unknown kind', withChanges({ kind: 'weighing' }), 422, ['kind.unknown']],
    ['missing fields', withChanges({ recordId: undefined, subject: undefined }), 422, ['field.required', 'field.required']],
    ['wrong type', withChanges({ weightKg: '9,8' }), 422, ['field.type']],
    ['unknown field', withChanges({ berat: 9 }), 422, ['field.unknown']],
    ['broken NIK', withChanges({ subject: { ...validAnthropometry.subject, nik: '3201019903230004' } }), 422, ['nik.birth-date']],
    ['future date', withChanges({ occurredAt: '2099-01-01T09:00:00+07:00' }), 422, ['date.future']],
    ['before birth', withChanges({ occurredAt: '2022-01-01' }), 422, ['date.before-birth']],
    ['grams as kg', withChanges({ weightKg: 9800 }), 422, ['value.grams-as-kg']],
    ['300 cm baby', withChanges({ heightCm: 300 }), 422, ['value.implausible']],
    ['unknown posyandu', withChanges({ posyandu: '0000000000-00' }), 422, ['posyandu.unknown']],
  ];
  for (const [name, body, status, issueCodes] of cases) {
    const res = await postJson(`${gw.url}/v1/records`, body);
    t.equal(res.status, status, `${name}: status`);
    t.equal(res.headers.get('content-type'), 'application/fhir+json; charset=utf-8', `${name}: content type`);
    t.equal(res.body.resourceType, 'OperationOutcome');
    t.same(res.body.issue.map((i: any) => i.details.coding[0].code), issueCodes, `${name}: issues`);
    for (const issue of res.body.issue) t.ok(issue.details.text.length > 10, `${name}: words`);
  }
  const located = await postJson(`${gw.url}/v1/records`, withChanges({ weightKg: 9800 }));
  t.same(located.body.issue[0].expression, ['weightKg']);
  t.same(located.body.issue[0].location, ['/weightKg']);
  t.match(located.body.issue[0].details.text, /gram/);
});

t.test('wrong content type and a body too large', async (t) => {
  const text = await fetch(`${gw.url}/v1/records`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
  t.equal(text.status, 415);
  t.equal((await text.json()).issue[0].details.coding[0].code, 'request.content-type');
  const big = await postJson(`${gw.url}/v1/records`, withChanges({ note: 'x'.repeat(300 * 1024) }));
  t.equal(big.status, 413);
  t.equal(big.body.issue[0].details.coding[0].code, 'request.too-large');
});

t.test('English on request, Indonesian by default', async (t) => {
  const id = await postJson(`${gw.url}/v1/records`, withChanges({ posyandu: 'X' }));
  t.match(id.body.issue[0].details.text, /tidak terdaftar/);
  const en = await postJson(`${gw.url}/v1/records`, withChanges({ posyandu: 'X' }), { 'accept-language': 'en-US,en;q=0.9' });
  t.match(en.body.issue[0].details.text, /not registered/);
});

t.test('schemas, health, readiness, unknown record', async (t) => {
  const schema = await getJson(`${gw.url}/v1/schemas/anthropometry`);
  t.equal(schema.status, 200);
  t.equal(schema.body.properties.kind.const, 'anthropometry');
  t.equal((await getJson(`${gw.url}/v1/schemas/nope`)).status, 404);
  t.equal((await getJson(`${gw.url}/healthz`)).status, 200);
  const ready = await getJson(`${gw.url}/readyz`);
  t.equal(ready.status, 200);
  t.same(ready.body.upstreams.map((u: { name: string }) => u.name), ['sandbox']);
  const missing = await getJson(`${gw.url}/v1/records/00000000-0000-0000-0000-000000000000`);
  t.equal(missing.status, 404);
  t.equal(missing.body.resourceType, 'OperationOutcome');
});

t.test('$map: a dry run shows the Bundle and the issues, and queues nothing', async (t) => {
  // Earlier tests may still have a retry on its way (test backoff is capped at 1 s): wait until
  // the upstream has been quiet for longer than that, so a request below can only be ours.
  let before = -1;
  while (before !== fhir.requests.length) {
    before = fhir.requests.length;
    await new Promise((r) => setTimeout(r, 1_200));
  }
  const ok = await postJson(`${gw.url}/v1/$map`, validAnthropometry);
  t.equal(ok.body.valid, true);
  t.equal(ok.body.bundle.resourceType, 'Bundle');
  const bad = await postJson(`${gw.url}/v1/$map`, withChanges({ heightCm: 300 }));
  t.equal(bad.body.valid, false);
  t.equal(bad.body.outcome.issue[0].details.coding[0].code, 'value.implausible');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(fhir.requests.length, before);
});

t.test('$map?validate=<upstream>: the upstream\'s own $validate judges the Bundle', async (t) => {
  for (const record of [validAnthropometry, validAncVisit, validImmunization, validScreening]) {
    const res = await postJson(`${gw.url}/v1/$map?validate=sandbox`, record);
    t.equal(res.body.upstreamValidation.upstream, 'sandbox');
    t.equal(res.body.upstreamValidation.httpStatus, 200, record.kind);
    t.same(res.body.upstreamValidation.outcome.issue.filter((i: { severity: string }) => i.severity === 'error'), [], `${record.kind}: no error`);
  }
  const before = await fhir.search<Patient>('Patient', {});
  t.equal((await fhir.search<Patient>('Patient', {})).length, before.length, 'nothing stored');
  const unknown = await postJson(`${gw.url}/v1/$map?validate=nope`, validAnthropometry);
  t.equal(unknown.status, 400);
  t.equal(unknown.body.issue[0].expression[0], 'validate');
});
