import t from 'tap';
import { judge, judgeOne, rulesOf } from './judge.js';

// Rows of Vrynd/Posyandu-terintegrasi-layanan-primer (commit 898155b) as PostgREST embeds them from
// schema_final.sql (kunjungan with peserta, kunjungan_balita, kunjungan_bumil -> kehamilan,
// kunjungan_dewasa, kunjungan_remaja; enums jenis_kelamin_enum 'Laki-Laki'/'Perempuan', kategori_peserta;
// date columns as 'yyyy-mm-dd', numeric as JSON numbers, kadar_hb varchar). The app's Laravel model
// app/Models/Participant.php (database/migrations/2026_08_05_214950_create_participants_table.php)
// names the person name/birth_date/gender and encrypts the NIK (cast 'encrypted'). Values invented.

const peserta = (over: Record<string, unknown> = {}) => ({
  id: '0b6f6c1e-2a7e-4a51-9a3e-5f0c1d2e3f40', nik: '3204014806240003', nik_hash: 'c'.repeat(64), nama: 'Alesha Putri', kategori: 'balita', tanggal_lahir: '2024-06-08',
  jenis_kelamin: 'Perempuan', alamat: 'Kp. Contoh', rt: '002', rw: '05', telepon: null, kepesertaan_bpjs: true, nomor_bpjs: null,
  created_at: '2025-01-10T02:00:00.123456+00:00', updated_at: '2025-01-10T02:00:00.123456+00:00', ...over,
});
const kunjungan = (over: Record<string, unknown>) => ({
  id: '6c1d7a52-8f0e-4d6b-b8a1-2a3b4c5d6e7f', peserta_id: '0b6f6c1e-2a7e-4a51-9a3e-5f0c1d2e3f40', jadwal_kegiatan_id: null, tanggal_kunjungan: '2025-10-14',
  berat_badan: 8.15, rujuk: false, lokasi: 'posyandu', dibuat_oleh: null, created_at: '2025-10-14T02:30:00.5+00:00', updated_at: '2025-10-14T02:30:00.5+00:00',
  peserta: peserta(), ...over,
});
const id = '6c1d7a52-8f0e-4d6b-b8a1-2a3b4c5d6e7f';

t.test('a balita visit: weight on the visit, the rest on kunjungan_balita', async (t) => {
  const j = await judgeOne('posyandu-ilp-vrynd', kunjungan({
    kunjungan_balita: { kunjungan_id: id, umur_bulan: 16, kesimpulan_bb: 'naik', panjang_badan: 76.4, lingkar_kepala: 45.1, lingkar_lengan: 14.6, ada_gejala_sakit: false },
  }));
  t.same(j.errors, []);
  t.match(j.record, {
    kind: 'anthropometry', recordId: `kunjungan-${id}`, occurredAt: '2025-10-14', subject: { nik: '3204014806240003', name: 'Alesha Putri', sex: 'female', birthDate: '2024-06-08' },
    weightKg: 8.15, heightCm: 76.4, position: 'lying', headCircumferenceCm: 45.1, muacCm: 14.6,
  });
  t.same(rulesOf(j, 'position'), ['position-from-age']);
});

t.test('a bumil visit with its pregnancy embedded under kunjungan_bumil', async (t) => {
  const mother = peserta({ nik: '3204015503980001', nama: 'Rina Marlina', kategori: 'bumil', tanggal_lahir: '1998-03-15' });
  const j = await judgeOne('posyandu-ilp-vrynd', kunjungan({
    berat_badan: 56.2, peserta: mother,
    kunjungan_bumil: {
      kunjungan_id: id, kehamilan_id: 'a1', umur_kehamilan: 22, lila: 23.9, tekanan_sistolik: 110, tekanan_diastolik: 70, tablet_darah: true, asi_eksklusif: false, mt_bumil_kek: false, kelas_bumil: true,
      kehamilan: { id: 'a1', peserta_id: mother.id, nama_suami: 'Asep', hamil_anak_ke: 2, jarak_anak: 3, bb_sebelum_hamil: 51, tinggi_badan: 154.5, hpht: '2025-05-13', status: 'aktif' },
    },
  }));
  t.same(j.errors, []);
  t.match(j.record, { kind: 'anc-visit', subject: { sex: 'female', birthDate: '1998-03-15' }, pregnancy: { lmp: '2025-05-13', gravida: 2 }, gestationalAgeWeeks: 22, weightKg: 56.2, heightCm: 154.5, muacCm: 23.9, systolic: 110, diastolic: 70 });
});

