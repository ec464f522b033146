import t from 'tap';
import type { Bundle, Encounter, Observation, Patient, Procedure } from '@medplum/fhirtypes';
import { loadConfig } from '../../src/config/load.js';
import { mapRecord } from '../../src/fhir/map-record.js';
import { checkBundle } from '../../src/fhir/profile-check.js';
import type { CanonicalRecord } from '../../src/records/schemas/index.js';
import { newbornAnthropometry, validAnthropometry, withChanges } from '../fixtures/records.js';

const { facilities } = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-unit' });
const map = (r: unknown) => mapRecord(r as CanonicalRecord, 'app-x', facilities).bundle;

function entry<T>(bundle: Bundle, type: string, code?: string): { resource: T; request: NonNullable<Bundle['entry']>[number]['request']; fullUrl: string } {
  const e = bundle.entry?.find(
    (x) => x.resource?.resourceType === type && (!code || (x.resource as Observation).code?.coding?.[0]?.code === code),
  );
  if (!e) throw new Error(`no ${type} ${code ?? ''}`);
  return e as never;
}

t.test('a transaction: master data created if missing, clinical data upserted by business identifier', async (t) => {
  const b = map(validAnthropometry);
  t.equal(b.type, 'transaction');
  t.same(
    b.entry?.map((e) => `${e.request?.method} ${e.request?.url.split('?')[0]}`),
    ['POST Organization', 'POST Location', 'POST Patient', 'PUT Encounter', 'PUT Condition', ...Array(10).fill('PUT Observation')],
    'four measurements, height a second time as 8302-2, and five z-scores (MUAC-for-age has no code to send)',
  );
  const patient = entry<Patient>(b, 'Patient');
  t.equal(patient.request?.ifNoneExist, `identifier=${encodeURIComponent('https://fhir.kemkes.go.id/id/nik|3201015503230004')}`);
  const enc = entry<Encounter>(b, 'Encounter');
  t.equal(enc.request?.url, `Encounter?identifier=${encodeURIComponent('http://sys-ids.kemkes.go.id/encounter/10000004|app-x.PB-2025-000123')}`);
  t.same(enc.resource.class, { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB', display: 'ambulatory' });
  t.equal(enc.resource.status, 'finished');
  t.equal(enc.resource.subject?.reference, patient.fullUrl);
  t.equal(enc.resource.period?.end, '2025-11-05T02:30:00+00:00', 'UTC with an explicit offset');
  t.same(checkBundle(b), [], 'meets our profiles');
  t.ok(b.entry?.every((e) => /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(e.fullUrl ?? '')));
});

t.test('measurements: codes, categories, UCUM units; length lying vs height standing', async (t) => {
  const b = map(validAnthropometry);
  const weight = entry<Observation>(b, 'Observation', '29463-7').resource;
  t.same(weight.valueQuantity, { value: 9.8, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' });
  t.equal(weight.category?.[0]?.coding?.[0]?.code, 'vital-signs');
  t.equal(weight.identifier?.[0]?.value, 'app-x.PB-2025-000123.weight');
  t.equal(weight.identifier?.[0]?.system, 'http://sys-ids.kemkes.go.id/observation/10000004');
  t.equal(weight.performer?.every((p) => p.identifier?.system === 'https://fhir.kemkes.go.id/id/nik' || p.reference?.startsWith('Practitioner/')) ?? true, true, 'only Practitioners perform (rule 10383): a kader is not made one');
  t.equal(entry<Observation>(b, 'Observation', '8306-3').resource.valueQuantity?.value, 78.4);
  t.equal(entry<Observation>(b, 'Observation', '284473002').resource.category?.[0]?.coding?.[0]?.code, 'exam');
  t.equal(entry<Observation>(b, 'Observation', '9843-4').resource.valueQuantity?.unit, 'cm');
  const standing = map(withChanges({ position: 'standing' }));
  t.ok(entry<Observation>(standing, 'Observation', '8308-9'));
  t.equal(
    entry<Observation>(standing, 'Observation', '8308-9').resource.identifier?.[0]?.value,
    'app-x.PB-2025-000123.height',
    'the same identifier whatever the position, so a corrected version updates it in place',
  );
});

t.test('the same record always maps to the same Bundle', async (t) => {
  t.same(map(validAnthropometry), map(structuredClone(validAnthropometry)));
});

t.test('a newborn without NIK: keyed by mother NIK, birth date and birth order', async (t) => {
  const b = map(newbornAnthropometry);
  const patient = entry<Patient>(b, 'Patient');
  t.same(patient.resource.identifier?.map((i) => i.system), ['https://fhir.kemkes.go.id/id/nik-ibu', 'https://gerbang.id/fhir/sid/newborn-key']);
  t.match(patient.request?.ifNoneExist, /newborn-key/);
  t.equal(entry<Encounter>(b, 'Encounter').resource.period?.end, '2025-11-05T05:00:00+00:00', 'a bare date is taken at local noon (WIB)');
  t.same(checkBundle(b), []);
});

t.test('breastfeeding and vitamin A (P14__081, P14__112-113)', async (t) => {
  const b = map(withChanges({ exclusiveBreastfeeding: true, vitaminA: 'blue' }));
  const asi = entry<Observation>(b, 'Observation', '1145307003').resource;
  t.equal(asi.valueBoolean, true);
  t.equal(asi.category?.[0]?.coding?.[0]?.code, 'survey');
  const proc = entry<Procedure>(b, 'Procedure');
  t.equal(proc.request?.method, 'PUT');
  t.same(proc.resource.category?.coding?.[0]?.code, '709543002', 'category Administration of vitamin');
  t.same(proc.resource.code?.coding?.[0]?.code, '767224000');
  const count = entry<Observation>(b, 'Observation', 'OC000164').resource;
  t.same(count.valueCodeableConcept?.coding?.[0]?.code, 'OV000310', 'one blue capsule');
  t.equal(count.identifier?.[0]?.value, 'app-x.PB-2025-000123.vitamin-a-capsules');
  const red = map(withChanges({ vitaminA: 'red' }));
  t.ok(entry<Procedure>(red, 'Procedure'), 'a red capsule is still a Procedure');
  t.notOk(red.entry?.some((e) => (e.resource as Observation).code?.coding?.[0]?.code === 'OC000164'), 'but no capsule count: no code for red');
  t.same(checkBundle(b), []);
});

t.test('height twice: by position and as 8302-2 (P14__039-041)', async (t) => {
  const b = map(validAnthropometry);
  const generic = entry<Observation>(b, 'Observation', '8302-2').resource;
  t.equal(generic.valueQuantity?.value, 78.4, 'the value as measured');
  t.equal(generic.identifier?.[0]?.value, 'app-x.PB-2025-000123.body-height');
  t.equal(generic.category?.[0]?.coding?.[0]?.code, 'vital-signs');
  t.ok(entry<Observation>(b, 'Observation', '8306-3'));
});

t.test('LiLA of a child 6-59 months is interpreted as P12__046 does', async (t) => {
  const muac = (cm: number, birthDate = '2023-03-15') =>
    entry<Observation>(map(withChanges({ muacCm: cm, subject: { ...validAnthropometry.subject, birthDate } })), 'Observation', '284473002').resource.interpretation?.[0]?.coding?.[0]?.code;
  t.equal(muac(11), 'OI000001', 'gizi buruk below 11.5 (P14__045)');
  t.equal(muac(11.5), '248325000', 'gizi kurang from 11.5');
  t.equal(muac(12.4), '248325000');
  t.equal(muac(12.5), 'N', 'normal from 12.5 (P15__017)');
  t.equal(muac(11, '2025-07-01'), undefined, 'not under 6 months: the cut-offs are for 6-59 months');
});

t.test('birth weight and length: 8339-4 in grams, 89269-5 (P14__046-047, H08__012)', async (t) => {
  const b = map(withChanges({ birthWeightG: 3470, birthLengthCm: 49 }));
  const bw = entry<Observation>(b, 'Observation', '8339-4').resource;
  t.same(bw.valueQuantity, { value: 3470, unit: 'g', system: 'http://unitsofmeasure.org', code: 'g' });
  t.equal(bw.category?.[0]?.coding?.[0]?.code, 'survey');
  t.equal(bw.interpretation?.[0]?.coding?.[0]?.code, '276712009', 'Normal birth weight (H08__012)');
  const bl = entry<Observation>(b, 'Observation', '89269-5').resource;
  t.same(bl.valueQuantity, { value: 49, unit: 'cm', system: 'http://unitsofmeasure.org', code: 'cm' });
  t.equal(bl.category?.[0]?.coding?.[0]?.code, 'exam', 'as P14__047');
  const low = entry<Observation>(map(withChanges({ birthWeightG: 2300 })), 'Observation', '8339-4').resource;
  t.equal(low.interpretation, undefined, 'no official code for BBLR: none sent, as P14__046 at 2300 g');
  t.same(checkBundle(b), []);
});

t.test('growth z-scores: SNOMED code, {Zscore}, Permenkes category, derivedFrom the measurements', async (t) => {
  const { bundle, indicators } = mapRecord(validAnthropometry as unknown as CanonicalRecord, 'app-x', facilities);
  const growth = indicators.growth as { ageDays: number; correctedHeightCm: number; zScores: Array<{ indicator: string; z: number; category?: string }> };
  t.equal(growth.ageDays, 966);
  t.equal(growth.correctedHeightCm, 77.7, 'lying after 731 days: converted to height');
  t.same(growth.zScores.map((z) => z.indicator), ['wfa', 'hfa', 'wfh', 'bmifa', 'hcfa', 'muacfa']);
  const hfa = entry<Observation>(bundle, 'Observation', '1153604005');
  t.same(hfa.resource.valueQuantity?.unit, '{Zscore}');
  t.equal(hfa.resource.valueQuantity?.value, growth.zScores[1]?.z);
  t.equal(hfa.resource.identifier?.[0]?.value, 'app-x.PB-2025-000123.z-hfa');
  t.equal(hfa.resource.derivedFrom?.[0]?.reference, entry<Observation>(bundle, 'Observation', '8306-3').fullUrl);
  const wfh = entry<Observation>(bundle, 'Observation', '1153600001');
  t.equal(wfh.resource.derivedFrom?.length, 2, 'weight and height');
  t.ok(hfa.resource.interpretation?.[0]?.coding?.[0]?.code, 'a category');
  t.same(checkBundle(bundle), []);
});

t.test('a severely stunted child gets the Kemkes code for sangat pendek', async (t) => {
  const { bundle, indicators } = mapRecord(withChanges({ heightCm: 70, position: 'standing' }) as unknown as CanonicalRecord, 'app-x', facilities);
  const hfa = (indicators.growth as { zScores: Array<{ indicator: string; z: number; category?: string }> }).zScores.find((z) => z.indicator === 'hfa');
  t.ok((hfa?.z ?? 0) < -3, `z ${hfa?.z}`);
  t.equal(hfa?.category, 'severely-stunted');
  t.same(entry<Observation>(bundle, 'Observation', '1153604005').resource.interpretation?.[0]?.coding?.[0], {
    system: 'http://terminology.kemkes.go.id/CodeSystem/clinical-term', code: 'OI000011', display: 'Sangat Pendek',
  });
});

t.test('who answers for the visit: a nakes by their NIK, else the posyandu supervisor; a kader never as performer', async (t) => {
  const supervisorNik = '3201014404800002';
  const withSupervisor = {
    ...facilities,
    posyandu: { ...facilities.posyandu, '3201010001-01': { ...facilities.posyandu['3201010001-01']!, supervisorNik } },
  };
  const mapAt = (r: unknown, f: typeof facilities) => mapRecord(r as CanonicalRecord, 'app-x', f).bundle;
  const byNik = (nik: string) => ({ system: 'https://fhir.kemkes.go.id/id/nik', value: nik });

  const kader = mapAt(withChanges({ performer: { role: 'kader', name: 'Ibu Sari' } }), withSupervisor);
  const enc = entry<Encounter>(kader, 'Encounter').resource;
  t.same(enc.participant?.[0]?.individual, { type: 'Practitioner', identifier: byNik(supervisorNik) }, 'the supervisor attends (SATUSEHAT 10119)');
  t.equal(enc.participant?.[0]?.type?.[0]?.coding?.[0]?.code, 'ATND');
  const weight = entry<Observation>(kader, 'Observation', '29463-7').resource;
  t.same(weight.performer, [{ type: 'Practitioner', identifier: byNik(supervisorNik) }], 'only the Practitioner performs (rule 10383)');

  const bidanNik = '3201014404850001';
  const bidan = mapAt(withChanges({ performer: { role: 'bidan', name: 'Bidan Yuli', nik: bidanNik } }), withSupervisor);
  t.same(entry<Encounter>(bidan, 'Encounter').resource.participant?.[0]?.individual, { type: 'Practitioner', identifier: byNik(bidanNik), display: 'Bidan Yuli' });
  t.same(entry<Observation>(bidan, 'Observation', '29463-7').resource.performer, [{ type: 'Practitioner', identifier: byNik(bidanNik), display: 'Bidan Yuli' }]);

  const nobody = mapAt(withChanges({ performer: { role: 'kader', name: 'Ibu Sari' } }), facilities);
  t.notOk(entry<Encounter>(nobody, 'Encounter').resource.participant, 'no supervisor configured: no participant is invented');
  t.equal(entry<Observation>(nobody, 'Observation', '29463-7').resource.performer, undefined, 'nor a performer: a kader is not a Practitioner');
  t.same(checkBundle(kader), [], 'meets our profiles');
});

t.test('an adolescent at a posyandu: IMT/U by the WHO 2007 reference (P16__048), no adult BMI', async (t) => {
  const teen = withChanges({ subject: { ...validAnthropometry.subject, birthDate: '2011-02-05' }, weightKg: 50, heightCm: 160, position: 'standing', headCircumferenceCm: undefined, muacCm: undefined });
  const { bundle, indicators } = mapRecord(teen as unknown as CanonicalRecord, 'app-x', facilities);
  const growth = indicators.growth as { zScores: Array<{ indicator: string; z: number; category?: string }>; skipped: Array<{ indicator: string }> };
  t.same(growth.zScores.map((z) => z.indicator), ['bmifa519']);
  t.notOk(growth.skipped.some((s) => s.indicator === 'bmifa'), 'no "too old" for the IMT/U that is given');
  const imtu = entry<Observation>(bundle, 'Observation', '1153596006').resource;
  t.equal(imtu.valueQuantity?.value, growth.zScores[0]?.z);
  t.equal(imtu.valueQuantity?.code, '{Zscore}');
  t.equal(imtu.interpretation?.[0]?.coding?.[0]?.code, '248324001', 'BMI 19.5 at 14 years: well nourished');
  t.equal(imtu.referenceRange?.length, 5, 'the five PMK bands, as P16__048');
  t.equal(imtu.derivedFrom?.length, 2, 'weight and height, as P16__048');
  t.notOk(bundle.entry?.some((e) => (e.resource as Observation).code?.coding?.some((c) => c.code === '39156-5')), 'no adult BMI');
  t.same(checkBundle(bundle), []);
});
