import t from 'tap';
import type { Bundle, Composition, Observation, QuestionnaireResponse } from '@medplum/fhirtypes';
import { loadConfig } from '../../src/config/load.js';
import { mapRecord } from '../../src/fhir/map-record.js';
import { checkBundle } from '../../src/fhir/profile-check.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import { anaemia, bloodPressureClass, bmiClass, centralObesity, glucoseClass, hba1cClass, hemoglobinRanges } from '../../src/indicators/screening-risk.js';
import type { CanonicalRecord } from '../../src/records/schemas/index.js';
import { validScreening, withChanges } from '../fixtures/records.js';

const { facilities } = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-unit' });

t.test('blood pressure class: the higher of systolic and diastolic; isolated systolic', async (t) => {
  const cases: Array<[number, number, string]> = [
    [119, 79, 'optimal'], [120, 79, 'normal'], [129, 84, 'normal'], [125, 85, 'high-normal'], [139, 89, 'high-normal'],
    [140, 90, 'grade-1'], [135, 95, 'grade-1'], [159, 99, 'grade-1'], [160, 100, 'grade-2'], [170, 105, 'grade-2'],
    [180, 110, 'grade-3'], [150, 112, 'grade-3'], [150, 85, 'isolated-systolic'],
  ];
  for (const [s, d, expected] of cases) t.equal(bloodPressureClass(s, d).key, expected, `${s}/${d}`);
});

t.test('adult BMI classes (Indonesian cut-offs); none under 18', async (t) => {
  const cases: Array<[number, string]> = [[16.9, 'severe-thinness'], [17, 'thinness'], [18.4, 'thinness'], [18.5, 'normal'], [25, 'normal'], [25.04, 'normal'], [25.1, 'overweight'], [27, 'overweight'], [27.1, 'obese']];
  for (const [bmi, expected] of cases) t.equal(bmiClass(bmi, 40)?.key, expected, `${bmi}`);
  t.equal(bmiClass(30, 16), undefined);
});

t.test('central obesity by sex, glucose by test, anaemia by age and sex', async (t) => {
  t.equal(centralObesity(89.9, 'male', 30), false);
  t.equal(centralObesity(90, 'male', 30), true);
  t.equal(centralObesity(79.9, 'female', 30), false);
  t.equal(centralObesity(80, 'female', 30), true, 'H19__016: from 80 cm in women');
  t.equal(centralObesity(81, 'female', 12), undefined, 'not under 15');
  const glucose: Array<[number, 'random' | 'fasting' | '2h-pp', string]> = [
    [139.9, 'random', 'normal'], [140, 'random', 'prediabetes'], [199.9, 'random', 'prediabetes'], [200, 'random', 'diabetes'],
    [69, 'fasting', 'low'], [70, 'fasting', 'normal'], [99, 'fasting', 'normal'], [100, 'fasting', 'prediabetes'], [125, 'fasting', 'prediabetes'], [126, 'fasting', 'diabetes'],
    [139, '2h-pp', 'normal'], [140, '2h-pp', 'prediabetes'], [200, '2h-pp', 'diabetes'],
  ];
  for (const [v, test, expected] of glucose) t.equal(glucoseClass(v, test).key, expected, `${test} ${v} (H19__101-103)`);
  t.equal(glucoseClass(150, 'random').interpretation.code, '714628002', 'prediabetes is SNOMED 714628002 (H19__101)');
  t.same([5.6, 5.7, 6.4, 6.5].map((v) => hba1cClass(v).key), ['normal', 'prediabetes', 'prediabetes', 'diabetes'], 'HbA1c (H19__104)');
  t.same(hemoglobinRanges('female', 30 * 12), [
    { low: 12, text: 'Normal' },
    { low: 11, high: 11.9, text: 'Anemia ringan' },
    { low: 8, high: 10.9, text: 'Anemia sedang' },
    { high: 7.9, text: 'Anemia berat' },
  ], 'a woman\'s anaemia cut-offs as reference ranges');
  t.equal(anaemia(12.5, 'male', 30 * 12)?.key, 'mild', 'a man below 13');
  t.equal(anaemia(12.5, 'female', 30 * 12), undefined, 'a woman at 12.5 is not anaemic');
  t.equal(anaemia(10.5, 'female', 30 * 12)?.key, 'moderate');
  t.equal(anaemia(7.9, 'female', 30 * 12)?.key, 'severe');
  t.equal(anaemia(10.5, 'male', 24)?.key, 'mild', 'child 6-59 months: mild from 10.0 to 10.9');
  t.equal(anaemia(6.9, 'male', 24)?.key, 'severe');
  t.equal(anaemia(9, 'male', 3), undefined, 'no cut-off under 6 months');
});

