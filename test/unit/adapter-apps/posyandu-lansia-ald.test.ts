import t from 'tap';
import { judge } from './judge.js';

// Rows of aldihaqq03/Posyandu_lansia (commit 053c371): a skrining with the relations of
// app/Models/Skrining.php (lansia, utama, ppok, kunjungan), columns of database/migrations/
// 2026_02_27_062149_lansia.php, 2026_03_07_042453_skrining.php, 2026_03_07_043028_skrining_utama.php,
// 2026_03_07_043005_skreaning_ppok.php, 2026_03_07_070418_skrining_kunjungan.php (decimal(5,1) as strings,
// unsigned small integers as numbers, booleans 0/1); answers as app/Http/Controllers/SkriningController.php
// validates them (merokok 0/1, puma_rokok_per_hari 1-200). Values invented.

const skrining = (over: Record<string, unknown> = {}) => ({
  id_skrining: 48213, id_lansia: 3, id_petugas: 1, id_jadwal_posyandu: null, tanggal_skrining: '2026-03-07', keluhan: null,
  created_at: '2026-03-07T02:00:00.000000Z', updated_at: '2026-03-07T02:00:00.000000Z',
  lansia: { id_lansia: 3, nik: '3173062709560003', nama_lansia: 'Bambang Hartono', jenis_kelamin: 'L', tempat_lahir: 'Jakarta', tanggal_lahir: '1956-09-27', alamat: 'Jl. Contoh' },
  utama: {
    id_skrining_utama: 11, id_skrining: 48213, id_lansia: 3, merokok: 1, merokok_kategori: 1, paparan_asap_rokok: 0, konsumsi_gula: 2, konsumsi_garam: 1, konsumsi_minyak: 1,
    konsumsi_sayur_buah: 2, aktivitas_fisik: 2, konsumsi_alkohol: 2, riwayat_penyakit_keluarga: ['hipertensi'], riwayat_penyakit_sendiri: [], tinggi_badan: '165.0', berat_badan: '68.5',
    imt: '25.16', lingkar_perut: '92.0', td_sistolik: 148, td_diastolik: 92, gula_darah: 176, gula_darah_kategori: 2, kolesterol: 214, kolesterol_kategori: 2, iva_sadanis: null,
    srq_total: 3, skrining_penglihatan: ['normal'], skrining_pendengaran: ['normal'],
  },
  ppok: { id_skrining: 48213, merokok: 1, jenis_rokok: 1, puma_jenis_kelamin: 1, puma_tidak_merokok: 0, puma_rokok_per_hari: 12, puma_lama_merokok_tahun: 35, puma_skor_merokok: 2 },
  kunjungan: null,
  ...over,
});
const now = new Date('2026-03-10T00:00:00Z');

t.test('the main screening: measurements, glucose, cholesterol and smoking with the PUMA answers', async (t) => {
  const [main, ...rest] = await judge('posyandu-lansia-ald', skrining(), { now });
  t.equal(rest.length, 0, 'no follow-up measurements: one record');
  t.same(main?.errors, []);
  t.match(main?.record, {
    kind: 'screening', recordId: 'skrining-48213', occurredAt: '2026-03-07', subject: { nik: '3173062709560003', sex: 'male', birthDate: '1956-09-27' },
    weightKg: 68.5, heightCm: 165, waistCm: 92, systolic: 148, diastolic: 92, glucoseMgdl: 176, glucoseTest: 'random', cholesterolMgdl: 214, smoker: true, cigarettesPerDay: 12, smokingYears: 35,
  });
});

t.test('follow-up measurements are a second screening of the same day', async (t) => {
  const out = await judge('posyandu-lansia-ald', skrining({ kunjungan: { id_skrining_kunjungan: 4, id_skrining: 48213, berat_badan: '68.0', tinggi_badan: null, lingkar_perut: '91.5', td_sistolik: 140, td_diastolik: 88 } }), { now });
  t.same(out.map((j) => j.record.recordId), ['skrining-48213', 'skrining-48213-kunjungan']);
  t.match(out[1]?.record, { weightKg: 68, waistCm: 91.5, systolic: 140, diastolic: 88 });
  t.same(out[1]?.errors, []);
});

t.test('a birth date the app did not keep is read from the NIK, and said so', async (t) => {
  const [noBirth] = await judge('posyandu-lansia-ald', skrining({ lansia: { ...skrining().lansia, tanggal_lahir: null } }), { now });
  t.same(noBirth?.errors, []);
  t.match(noBirth?.record, { subject: { birthDate: '1956-09-27' } });
  t.same(noBirth?.provenance.find((p) => p.field === 'subject.birthDate')?.rules, ['birth-date-from-nik']);
});

t.test('refused, naming the field and the column', async (t) => {
  const [nothing] = await judge('posyandu-lansia-ald', skrining({ lansia: { ...skrining().lansia, tanggal_lahir: null, nik: '3173062709' } }), { now });
  t.ok(nothing?.errors.some((e) => e.startsWith('field.required@subject.birthDate') || e.startsWith('nik.')), String(nothing?.errors));
  const [swapped] = await judge('posyandu-lansia-ald', skrining({ utama: { ...skrining().utama, td_sistolik: 80, td_diastolik: 120 } }), { now });
  t.ok(swapped?.errors.includes('value.bp-swapped@systolic<utama.td_sistolik'), String(swapped?.errors));
});
