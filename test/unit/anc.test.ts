import t from 'tap';
import type { Encounter, EpisodeOfCare, Medication, MedicationDispense, Observation } from '@medplum/fhirtypes';
import { loadConfig } from '../../src/config/load.js';
import { mapRecord } from '../../src/fhir/map-record.js';
import { checkBundle } from '../../src/fhir/profile-check.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import type { CanonicalRecord } from '../../src/records/schemas/index.js';
import { validAncVisit, withChanges } from '../fixtures/records.js';

const { facilities } = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-unit' });
const map = (r: unknown, source = 'kia-app') => mapRecord(r as CanonicalRecord, source, facilities);
const byCode = (bundle: { entry?: Array<{ resource?: unknown }> }, code: string) =>
  bundle.entry?.map((e) => e.resource as Observation).find((r) => r?.code?.coding?.[0]?.code === code);

t.test('the pregnancy is one EpisodeOfCare, created if missing, keyed by the mother and HPHT', async (t) => {
  const { bundle } = map(validAncVisit);
  const eocEntry = bundle.entry?.find((e) => e.resource?.resourceType === 'EpisodeOfCare');
  const eoc = eocEntry?.resource as EpisodeOfCare;
  t.equal(eocEntry?.request?.method, 'POST');
  t.match(eocEntry?.request?.ifNoneExist, /episode-of-care%2F10000004/);
  t.equal(eoc.period?.start, '2025-11-05T01:00:00+00:00', 'starts when the visit that opens it starts (H06__004/005), not at HPHT');
  t.same(eoc.statusHistory, [{ status: 'active', period: { start: '2025-11-05T01:00:00+00:00' } }], 'statusHistory as H06__004');
  t.equal(eoc.type?.[0]?.coding?.[0]?.code, 'ANC');
  const dateOnly = map(withChanges({ occurredAt: '2025-11-05' }, validAncVisit)).bundle;
  const dateOnlyEoc = dateOnly.entry?.find((e) => e.resource?.resourceType === 'EpisodeOfCare')?.resource as EpisodeOfCare;
  t.match(dateOnlyEoc.period?.start, /^2025-11-05T\d{2}:\d{2}:\d{2}\+00:00$/, 'a date-only visit still starts the episode at a full date-time (10406)');
  t.same(checkBundle(dateOnly), []);
  const other = map(withChanges({ recordId: 'ANC-2025-0099', visitNumber: 'K5' }, validAncVisit), 'another-app').bundle;
  const eoc2 = other.entry?.find((e) => e.resource?.resourceType === 'EpisodeOfCare')?.resource as EpisodeOfCare;
  t.same(eoc2.identifier, eoc.identifier, 'another visit of the same pregnancy, from another app, reuses it');
  const next = map(withChanges({ pregnancy: { lmp: '2027-01-01' }, occurredAt: '2027-03-01' }, validAncVisit)).bundle;
  const eoc3 = next.entry?.find((e) => e.resource?.resourceType === 'EpisodeOfCare')?.resource as EpisodeOfCare;
  t.not(eoc3.identifier?.[0]?.value, eoc.identifier?.[0]?.value, 'a new pregnancy is a new episode');
  const enc = bundle.entry?.find((e) => e.resource?.resourceType === 'Encounter')?.resource as Encounter;
  t.same(enc.identifier?.[1], { system: 'http://terminology.kemkes.go.id/CodeSystem/episodeofcare/ANC', value: 'K4' });
  t.equal(enc.episodeOfCare?.[0]?.reference, eocEntry?.fullUrl);
  const order = bundle.entry?.map((e) => e.resource?.resourceType) ?? [];
  t.ok(order.indexOf('EpisodeOfCare') < order.indexOf('Encounter'), 'written before the Encounter that refers to it');
  t.same(checkBundle(bundle), []);
});