t.test('adult (produktif) and elderly visits share kunjungan_dewasa; a teen visit keeps Hb as text', async (t) => {
  const adult = await judgeOne('posyandu-ilp-vrynd', kunjungan({
    berat_badan: 74, peserta: peserta({ nik: '3204011207850002', nama: 'Dedi', kategori: 'produktif', tanggal_lahir: '1985-07-12', jenis_kelamin: 'Laki-Laki' }),
    kunjungan_dewasa: {
      kunjungan_id: id, tinggi_badan: 168, lingkar_perut: 95.5, tekanan_sistolik: 138, tekanan_diastolik: 88, gula_darah: 141, asam_urat: 6.8, kolesterol: 205,
      tes_mata: 'normal', tes_telinga: 'normal', alat_kontrasepsi: null, merokok: true, konsumsi_gula: true, konsumsi_garam: false, konsumsi_lemak: true,
    },
  }));
  t.same(adult.errors, []);
  t.match(adult.record, { kind: 'screening', subject: { sex: 'male' }, weightKg: 74, heightCm: 168, waistCm: 95.5, systolic: 138, diastolic: 88, glucoseMgdl: 141, glucoseTest: 'random', uricAcidMgdl: 6.8, cholesterolMgdl: 205, smoker: true });
  const teen = await judgeOne('posyandu-ilp-vrynd', kunjungan({
    berat_badan: 45.5, peserta: peserta({ nik: '3204016009100004', nama: 'Salsa', kategori: 'remaja', tanggal_lahir: '2010-09-20' }),
    kunjungan_remaja: { kunjungan_id: id, tinggi_badan: 152, lingkar_perut: 63, tekanan_sistolik: 105, tekanan_diastolik: 68, gula_darah: null, kadar_hb: '11,4' },
  }));
  t.same(teen.errors, []);
  t.match(teen.record, { kind: 'screening', hemoglobinGdl: 11.4, waistCm: 63, heightCm: 152 });
  t.same(rulesOf(teen, 'hemoglobinGdl'), ['decimal-comma']);
});

t.test('the Laravel participant names the person in English', async (t) => {
  const j = await judgeOne('posyandu-ilp-vrynd', kunjungan({
    peserta: { id: 4, ulid: '01J9ZX', nik: '3204014806240003', name: 'Alesha Putri', category: 'balita', birth_date: '2024-06-08', gender: 'Perempuan', has_bpjs: true },
    kunjungan_balita: { kunjungan_id: id, umur_bulan: 16, panjang_badan: 76.4, lingkar_kepala: null, lingkar_lengan: null },
  }));
  t.same(j.errors, []);
  t.match(j.record, { subject: { name: 'Alesha Putri', sex: 'female', birthDate: '2024-06-08' } });
});

