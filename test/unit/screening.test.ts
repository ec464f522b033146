import t from 'tap';
import type { Bundle, Observation } from '@medplum/fhirtypes';
import { loadConfig } from '../../src/config/load.js';
import { mapRecord } from '../../src/fhir/map-record.js';
import { checkBundle } from '../../src/fhir/profile-check.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import { anaemia, bloodPressureClass, bmiClass, centralObesity, glucoseHigh } from '../../src/indicators/screening-risk.js';
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
  t.equal(centralObesity(90, 'male', 30), false);
  t.equal(centralObesity(90.5, 'male', 30), true);
  t.equal(centralObesity(81, 'female', 30), true);
  t.equal(centralObesity(81, 'female', 12), undefined, 'not under 15');
  t.equal(glucoseHigh(199, 'random'), false);
  t.equal(glucoseHigh(200, 'random'), true);
  t.equal(glucoseHigh(126, 'fasting'), true);
  t.equal(glucoseHigh(125, 'fasting'), false);
  t.equal(anaemia(12.5, 'male', 30 * 12)?.key, 'mild', 'a man below 13');
  t.equal(anaemia(12.5, 'female', 30 * 12), undefined, 'a woman at 12.5 is not anaemic');
  t.equal(anaemia(10.5, 'female', 30 * 12)?.key, 'moderate');
  t.equal(anaemia(7.9, 'female', 30 * 12)?.key, 'severe');
  t.equal(anaemia(10.5, 'male', 24)?.key, 'mild', 'child 6-59 months: mild from 10.0 to 10.9');
  t.equal(anaemia(6.9, 'male', 24)?.key, 'severe');
  t.equal(anaemia(9, 'male', 3), undefined, 'no cut-off under 6 months');
});

t.test('mapping: BP as two Observations plus the derived risk level, BMI computed, each interpreted', async (t) => {
  const { bundle, indicators } = mapRecord(validScreening as unknown as CanonicalRecord, 'posbindu', facilities);
  const obs = (code: string) => bundle.entry?.find((e) => (e.resource as Observation | undefined)?.code?.coding?.[0]?.code === code)?.resource as Observation;
  t.equal(obs('8480-6').valueQuantity?.code, 'mm[Hg]');
  const risk = obs('268607006');
  t.equal(risk.derivedFrom?.length, 2);
  t.equal(risk.interpretation?.[0]?.text, 'Hipertensi derajat 1');
  t.equal(obs('39156-5').valueQuantity?.value, 28.3, '68 / 1.55² = 28.3');
  t.equal(obs('39156-5').interpretation?.[0]?.coding?.[0]?.code, '414915002', 'obese (> 27.0)');
  t.equal(obs('276361009').interpretation?.[0]?.coding?.[0]?.code, 'H', 'waist 88 > 80 for a woman');
  t.equal(obs('2339-0').interpretation?.[0]?.coding?.[0]?.code, 'H', 'random glucose 210');
  t.equal(obs('30352-9').interpretation?.[0]?.coding?.[0]?.code, 'OI000032', 'Hb 11.4 in a woman: mild anaemia');
  t.equal(obs('72166-2').valueCodeableConcept?.coding?.[0]?.code, '8392000');
  t.same(checkBundle(bundle as Bundle), []);
  const s = indicators.screening as { findings: Array<{ measure: string; key: string }> };
  t.same(s.findings.map((f) => `${f.measure}:${f.key}`), ['bloodPressure:grade-1', 'bmi:obese', 'waist:high', 'glucose:high', 'cholesterol:high', 'uricAcid:high', 'hemoglobin:mild']);
});

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