t.test('measurements, obstetric status and interpretations, coded twice as H06 does', async (t) => {
  const { bundle, indicators } = map(validAncVisit);
  t.equal(byCode(bundle, '18185-9')?.valueQuantity?.value, 29, 'gestational age derived from HPHT: 209 days');
  t.equal(byCode(bundle, '32418-6')?.valueInteger, 3, 'trimester 3 at 29 weeks');
  t.match(byCode(bundle, '8665-2')?.valueDateTime, /^2025-04-10/, 'HPHT through fhirDateTime');
  t.match(byCode(bundle, '11778-8')?.valueDateTime, /^2026-01-15/, 'HPL = HPHT + 280 days');
  t.equal(byCode(bundle, '11996-6')?.valueInteger, 2);
  t.equal(byCode(bundle, '284473002')?.interpretation?.[0]?.coding?.[0]?.code, 'OI000035', 'LiLA 23.2: risk of KEK');
  t.notOk(byCode(bundle, '8480-6')?.interpretation, 'blood pressure carries no interpretation (H06__025); hypertension is a finding');
  t.same(byCode(bundle, '8480-6')?.valueQuantity, { value: 142, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' });
  t.equal(byCode(bundle, '718-7')?.interpretation?.[0]?.coding?.[0]?.code, 'OI000032', 'venous Hb 718-7, 10.4 in pregnancy: mild anaemia');
  t.notOk(byCode(bundle, '30352-9'), 'not the capillary code');
  t.equal(byCode(bundle, '55283-6')?.valueQuantity?.code, '{beats}/min');
  t.equal(byCode(bundle, '72155-5')?.valueCodeableConcept?.coding?.[0]?.code, '1209182005');
  const second = new Map([['11996-6', 'ANC.B6.DE24'], ['8665-2', 'ANC.B6.DE14'], ['32418-6', 'ANC.SS.DE13'], ['284473002', 'ANC.SS.DE3'], ['718-7', 'ANC.B9.DE175'], ['5804-0', 'ANC.B9.DE114']]);
  for (const [code, anc] of second) t.equal(byCode(bundle, code)?.code?.coding?.[1]?.code, anc, `${code} also as ${anc}`);
  const observations = bundle.entry?.map((e) => e.resource).filter((r): r is Observation => r?.resourceType === 'Observation') ?? [];
  t.same(observations.filter((o) => o.code?.coding?.length !== 2).map((o) => o.code?.coding?.[0]?.code), ['47200007'], 'every ANC Observation but Gerbang’s own risk summary has the anc-custom-code');
  const anc = indicators.anc as { gestationalAgeWeeks: number; gestationalAgeDerived: boolean; findings: Array<{ key: string }> };
  t.same(anc.findings.map((f) => f.key), ['kek-risk', 'hypertension', 'anaemia-mild']);
  t.equal(anc.gestationalAgeDerived, true);
  const kOf = (changes: Record<string, unknown>) =>
    (map(withChanges(changes, validAncVisit)).bundle.entry?.find((e) => e.resource?.resourceType === 'Encounter')?.resource as Encounter).identifier?.[1]?.value;
  t.equal(kOf({ visitNumber: 'K1', gestationalAgeWeeks: 11 }), 'K1A', 'K1A at 11 weeks, as H06__005');
  t.equal(kOf({ visitNumber: 'K1', gestationalAgeWeeks: 20 }), 'K1A');
  t.equal(kOf({ visitNumber: 'K2' }), 'K2');
  t.equal(byCode(map(withChanges({ gestationalAgeWeeks: 12 }, validAncVisit)).bundle, '32418-6')?.valueInteger, 1, 'trimester 1 up to 12 weeks');
  t.equal(byCode(map(withChanges({ gestationalAgeWeeks: 13 }, validAncVisit)).bundle, '32418-6')?.valueInteger, 2);
  t.equal(byCode(map(withChanges({ gestationalAgeWeeks: 24 }, validAncVisit)).bundle, '32418-6')?.valueInteger, 2);
  t.equal(byCode(map(withChanges({ gestationalAgeWeeks: 25 }, validAncVisit)).bundle, '32418-6')?.valueInteger, 3);
  const interval = byCode(map(withChanges({ pregnancy: { lmp: '2025-04-10', lastDeliveryDate: '2022-06-01' } }, validAncVisit)).bundle, 'OC000001');
  t.same(interval?.valueQuantity, { value: 34, unit: 'mo', system: 'http://unitsofmeasure.org', code: 'mo' }, 'the interval between pregnancies, as H06__016');
});

t.test('urine protein: the dipstick grade as mg/dL (H06__069), the grade kept in words', async (t) => {
  const urine = (grade: string) => byCode(map(withChanges({ urineProtein: grade }, validAncVisit)).bundle, '5804-0');
  const expected: Array<[string, number]> = [['negative', 0], ['+1', 30], ['+2', 100], ['+3', 300]];
  for (const [grade, mg] of expected) {
    const o = urine(grade);
    t.same(o?.valueQuantity, { value: mg, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' }, `${grade} → ${mg} mg/dL`);
    t.match(o?.note?.[0]?.text, grade === 'negative' ? /negatif/ : grade, 'the grade read is in the note');
    t.equal(o?.interpretation?.[0]?.coding?.[0]?.code, grade === 'negative' ? undefined : 'H');
    t.notOk(o?.valueCodeableConcept);
  }
});

t.test('iron tablets as H06__095: a MedicationDispense of a KFA Medication, prescription identifiers, TAB', async (t) => {
  const { bundle } = map(validAncVisit);
  const entryOf = (type: string) => bundle.entry?.find((e) => e.resource?.resourceType === type);
  const med = entryOf('Medication');
  const dispense = entryOf('MedicationDispense')?.resource as MedicationDispense;
  const medication = med?.resource as Medication;
  t.same(medication.code?.coding?.[0], { system: 'http://sys-ids.kemkes.go.id/kfa', code: '92000653', display: 'Ferrous Fumarate 60 mg / Folic Acid 0,4 mg Tablet Salut Gula' });
  t.same(medication.ingredient?.map((i) => i.itemCodeableConcept?.coding?.[0]?.code), ['91000205', '91000289']);
  t.equal(medication.identifier?.[0]?.system, 'http://sys-ids.kemkes.go.id/medication/10000004');
  t.equal(dispense.medicationReference?.reference, med?.fullUrl, 'refers to the Medication entry');
  t.notOk(dispense.medicationCodeableConcept);
  t.same(dispense.identifier?.map((i) => i.system), ['http://sys-ids.kemkes.go.id/prescription/10000004', 'http://sys-ids.kemkes.go.id/prescription-item/10000004']);
  t.same(dispense.quantity, { value: 30, unit: 'TAB', system: 'http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm', code: 'TAB' });
  t.equal(dispense.performer?.[0]?.actor?.type, 'Practitioner', 'the bidan who answers for the visit');
  const order = bundle.entry?.map((e) => e.resource?.resourceType) ?? [];
  t.ok(order.indexOf('Medication') < order.indexOf('MedicationDispense'), 'the Medication is written first');
  t.same(checkBundle(bundle), []);
  const none = map(withChanges({ ironTablets: 0 }, validAncVisit)).bundle;
  t.notOk(none.entry?.some((e) => ['Medication', 'MedicationDispense'].includes(e.resource?.resourceType ?? '')), 'no tablets, no dispense');
});

t.test('ANC facts: a woman, HPHT before the visit and not over 45 weeks, HPL after HPHT', async (t) => {
  const keys = (b: unknown) => {
    const r = prepareRecord(b, 'x', facilities, new Date('2025-11-06T00:00:00Z'));
    return r.ok ? [] : r.issues.map((i) => `${i.key}@${i.path ?? ''}`);
  };
  t.same(keys(validAncVisit), []);
  t.same(keys(withChanges({ subject: { ...validAncVisit.subject, nik: '3201012201980002', sex: 'male' } }, validAncVisit)), ['anc.subject-not-female@subject.sex']);
  t.same(keys(withChanges({ pregnancy: { lmp: '2025-11-06' } }, validAncVisit)), ['anc.lmp-after-visit@pregnancy.lmp']);
  t.same(keys(withChanges({ pregnancy: { lmp: '2024-09-01' } }, validAncVisit)), ['anc.too-long@pregnancy.lmp']);
  t.same(keys(withChanges({ pregnancy: { lmp: '2025-04-10', edd: '2025-01-01' } }, validAncVisit)), ['anc.edd-before-lmp@pregnancy.edd']);
  t.same(keys(withChanges({ pregnancy: undefined }, validAncVisit)), ['field.required@pregnancy']);
  t.same(keys(withChanges({ visitNumber: 'K9' }, validAncVisit)), ['field.enum@visitNumber']);
});

t.test('one risk summary per visit, with the reasons (clinical.md 3.1), on both sides of each cut-off', async (t) => {
  const summary = (changes: Record<string, unknown>) => {
    const { bundle, indicators } = map(withChanges({ muacCm: 24, systolic: 120, diastolic: 80, hemoglobinGdl: 12, ...changes }, validAncVisit));
    const obs = byCode(bundle, '47200007');
    return { anc: indicators.anc as { highRisk: boolean; findings: Array<{ key: string }> }, obs };
  };
  const none = summary({});
  t.equal(none.anc.highRisk, false);
  t.equal(none.obs?.valueBoolean, false, 'the summary is sent even when there is no risk');
  const cases: Array<[Record<string, unknown>, string | undefined]> = [
    [{ heightCm: 144.9 }, 'short-stature'], [{ heightCm: 145 }, undefined],
    [{ muacCm: 22.9 }, 'kek'], [{ muacCm: 23.4 }, 'kek-risk'], [{ muacCm: 23.5 }, undefined],
    [{ hemoglobinGdl: 10.9 }, 'anaemia-mild'], [{ hemoglobinGdl: 11 }, undefined],
    [{ systolic: 140, diastolic: 80 }, 'hypertension'], [{ systolic: 139, diastolic: 89 }, undefined], [{ systolic: 150, diastolic: 110 }, 'severe-hypertension'],
    [{ pregnancy: { lmp: '2025-04-10', para: 4 } }, 'parity'], [{ pregnancy: { lmp: '2025-04-10', para: 3 } }, undefined],
    [{ pregnancy: { lmp: '2025-04-10', lastDeliveryDate: '2023-05-01' } }, 'short-interval'], [{ pregnancy: { lmp: '2025-04-10', lastDeliveryDate: '2023-04-01' } }, undefined],
    [{ subject: { ...validAncVisit.subject, nik: '3201016201060002', birthDate: '2006-01-22' } }, 'too-young'],
    [{ subject: { ...validAncVisit.subject, nik: '3201016201050002', birthDate: '2005-01-22' } }, undefined],
    [{ subject: { ...validAncVisit.subject, nik: '3201016201890002', birthDate: '1989-01-22' } }, 'too-old'],
    [{ subject: { ...validAncVisit.subject, nik: '3201016201900002', birthDate: '1990-01-22' } }, undefined],
    [{ systolic: 145, diastolic: 92, urineProtein: '+1' }, 'preeclampsia-suspected'],
  ];
  for (const [changes, expected] of cases) {
    const s = summary(changes);
    const keys = s.anc.findings.map((f) => f.key);
    if (expected) t.ok(keys.includes(expected) && s.anc.highRisk && s.obs?.valueBoolean === true, `${JSON.stringify(changes)} → ${expected}`);
    else t.same(keys, [], `${JSON.stringify(changes)} → no risk`);
  }
  const risky = summary({ muacCm: 22, heightCm: 140 });
  t.equal(risky.obs?.derivedFrom?.length, 2, 'derived from the LiLA and height Observations');
  t.equal(risky.obs?.note?.length, 2, 'the reasons, in words');
});
