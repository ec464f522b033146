import t from 'tap';
import { judge, judgeOne, WITA } from './judge.js';

// Rows of ratnoajiw/posbinduptm (commit 3a15f59) as the app reads and writes them:
// lib/features/{periksa_tekanan_darah,periksa_gula_darah,periksa_kolesterol_total,antropometri}/data/models/*_model.dart
// (numbers as doubles, pemeriksaan_at from Dart toIso8601String of a local time), the queries'
// select('*, profiles(name)') in data/datasources, the person's pasien row of
// lib/features/pasien/data/models/pasien_model.dart (nik, tanggal_lahir, jenis_kelamin L/P). Values invented.

const profiles = { name: 'Sutrisno', pasien: [{ pasien_id: 'p-1', profile_id: 'u-1', nik: '6471051507600003', tanggal_lahir: '1960-07-15', jenis_kelamin: 'L', alamat: 'Balikpapan', nomor_hp: null }] };
const now = new Date('2025-11-06T00:00:00Z');

t.test('each measurement table is a screening of the profile\'s person, at the phone\'s local time', async (t) => {
  const bp = await judgeOne('posbindu-ptm', { tekanan_darah_id: 'td-1', profile_id: 'u-1', sistolik: 150.0, diastolik: 95.0, pemeriksaan_at: '2025-08-12T08:15:00.000', updated_at: null, profiles }, { posyandu: WITA, now });
  t.same(bp.errors, []);
  t.match(bp.record, { kind: 'screening', recordId: 'tekanan-darah-td-1', occurredAt: '2025-08-12T08:15:00+08:00', systolic: 150, diastolic: 95, subject: { nik: '6471051507600003', name: 'Sutrisno', sex: 'male', birthDate: '1960-07-15' } });
  const glucose = await judgeOne('posbindu-ptm', { gula_darah_id: 'gd-1', profile_id: 'u-1', gula_darah_sewaktu: 212.0, pemeriksaan_at: '2025-08-12T08:20:00.000', profiles }, { posyandu: WITA, now });
  t.match(glucose.record, { glucoseMgdl: 212, glucoseTest: 'random' });
  t.same(glucose.errors, []);
  const chol = await judgeOne('posbindu-ptm', { kolesterol_total_id: 'k-1', profile_id: 'u-1', kolesterol_total: 241.0, pemeriksaan_at: '2025-08-12T08:25:00.000', profiles }, { posyandu: WITA, now });
  t.match(chol.record, { cholesterolMgdl: 241 });
  const body = await judgeOne('posbindu-ptm', { antropometri_id: 'a-1', profile_id: 'u-1', tinggi_badan: 165.0, berat_badan: 72.5, lingkar_perut: 96.0, imt: 26.6, pemeriksaan_at: '2025-08-12T08:10:00.000', profiles }, { posyandu: WITA, now });
  t.match(body.record, { weightKg: 72.5, heightCm: 165, waistCm: 96 });
  t.same(body.errors, []);
});

t.test('refused, naming the field: a profile without its pasien row', async (t) => {
  const [bp] = await judge('posbindu-ptm', { tekanan_darah_id: 'td-2', profile_id: 'u-2', sistolik: 130.0, diastolik: 85.0, pemeriksaan_at: '2025-08-12T08:15:00.000', profiles: { name: 'Tanpa Data' } }, { posyandu: WITA, now });
  t.ok(bp?.errors.some((e) => e.startsWith('field.required@subject.birthDate')), String(bp?.errors));
});
