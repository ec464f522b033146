import t from 'tap';
import { judge } from './judge.js';

// Rows of AhmadRizaMuzakki/sistem-posyandu (commit 58c3a33): imunisasi as app/Models/Imunisasi.php
// casts it (tanggal_imunisasi date, decimal:2 as strings; the app in UTC, config/app.php) with columns of
// database/migrations/2025_12_06_094351_create_imunisasi_table.php and 2026_06_08_000000_*; its target
// as the `sasaran` accessor picks it by kategori_sasaran (columns of 2025_11_23_100415_create_sasarans_table.php,
// 2025_12_14_173653_*), the parent by SasaranBayibalita::orangtua (2025_12_07_095907_create_orangtuas_table.php:
// nik unsigned BIGINT, kelamin Laki-laki/Perempuan); vaccine labels of app/Helpers/ImunisasiOptions.php.
// Values invented.

const orangtua = (over: Record<string, unknown> = {}) => ({ nik: 3374014207920003, nama: 'Lestari Wulandari', no_kk: 3374010101170009, tanggal_lahir: '1992-07-02', kelamin: 'Perempuan', ...over });
const bayi = (over: Record<string, unknown> = {}) => ({
  id_sasaran_bayibalita: 21, id_posyandu: 1, nama_sasaran: 'Bima Satria', nik_sasaran: null, no_kk_sasaran: '3374010101170009', tempat_lahir: 'Semarang', tanggal_lahir: '2025-02-11',
  jenis_kelamin: 'Laki-laki', umur_sasaran: 0, nik_orangtua: '3374014207920003', rt: '003', rw: '007', kepersertaan_bpjs: 'PBI', orangtua: orangtua(), ...over,
});
const imunisasi = (over: Record<string, unknown> = {}) => ({
  id_imunisasi: 77, id_posyandu: 1, id_users: 4, id_petugas_kesehatan: 2, id_sasaran: 21, kategori_sasaran: 'bayibalita', jenis_imunisasi: 'Polio Tetes 2 (OPV 2)',
  tanggal_imunisasi: '2025-04-14T00:00:00.000000Z', tinggi_badan: '57.50', berat_badan: '5.60', tekanan_darah: null, gula_darah: null, keterangan: null,
  created_at: '2025-04-14T02:00:00.000000Z', updated_at: '2025-04-14T02:00:00.000000Z', sasaran: bayi(), ...over,
});
const now = new Date('2025-11-06T00:00:00Z');

t.test('a child\'s immunisation row: the dose and the weighing taken with it; the mother by the parent row', async (t) => {
  const [dose, weighing, ...rest] = await judge('sistem-posyandu-arz', imunisasi(), { now });
  t.equal(rest.length, 0);
  t.same(dose?.errors, []);
  t.match(dose?.record, { kind: 'immunization', recordId: 'imunisasi-77', occurredAt: '2025-04-14', vaccine: 'Polio Tetes 2 (OPV 2)', subject: { name: 'Bima Satria', sex: 'male', birthDate: '2025-02-11', mother: { nik: '3374014207920003', name: 'Lestari Wulandari' } } });
  t.same(weighing?.errors, []);
  t.match(weighing?.record, { kind: 'anthropometry', recordId: 'imunisasi-77-ukur', weightKg: 5.6, heightCm: 57.5, position: 'lying' });
});

t.test('an adult\'s row: the vitals taken at the visit are a screening', async (t) => {
  const out = await judge('sistem-posyandu-arz', imunisasi({
    id_imunisasi: 78, kategori_sasaran: 'lansia', jenis_imunisasi: 'Booster COVID', tinggi_badan: null, berat_badan: '61.00', tekanan_darah: '150/90 mmHg', gula_darah: '188.00',
    sasaran: { id_sasaran_lansia: 5, nama_sasaran: 'Suparmi', nik_sasaran: '3374015108560002', tanggal_lahir: '1956-08-11', jenis_kelamin: 'Perempuan', orangtua: null },
  }), { now });
  const screening = out.find((j) => j.kind === 'screening');
  t.same(screening?.errors, []);
  t.match(screening?.record, { recordId: 'imunisasi-78-skrining', systolic: 150, diastolic: 90, glucoseMgdl: 188, glucoseTest: 'random', weightKg: 61, subject: { sex: 'female' } });
  t.notOk(out.some((j) => j.kind === 'anthropometry'), 'an adult\'s weight is not a child weighing');
});

t.test('refused or warned, naming the field', async (t) => {
  const [father] = await judge('sistem-posyandu-arz', imunisasi({ sasaran: bayi({ orangtua: orangtua({ kelamin: 'Laki-laki', nik: 3374010303900001 }) }) }), { now });
  t.same(father?.errors, ['subject.needs-identity@subject.mother.nik'], 'a father\'s NIK is not the mother\'s');
  const [papua] = await judge('sistem-posyandu-arz', imunisasi({ sasaran: bayi({ orangtua: orangtua({ nik: 9471014207920000 }) }) }), { now });
  t.ok(papua?.errors.some((e) => e.startsWith('adapter.nik-lost-digits@subject.mother.nik')), String(papua?.errors));
  const [legacy] = await judge('sistem-posyandu-arz', imunisasi({ jenis_imunisasi: 'Polio' }), { now });
  t.ok(legacy?.errors.some((e) => e.startsWith('vaccine.dose-missing')), `a name without its dose (${String(legacy?.errors)})`);
});