t.test('mapping: BP as two Observations plus the class with the pair as a ratio, BMI computed, each interpreted', async (t) => {
  const { bundle, indicators } = mapRecord(validScreening as unknown as CanonicalRecord, 'posbindu', facilities);
  const obs = (code: string) => bundle.entry?.find((e) => (e.resource as Observation | undefined)?.code?.coding?.[0]?.code === code)?.resource as Observation;
  const urlOf = (code: string) => bundle.entry?.find((e) => e.resource === obs(code))?.fullUrl;
  t.equal(obs('8480-6').valueQuantity?.code, 'mm[Hg]');
  const risk = obs('268607006');
  t.same(risk.derivedFrom?.map((d) => d.reference), [urlOf('8480-6'), urlOf('8462-4')], 'derived from the two pressures');
  t.same([risk.valueRatio?.numerator?.value, risk.valueRatio?.denominator?.value, risk.valueRatio?.numerator?.code], [148, 92, 'mm[Hg]']);
  t.equal(risk.interpretation?.[0]?.coding?.[0]?.code, '827069000', 'grade 1: SNOMED stage 1');
  t.equal(risk.referenceRange?.length, 7, 'the seven classes of H19__019');
  t.equal(obs('39156-5').valueQuantity?.value, 28.3, '68 / 1.55² = 28.3');
  t.equal(obs('39156-5').interpretation?.[0]?.coding?.[0]?.code, '414915002', 'obese (> 27.0)');
  t.equal(obs('39156-5').referenceRange?.length, 5);
  t.equal(obs('276361009').interpretation?.[0]?.coding?.[0]?.code, 'H', 'waist 88 >= 80 for a woman');
  t.equal(obs('2345-7').interpretation?.[0]?.coding?.[0]?.code, 'H', 'random glucose 210: the diabetes range');
  t.equal(obs('2093-3').interpretation?.[0]?.coding?.[0]?.code, 'H', 'cholesterol 230: borderline');
  t.equal(obs('718-7').interpretation?.[0]?.coding?.[0]?.code, 'OI000032', 'Hb 11.4 in a woman: mild anaemia');
  t.equal(obs('718-7').category?.[0]?.coding?.[0]?.code, 'laboratory');
  t.equal(obs('72166-2').valueCodeableConcept?.coding?.[0]?.code, '8392000');
  t.same(checkBundle(bundle as Bundle), []);
  const s = indicators.screening as { findings: Array<{ measure: string; key: string }> };
  t.same(s.findings.map((f) => `${f.measure}:${f.key}`), ['bloodPressure:grade-1', 'bmi:obese', 'waist:high', 'glucose:diabetes', 'cholesterol:borderline', 'uricAcid:high', 'hemoglobin:mild']);
});

t.test('the Form Skrining PTM refers to every result, a section only for what the record has', async (t) => {
  const sectionsOf = (record: unknown) => {
    const { bundle } = mapRecord(record as CanonicalRecord, 'posbindu', facilities);
    const composition = bundle.entry?.find((e) => e.resource?.resourceType === 'Composition')?.resource as Composition | undefined;
    const byUrl = new Map(bundle.entry?.map((e) => [e.fullUrl, e.resource as Observation]));
    return composition?.section?.map((s) => `${s.code?.coding?.[0]?.code}: ${s.entry?.map((e) => byUrl.get(e.reference)?.code?.coding?.[0]?.code).join(' ')}`);
  };
  t.same(sectionsOf(validScreening), [
    'COS000006: 8480-6 8462-4 268607006',
    'COS000007: 29463-7 8302-2 39156-5 276361009',
    'COS000009: 2345-7',
    'COS000010: 2093-3',
    'COS000011: 3084-1',
    'COS000013: 718-7',
  ]);
  t.same(sectionsOf(withChanges({ systolic: undefined, diastolic: undefined, cholesterolMgdl: undefined, uricAcidMgdl: undefined, hemoglobinGdl: undefined, waistCm: undefined, hba1cPercent: 6.1 }, validScreening)), [
    'COS000007: 29463-7 8302-2 39156-5',
    'COS000009: 2345-7 4548-4',
  ]);
  t.equal(sectionsOf(withChanges({ subject: { ...validScreening.subject, birthDate: '2012-01-01' } }, validScreening)), undefined, 'not for a 13-year-old (PTM screening from 15)');
  t.equal(sectionsOf(withChanges({ systolic: undefined, diastolic: undefined, weightKg: undefined, heightCm: undefined, waistCm: undefined, glucoseMgdl: undefined, glucoseTest: undefined, cholesterolMgdl: undefined, uricAcidMgdl: undefined, hemoglobinGdl: undefined }, validScreening)), undefined, 'smoking alone has no section: no Composition');
});

