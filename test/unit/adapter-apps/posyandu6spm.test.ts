import t from 'tap';
import { judge, judgeOne } from './judge.js';

// Rows of sharfina451/Posyandu6SPM (commit 87ed977): layanan_spm with warga as
// supabase/migrations/20260723105934_init_schema.sql declares them (bidang_spm, jenis_kelamin L/P,
// detail jsonb, nik char(16) with a check) and as the seeds write them (20260726120000_seed_simulation_data.sql,
// 20260727000300_seed_dummy_layanan_spm.sql: tanggal_layanan, jenis_layanan words, detail keys). Values invented.

const warga = (over: Record<string, unknown> = {}) => ({
  id: 'w-3', nik: '3328015507230002', nama: 'Kayla Putri', jenis_kelamin: 'P', tanggal_lahir: '2023-07-15', rumah_tangga_id: 'rt-1', hubungan_keluarga: 'anak', nik_terverifikasi: false, ...over,
});
const layanan = (jenis: string, detail: Record<string, unknown>, over: Record<string, unknown> = {}) => ({
  id: 'l-1', warga_id: 'w-3', bidang: 'kesehatan', kunjungan_id: 'k-1', tanggal_layanan: '2025-07-10', jenis_layanan: jenis, catatan: null, detail, kader_id: 'u-1',
  dibuat_pada: '2025-07-10T02:00:00+00:00', diperbarui_pada: '2025-07-10T02:00:00+00:00', warga: warga(), ...over,
});
const now = new Date('2025-11-06T00:00:00Z');

t.test('a weighing, a dose and a PTM screening from the service\'s detail JSON', async (t) => {
  const w = await judgeOne('posyandu6spm', layanan('Penimbangan & Pengukuran', { berat_kg: 12.5, tinggi_cm: 85.0 }), { now });
  t.same(w.errors, []);
  t.match(w.record, { kind: 'anthropometry', recordId: 'layanan-l-1', occurredAt: '2025-07-10', weightKg: 12.5, heightCm: 85, position: 'lying', subject: { nik: '3328015507230002', sex: 'female' } });
  const d = await judgeOne('posyandu6spm', layanan('Imunisasi', { imunisasi_tipe: 'BCG' }, { warga: warga({ tanggal_lahir: '2025-06-01', nik: '3328014106250001' }) }), { now });
  t.same(d.errors, []);
  t.match(d.record, { kind: 'immunization', vaccine: 'BCG' });
  const s = await judgeOne('posyandu6spm', layanan('Skrining Lansia PTM', { sistolik: 145, diastolik: 92, gula_darah: 180 }, { tanggal_layanan: undefined, tanggal: '2025-07-20', warga: warga({ nik: '3328012003580001', nama: 'Darsono', jenis_kelamin: 'L', tanggal_lahir: '1958-03-20' }) }), { now });
  t.same(s.errors, []);
  t.match(s.record, { kind: 'screening', occurredAt: '2025-07-20', systolic: 145, diastolic: 92, glucoseMgdl: 180, glucoseTest: 'random' });
});

t.test('refused, naming the field; services of other SPM fields are no record', async (t) => {
  const s = await judgeOne('posyandu6spm', layanan('Skrining Lansia PTM', { sistolik: 145, gula_darah: 180 }, { warga: warga({ tanggal_lahir: '1958-03-20', jenis_kelamin: 'L' }) }), { now });
  t.ok(s.errors.some((e) => e.includes('diastolic')), `the seed's lone systolic (${s.errors.join(', ')})`);
  const [water] = await judge('posyandu6spm', layanan('Akses Air Minum', { sumber_air: 'PAM' }, { bidang: 'pekerjaan_umum' }), { now });
  t.notOk(water?.kind, 'drinking water is not a health record');
  const [campak] = await judge('posyandu6spm', layanan('Imunisasi', { imunisasi_tipe: 'Campak' }, { warga: warga({ tanggal_lahir: '2023-01-10' }) }), { now });
  t.same(campak?.errors, ['vaccine.dose-missing@vaccine<detail.imunisasi_tipe'], 'at 30 months "Campak" may be either dose');
});