t.test('refused, naming the field', async (t) => {
  // What the table holds when read past the Laravel app: its encrypted NIK.
  const cipher = await judgeOne('posyandu-ilp-vrynd', kunjungan({ peserta: peserta({ nik: 'eyJpdiI6IkFBQUEiLCJ2YWx1ZSI6IkJCQkIiLCJtYWMiOiJDQ0NDIn0=' }), kunjungan_balita: { kunjungan_id: id, panjang_badan: 76.4 } }));
  t.ok(cipher.errors.some((e) => e.startsWith('nik.') && e.includes('@subject.nik')), cipher.errors.join(', '));
  const noPregnancy = await judgeOne('posyandu-ilp-vrynd', kunjungan({ peserta: peserta({ kategori: 'bumil', tanggal_lahir: '1998-03-15' }), kunjungan_bumil: { kunjungan_id: id, kehamilan_id: null, umur_kehamilan: 22 } }));
  t.ok(noPregnancy.errors.includes('field.required@pregnancy.lmp<kunjungan_bumil[0].kehamilan.hpht | kunjungan_bumil.kehamilan.hpht | kehamilan.hpht'), noPregnancy.errors.join(', '));
  const hb = await judgeOne('posyandu-ilp-vrynd', kunjungan({ kunjungan_remaja: { kunjungan_id: id, kadar_hb: 'normal' }, peserta: peserta({ tanggal_lahir: '2010-09-20' }) }));
  t.ok(hb.errors.includes('adapter.not-a-number@hemoglobinGdl<kunjungan_remaja.kadar_hb'), hb.errors.join(', '));
});

t.test('an older PostgREST (before v11) embeds each one-to-one cohort table as a list: one element, or none', async (t) => {
  // select=*,peserta(*),kunjungan_balita(*),kunjungan_bumil(*,kehamilan(*)),kunjungan_dewasa(*),kunjungan_remaja(*)
  const old = (over: Record<string, unknown>) => kunjungan({ kunjungan_balita: [], kunjungan_bumil: [], kunjungan_dewasa: [], kunjungan_remaja: [], ...over });
  const balita = await judge('posyandu-ilp-vrynd', old({ kunjungan_balita: [{ kunjungan_id: id, umur_bulan: 16, panjang_badan: 76.4, lingkar_kepala: 45.1, lingkar_lengan: 14.6 }] }));
  t.equal(balita.length, 1, 'the empty lists of the other cohorts are no records');
  t.same(balita[0]?.errors, []);
  t.match(balita[0]?.record, { kind: 'anthropometry', recordId: `kunjungan-${id}`, weightKg: 8.15, heightCm: 76.4, headCircumferenceCm: 45.1, muacCm: 14.6, position: 'lying' });
  t.same(balita[0]?.provenance.find((p) => p.field === 'heightCm')?.source, 'kunjungan_balita[0].panjang_badan', 'the provenance names the element');
  const mother = peserta({ nik: '3204015503980001', nama: 'Rina Marlina', kategori: 'bumil', tanggal_lahir: '1998-03-15' });
  const [anc, ...more] = await judge('posyandu-ilp-vrynd', old({
    berat_badan: 56.2, peserta: mother,
    kunjungan_bumil: [{ kunjungan_id: id, umur_kehamilan: 22, lila: 23.9, tekanan_sistolik: 110, tekanan_diastolik: 70, kehamilan: { id: 'a1', hamil_anak_ke: 2, tinggi_badan: 154.5, hpht: '2025-05-13' } }],
  }));
  t.same(more, []);
  t.same(anc?.errors, []);
  t.match(anc?.record, { kind: 'anc-visit', pregnancy: { lmp: '2025-05-13', gravida: 2 }, gestationalAgeWeeks: 22, heightCm: 154.5, muacCm: 23.9, systolic: 110, diastolic: 70 });
  const teen = await judgeOne('posyandu-ilp-vrynd', old({ peserta: peserta({ tanggal_lahir: '2010-09-20' }), kunjungan_remaja: [{ kunjungan_id: id, kadar_hb: 'normal' }] }));
  t.ok(teen.errors.includes('adapter.not-a-number@hemoglobinGdl<kunjungan_remaja[0].kadar_hb'), teen.errors.join(', '));
  const none = await judge('posyandu-ilp-vrynd', old({}));
  t.same(none.map((j) => [j.kind, j.errors.map((e) => e.split('@')[0])]), [[undefined, ['adapter.no-record']]], 'a visit with no cohort row: no record, said so');
});
