import t from 'tap';
import { judgeOne } from './judge.js';

// Rows of vigiapriliansyah/Posyandu-Digital-KMS--App (commit 8b430dc), Posyandu-Digital-Backend:
// models/Pengukuran.js (table pencatatan_kms: DATEONLY tanggal_pencatatan, FLOAT berat_badan,
// tinggi_badan always null in controllers/pengukuranController.js, kenaikan_bb_gram = the KBM threshold,
// status_gizi a JSON string), models/Anak.js (nik_anak optional, ENUM L/P), models/OrangTuaProfile.js
// (nama_ibu, nik_ibu) reached through Anak.Users as controllers/anakController.js includes them.
// Values invented.

const anak = (over: Record<string, unknown> = {}) => ({
  id: 12, nik_anak: null, nama_anak: 'Kirana Ayu', tanggal_lahir: '2025-01-20', jenis_kelamin: 'P', posyandu_id: 2, status_anak: 'aktif',
  createdAt: '2025-02-01T03:00:00.000Z', updatedAt: '2025-02-01T03:00:00.000Z',
  Users: [{ id: 40, username: 'ibu.kirana', OrangTuaProfile: { nama_ibu: 'Dewi Anggraini', nik_ibu: '3273016108970002', alamat: 'Jl. Contoh' } }],
  ...over,
});
const row = (over: Record<string, unknown> = {}) => ({
  id: 301, anak_id: 12, petugas_id: 7, tanggal_pencatatan: '2025-08-20', umur_bulan: 7, berat_badan: 7.4, tinggi_badan: null, kenaikan_bb_gram: 300, status_naik_turun: 'N',
  asi_eksklusif: true, status_gizi: '{"bb_u":"Gizi Baik","warna_kms":"hijau"}', catatan_petugas: null, is_synced: false,
  createdAt: '2025-08-20T02:00:00.000Z', updatedAt: '2025-08-20T02:00:00.000Z', Petugas: { username: 'kader1' }, Anak: anak(), ...over,
});
const now = new Date('2025-11-06T00:00:00Z');

t.test('a KMS weighing: weight only, the mother\'s NIK from her profile', async (t) => {
  const j = await judgeOne('posyandu-digital-kms', row(), { now });
  t.same(j.errors, []);
  t.match(j.record, {
    kind: 'anthropometry', recordId: 'pencatatan-kms-301', occurredAt: '2025-08-20', weightKg: 7.4, exclusiveBreastfeeding: true,
    subject: { name: 'Kirana Ayu', sex: 'female', birthDate: '2025-01-20', mother: { nik: '3273016108970002', name: 'Dewi Anggraini' } },
  });
  t.notOk('heightCm' in j.record || 'position' in j.record, 'the app never measures a length');
});

t.test('refused, naming the field', async (t) => {
  const orphan = await judgeOne('posyandu-digital-kms', row({ Anak: anak({ Users: [] }) }), { now });
  t.same(orphan.errors, ['subject.needs-identity@subject.mother.nik'], 'no NIK for the child nor a parent profile');
  const grams = await judgeOne('posyandu-digital-kms', row({ berat_badan: 7400 }), { now });
  t.ok(grams.errors.includes('value.grams-as-kg@weightKg<berat_badan'), grams.errors.join(', '));
});