t.test('smoking: the status Observation and Q0013 answering what the record says', async (t) => {
  const questionnaire = (record: unknown) => {
    const { bundle } = mapRecord(record as CanonicalRecord, 'posbindu', facilities);
    const qr = bundle.entry?.find((e) => e.resource?.resourceType === 'QuestionnaireResponse')?.resource as QuestionnaireResponse | undefined;
    const status = bundle.entry?.find((e) => (e.resource as Observation | undefined)?.code?.coding?.[0]?.code === '72166-2')?.fullUrl;
    return qr && { qr, status, answers: qr.item?.[0]?.item?.map((i) => `${i.linkId}=${JSON.stringify(i.answer?.[0])}`) };
  };
  const smoker = questionnaire(withChanges({ smoker: true, cigarettesPerDay: 10, smokingYears: 5 }, validScreening));
  t.equal(smoker?.qr.questionnaire, 'https://fhir.kemkes.go.id/Questionnaire/Q0013');
  t.same(smoker?.answers, [
    '1.1={"valueBoolean":true}',
    '1.2={"valueInteger":10}',
    '1.3={"valueQuantity":{"value":5,"unit":"years","system":"http://unitsofmeasure.org","code":"a"}}',
    `1.4={"valueReference":{"reference":"${smoker?.status}"}}`,
  ]);
  const nonSmoker = questionnaire(validScreening);
  t.same(nonSmoker?.answers?.map((a) => a.slice(0, 3)), ['1.4'], 'a non-smoker may have smoked before: 1.1 stays unanswered');
  t.equal(questionnaire(withChanges({ subject: { ...validScreening.subject, birthDate: '2010-01-01' } }, validScreening)), undefined, 'Q0013 is the adult questionnaire');
  t.same(
    prepareKeys(withChanges({ cigarettesPerDay: 10, smoker: undefined }, validScreening)),
    ['field.depends@smoker'],
    'cigarettes a day without the smoking status',
  );
});

t.test('HbA1c: validated, interpreted, with the reference range of H19__104', async (t) => {
  const { bundle } = mapRecord(withChanges({ hba1cPercent: 6.1 }, validScreening) as unknown as CanonicalRecord, 'posbindu', facilities);
  const a1c = bundle.entry?.map((e) => e.resource as Observation).find((r) => r.code?.coding?.[0]?.code === '4548-4');
  t.same([a1c?.valueQuantity?.code, a1c?.interpretation?.[0]?.coding?.[0]?.code, a1c?.referenceRange?.length], ['%', '714628002', 3]);
  t.same(prepareKeys(withChanges({ hba1cPercent: 48 }, validScreening)), ['value.implausible@hba1cPercent'], 'mmol/mol (IFCC) is not a percentage');
  t.same(prepareKeys(withChanges({ hba1cPercent: 0 }, validScreening)), ['field.range@hba1cPercent']);
});

function prepareKeys(record: unknown): string[] {
  const r = prepareRecord(record, 'x', facilities, new Date('2025-11-06T00:00:00Z'));
  return r.ok ? [] : r.issues.map((i) => `${i.key}@${i.path ?? ''}`);
}

t.test('screening records: swapped pressure, g/L haemoglobin, glucose without its test', async (t) => {
  const keys = (b: unknown) => {
    const r = prepareRecord(b, 'x', facilities, new Date('2025-11-06T00:00:00Z'));
    return r.ok ? [] : r.issues.map((i) => `${i.key}@${i.path ?? ''}`);
  };
  t.same(keys(validScreening), []);
  t.same(keys(withChanges({ systolic: 80, diastolic: 120 }, validScreening)), ['value.bp-swapped@systolic']);
  t.same(keys(withChanges({ hemoglobinGdl: 114 }, validScreening)), ['value.g-per-l-as-g-per-dl@hemoglobinGdl']);
  t.same(keys(withChanges({ glucoseTest: undefined }, validScreening)), ['field.depends@glucoseTest']);
  t.same(keys(withChanges({ diastolic: undefined }, validScreening)), ['field.depends@diastolic']);
});

t.test('the classic unit slips are named', async (t) => {
  const keys = (b: unknown) => {
    const r = prepareRecord(b, 'x', facilities, new Date('2025-11-06T00:00:00Z'));
    return r.ok ? [] : r.issues.map((i) => `${i.key}@${i.path ?? ''}:${String(i.params?.suggested ?? '')}`);
  };
  t.same(keys(withChanges({ heightCm: 1.55 }, validScreening)), ['value.m-as-cm@heightCm:155']);
  t.same(keys(withChanges({ glucoseMgdl: 11.7 }, validScreening)), ['value.mmol-as-mg@glucoseMgdl:210.8']);
  t.same(keys(withChanges({ cholesterolMgdl: 5.9 }, validScreening)), ['value.mmol-as-mg@cholesterolMgdl:228.2']);
  t.same(keys(withChanges({ uricAcidMgdl: 390 }, validScreening)), ['value.umol-as-mg@uricAcidMgdl:6.6']);
  t.same(keys(withChanges({ hemoglobinGdl: 118 }, validScreening)), ['value.g-per-l-as-g-per-dl@hemoglobinGdl:11.8']);
  t.same(keys(withChanges({ weightKg: 68000 }, validScreening)), ['value.grams-as-kg@weightKg:68']);
  t.same(keys(withChanges({ waistCm: 880 }, validScreening)), ['value.mm-as-cm@waistCm:88']);
});
