import { readFileSync } from 'node:fs';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { GerbangError } from '../../src/errors/gerbang-error.js';
import { adaptParts } from '../../src/ingest/adapt-record.js';
import { prepareItem } from '../../src/ingest/prepare-item.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import { shippedAdapters } from '../../src/records/adapters/registry.js';

// Every sample of the apps with an adapter (copies of ../shared/samples in test/fixtures/samples):
// valid ones become the right canonical records, invalid ones are refused naming each field.

const { facilities } = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-unit' });
const now = new Date('2025-11-06T00:00:00Z');
const sample = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/samples/${name}.json`, import.meta.url), 'utf8')) as unknown;
// The whole row, refused when any of its records has a problem: what these tests read of a sample.
function adapt(name: string) {
  const parts = adaptParts(sample(name), name.split('__')[0] ?? '', facilities, '3201010001-01');
  const issues = parts.flatMap((p) => p.issues);
  if (issues.length > 0) throw new GerbangError('record.invalid', issues);
  return parts.flatMap((p) => (p.adapted ? [p.adapted] : []));
}
/** Every error the app hears of for a sample, as the gateway judges it (prepareItem): from its adapter, or from the canonical checks. */
const refusal = async (name: string) => {
  const parts = await prepareItem(sample(name), name.split('__')[0] ?? '', { facilities, now, posyandu: '3201010001-01' });
  const errors = parts.flatMap((p) => (p.result.ok ? [] : p.result.issues)).filter((i) => i.severity === 'error');
  if (errors.length === 0) throw new Error(`${name} was not refused`);
  return errors.map((i) => `${i.key}@${i.path ?? ''}${i.source ? `<${i.source}` : ''}`);
};

t.test('at least six adapters, loaded from mappings/adapters, every shipped file without a problem', async (t) => {
  const report = shippedAdapters().reload();
  t.same(report.refused, []);
  t.ok(shippedAdapters().names().length >= 6, shippedAdapters().names().join(', '));
});

t.test('sim-posyandu: balita, ibu hamil and imunisasi rows', async (t) => {
  const [balita] = adapt('sim-posyandu__pemeriksaan_balita__01');
  t.match(balita?.record, {
    kind: 'anthropometry', recordId: 'pemeriksaan-47', occurredAt: '2025-08-14', posyandu: '3201010001-01',
    subject: { nik: '3374034211230014', name: 'Keisha Anindya Putri', sex: 'female', birthDate: '2023-11-02', mother: { nik: '3374034912950007' } },
    weightKg: 10.7, heightCm: 80.2, position: 'lying', headCircumferenceCm: 46.5, muacCm: 14.9,
  });
  const weight = balita?.provenance.find((p) => p.field === 'weightKg');
  t.same(weight, { field: 'weightKg', source: 'berat_badan', original: '10.70', value: 10.7, rules: ['number-from-text'] }, 'the original value is kept with the rule applied');
  t.same(balita?.provenance.find((p) => p.field === 'position')?.rules, ['position-from-age']);
  const [anc] = adapt('sim-posyandu__pemeriksaan_ibu_hamil__01');
  t.match(anc?.record, { kind: 'anc-visit', systolic: 110, diastolic: 70, pregnancy: { lmp: '2025-03-01', edd: '2025-12-06' }, fetalPresentation: 'cephalic', urineProtein: 'negative', hemoglobinGdl: 10.4 });
  const [imm] = adapt('sim-posyandu__imunisasi__01');
  t.match(imm?.record, { kind: 'immunization', vaccine: 'DPT-HB-Hib 2', lotNumber: '3012425', expirationDate: '2026-10-31', subject: { mother: { nik: '3578174411980006' } } });
  for (const a of [balita, anc, imm]) t.ok(prepareRecord(a?.record, 'sim-posyandu', facilities, now).ok, `${a?.record.kind} is a valid canonical record`);
  t.same(await refusal('sim-posyandu__imunisasi__INVALID_04'), [
    'nik.same-as-mother@subject.nik<kunjungan.pasien.nik', 'date.before-birth@occurredAt<tanggal_imunisasi', 'vaccine.unknown@vaccine<jenis_imunisasi + dosis', 'vaccine.expired@expirationDate<expiry_date',
  ]);
});

t.test('e-kohort: ANC visit, growth record, immunisation action', async (t) => {
  const [anc] = adapt('e-kohort__anc_visit__01');
  t.match(anc?.record, {
    kind: 'anc-visit', subject: { nik: '1271095402970018', sex: 'female', birthDate: '1997-02-14' },
    pregnancy: { lmp: '2025-02-10', gravida: 2, para: 1, abortus: 0 }, visitNumber: 'K3', muacCm: 24.5, fetalPresentation: 'cephalic', ironTablets: 30,
  });
  t.same(anc?.provenance.find((p) => p.field === 'subject.birthDate')?.rules, ['birth-date-from-nik']);
  t.ok(prepareRecord(anc?.record, 'e-kohort', facilities, now).ok);
  const [growth] = adapt('e-kohort__child_growth_record__01');
  t.match(growth?.record, { kind: 'anthropometry', position: 'standing', vitaminA: 'red', weightKg: 11.1 });
  t.ok(prepareRecord(growth?.record, 'e-kohort', facilities, now).ok);
  const [imm] = adapt('e-kohort__immunization_action__01');
  t.match(imm?.record, { kind: 'immunization', vaccine: 'BCG', occurredAt: '2025-08-04T08:35:00+08:00', lotNumber: '0551224' });
  const immCheck = prepareRecord(imm?.record, 'e-kohort', facilities, now);
  t.same(immCheck.ok ? [] : immCheck.issues.filter((i) => i.severity === 'error').map((i) => i.key), ['subject.needs-identity', 'vaccine.lot-missing'], 'the app has no NIK for the baby nor its mother, and no expiry date for a bidan\'s dose (SATUSEHAT 10307): it cannot go to SATUSEHAT yet');
  t.same(await refusal('e-kohort__pregnancy__01'), ['adapter.no-record@'], 'a pregnancy header without a visit is not a record');
  const invalid = await refusal('e-kohort__anc_visit__INVALID_05');
  for (const expected of [
    'adapter.unknown-value@visitNumber<visit_code', 'field.range@gestationalAgeWeeks<gestational_age', 'field.range@ironTablets<fe_tablets',
    'value.bp-swapped@systolic<systolic',
  ]) t.ok(invalid.includes(expected), `${expected} (${invalid.join(', ')})`);
});

t.test('eposyandu-mhd: lansia visit; a NIK sent as a number that lost its digits', async (t) => {
  const [lansia] = adapt('eposyandu-mhd__pemeriksaan_lansia__01');
  t.match(lansia?.record, { kind: 'screening', subject: { nik: '1371040803590004', sex: 'male' }, systolic: 140, diastolic: 90, glucoseMgdl: 180, glucoseTest: 'random', cholesterolMgdl: 220, uricAcidMgdl: 7.2, waistCm: 97 });
  t.same(lansia?.provenance.find((p) => p.field === 'subject.nik')?.rules, ['nik-from-number']);
  t.ok(prepareRecord(lansia?.record, 'eposyandu-mhd', facilities, now).ok);
  const invalid = await refusal('eposyandu-mhd__balita__INVALID_06');
  t.ok(invalid.includes('adapter.nik-lost-digits@subject.nik<nik_balita'), invalid.join(', '));
  t.ok(invalid.includes('value.grams-as-kg@weightKg<berat_badan_awal_balita'), 'and the birth weight in grams');
});

t.test('posyandu-ilp-vrynd: balita, bumil, lansia and remaja visits', async (t) => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['posyandu-ilp-vrynd__kunjungan_balita__01', { kind: 'anthropometry', weightKg: 6.45, heightCm: 62.3, position: 'lying', subject: { sex: 'female' } }],
    ['posyandu-ilp-vrynd__kunjungan_bumil__01', { kind: 'anc-visit', pregnancy: { lmp: '2025-05-06', gravida: 1 }, muacCm: 23.9, systolic: 100 }],
    ['posyandu-ilp-vrynd__kunjungan_lansia__01', { kind: 'screening', waistCm: 88.5, systolic: 146, smoker: false, glucoseMgdl: 132 }],
    ['posyandu-ilp-vrynd__kunjungan_remaja__01', { kind: 'screening', hemoglobinGdl: 11.2, waistCm: 66 }],
  ];
  for (const [name, expected] of cases) {
    const [a] = adapt(name);
    t.match(a?.record, expected, name);
    t.ok(prepareRecord(a?.record, 'posyandu-ilp-vrynd', facilities, now).ok, `${name} is valid`);
  }
  const [remaja] = adapt('posyandu-ilp-vrynd__kunjungan_remaja__01');
  t.same(remaja?.provenance.find((p) => p.field === 'hemoglobinGdl'), { field: 'hemoglobinGdl', source: 'kunjungan_remaja.kadar_hb', original: '11,2', value: 11.2, rules: ['decimal-comma'] });
});

t.test('oskhar-pdm: a weighing known by month; the invalid one names every problem', async (t) => {
  const [w] = adapt('oskhar-pdm__penimbangan__01');
  t.match(w?.record, { kind: 'anthropometry', occurredAt: '2025-08-15', weightKg: 9.4, position: 'lying', muacCm: 14.3, subject: { name: 'Nayla Zahra Aulia', birthOrder: 1 } });
  t.same(w?.provenance.find((p) => p.field === 'occurredAt')?.rules, ['month-only-date-15th']);
  t.same(await refusal('oskhar-pdm__penimbangan__INVALID_03'), [
    'adapter.not-a-month@occurredAt<tahun_penimbangan | bulan_penimbangan', 'field.required@subject.name<bayi.nama', 'field.required@subject.sex<bayi.jenis_kelamin',
    'field.required@subject.birthDate<bayi.tanggal_lahir', 'adapter.unknown-value@position<cara_ukur',
  ]);
  t.same(await refusal('oskhar-pdm__bayi_register__01'), ['adapter.no-record@'], 'an immunisation history without dates is not a record');
});

t.test('simpel-posyandu-feri: a dose given; an elderly visit full of slips', async (t) => {
  const [dose] = adapt('simpel-posyandu-feri__imunisasi_balita__01');
  t.match(dose?.record, { kind: 'immunization', vaccine: 'DPT-HB-Hib 3', occurredAt: '2025-08-13', subject: { name: 'Fathan Alvaro Ramadhan', sex: 'male', birthOrder: 2 } });
  const invalid = await refusal('simpel-posyandu-feri__pemeriksaan_lansia__INVALID_07');
  for (const expected of [
    'adapter.not-blood-pressure@systolic<tekanan_darah', 'value.mmol-as-mg@glucoseMgdl<gula_darah', 'value.m-as-cm@heightCm<tinggi_badan',
    'value.implausible@uricAcidMgdl<asam_urat', 'subject.needs-identity@subject.mother.nik',
  ]) t.ok(invalid.includes(expected), `${expected} (${invalid.join(', ')})`);
});
