import t from 'tap';
import { judge, judgeOne } from './judge.js';

// Rows of feri2607/SISTEM-INFORMASI-MANAJEMEN-PELAYANAN-POSYANDU (commit 2eb4076) as its Eloquent
// models serialise them, the app in UTC (config/app.php: a `date` cast is midnight UTC). Columns from
// database/migrations/2026_06_26_165232_create_balita_table.php, 2026_07_05_063503_*, 2026_06_26_165334_
// create_hasil_pelayanan_table.php, 2026_07_05_0629{19,20}_*, 2026_07_04_011746_create_kehamilan_table.php,
// 2026_07_05_130000_add_columns_to_kehamilan_and_anc_tables.php, 2026_07_05_140000_create_lansia_full_tables.php;
// casts from app/Models/{Balita,PemeriksaanBalita,ImunisasiBalita,HasilPelayanan,KegiatanPosyandu,Kehamilan,
// Anc,PemeriksaanRemaja,Lansia,PemeriksaanLansia}.php (decimal:2 as strings, PemeriksaanLansia floats as
// numbers); status 'diberikan' as app/Http/Controllers/Pegawai/BalitaMedisController.php sets it; relations as HasilPelayananController loads them (balita.warga, kegiatan); option words from
// resources/views (posisi_janin Normal/Sungsang/Melintang, status_hb Normal/Ringan/Sedang/Berat). Values invented.

const balita = (over: Record<string, unknown> = {}) => ({
  id: 14, nama: 'Fathan Alvaro', tanggal_lahir: '2024-10-03T00:00:00.000000Z', jenis_kelamin: 'L', warga_id: 9, berat_lahir: '3.20', panjang_lahir: '49.00', anak_ke: 2,
  keterangan: null, is_verified: 1, nik: null, nomor_kk: '3578010101170004', nama_ayah: 'Budi', nama_ibu: 'Rahma Dewi', alamat: 'Jl. Contoh', golongan_darah: null,
  no_hp_orang_tua: null, foto_path: null, created_at: '2024-10-10T01:00:00.000000Z', updated_at: '2024-10-10T01:00:00.000000Z', foto_url: null, jenis_kelamin_label: 'Laki-laki',
  ...over,
});
const now = new Date('2025-11-06T00:00:00Z');
// A hasil_pelayanan row as HasilPelayananController stores it (imunisasi and vitamin json_encoded, no
// cast: JSON text) and loads it (balita.warga, kegiatan).
const serviceResult = (over: Record<string, unknown> = {}) => ({
  id: 120, kegiatan_id: 7, balita_id: 14, berat_badan: '9.60', tinggi_badan: '77.00', lingkar_kepala: '45.40', lingkar_lengan: '14.50', suhu_tubuh: '36.6', status_gizi: 'normal',
  imunisasi: '["Campak"]', vitamin: '["Vitamin A"]', catatan: null, rekomendasi: null, user_id: 3, created_at: '2025-09-09T02:00:00.000000Z', updated_at: '2025-09-09T02:00:00.000000Z',
  balita: balita({ nik: '3578010310240003', warga: { id: 9, nama: 'Rahma Dewi', nik: '3578014506950002', jenis_kelamin: 'P' } }),
  kegiatan: { id: 7, nama_kegiatan: 'Posyandu September', tanggal: '2025-09-09T00:00:00.000000Z', jam_mulai: '2025-09-09T01:00:00.000000Z', lokasi: 'Balai RW 05', status: 'selesai' },
  ...over,
});

t.test('a dose given (status "diberikan", as the app writes it, or "sudah"); a "belum" row is not an event', async (t) => {
  const row = (status: string) => ({
    id: 61, balita_id: 14, jenis_imunisasi: 'DPT-HB-Hib 3', tanggal: '2025-02-05T00:00:00.000000Z', status, catatan: null, pegawai_id: 3,
    created_at: '2025-02-05T03:00:00.000000Z', updated_at: '2025-02-05T03:00:00.000000Z', deleted_at: null, balita: balita({ nik: '3578010310240003' }),
  });
  const j = await judgeOne('simpel-posyandu-feri', row('diberikan'), { now });
  t.same(j.errors, []);
  t.same((await judgeOne('simpel-posyandu-feri', row('sudah'), { now })).errors, []);
  t.match(j.record, { kind: 'immunization', recordId: 'imunisasi-balita-61', occurredAt: '2025-02-05', vaccine: 'DPT-HB-Hib 3', subject: { nik: '3578010310240003', sex: 'male', birthDate: '2024-10-03', birthOrder: 2 } });
  const [pending] = await judge('simpel-posyandu-feri', row('belum'), { now });
  t.ok(pending?.errors.length, 'nothing was given');
  t.notOk(pending?.kind, 'no record comes of it');
});

t.test('the balita check-up and the posyandu-day service result are weighings', async (t) => {
  const check = await judgeOne('simpel-posyandu-feri', {
    id: 33, balita_id: 14, tanggal_pemeriksaan: '2025-08-12T00:00:00.000000Z', berat_badan: '9.40', tinggi_badan: '76.50', lingkar_kepala: '45.20', status_gizi: 'normal',
    status_perkembangan: null, keluhan_orang_tua: null, catatan_pegawai: null, pegawai_id: 3, balita: balita({ nik: '3578010310240003' }), status_gizi_label: 'Normal', status_gizi_color: 'green',
  }, { now });
  t.same(check.errors, []);
  t.match(check.record, { kind: 'anthropometry', recordId: 'pemeriksaan-balita-33', occurredAt: '2025-08-12', weightKg: 9.4, heightCm: 76.5, position: 'lying', headCircumferenceCm: 45.2 });
  const service = await judgeOne('simpel-posyandu-feri', serviceResult({ imunisasi: null }), { now });
  t.same(service.errors, []);
  t.match(service.record, { kind: 'anthropometry', recordId: 'hasil-pelayanan-120', occurredAt: '2025-09-09', weightKg: 9.6, heightCm: 77, muacCm: 14.5, headCircumferenceCm: 45.4 });
  t.match(service.record, { subject: { mother: { nik: '3578014506950002', name: 'Rahma Dewi' } } }, 'the registering warga, a woman, is the mother');
  const father = await judgeOne('simpel-posyandu-feri', { id: 121, kegiatan_id: 7, berat_badan: '9.60', balita: balita({ warga: { id: 10, nik: '3578011203900001', jenis_kelamin: 'L' } }), kegiatan: { tanggal: '2025-09-09T00:00:00.000000Z' } }, { now });
  t.same(father.errors, ['subject.needs-identity@subject.mother.nik'], 'a father\'s NIK is not the mother\'s');
});

t.test('an ANC visit with its pregnancy; a teen check-up', async (t) => {
  const anc = await judgeOne('simpel-posyandu-feri', {
    id: 44, kehamilan_id: 5, user_id: 3, tanggal: '2025-07-21T00:00:00.000000Z', minggu_ke: 24, tekanan_darah: '110/70', berat_badan: '61.20', lila: '24.00', tinggi_fundus: '22.00',
    detak_jantung: 142, posisi_janin: 'Normal', keluhan: null, diagnosis: null, pemberian_ttd: true, rujukan: false, catatan: null,
    kehamilan: {
      id: 5, warga_id: 9, nama: 'Rahma Dewi', nik: '3578014506950002', tanggal_lahir: '1995-06-05T00:00:00.000000Z', hpht: '2025-02-03T00:00:00.000000Z', hpl: '2025-11-10T00:00:00.000000Z',
      usia_kehamilan: 24, kehamilan_ke: 3, golongan_darah: 'O', risiko_tinggi: false, status: 'aktif',
    },
  }, { now });
  t.same(anc.errors, []);
  t.match(anc.record, {
    kind: 'anc-visit', recordId: 'anc-44', occurredAt: '2025-07-21', subject: { nik: '3578014506950002', sex: 'female', birthDate: '1995-06-05' },
    pregnancy: { lmp: '2025-02-03', edd: '2025-11-10', gravida: 3 }, gestationalAgeWeeks: 24, systolic: 110, diastolic: 70, weightKg: 61.2, muacCm: 24, fundalHeightCm: 22, fetalHeartRate: 142, fetalPresentation: 'cephalic',
  });
  const teen = await judgeOne('simpel-posyandu-feri', {
    id: 8, remaja_id: 4, user_id: 3, tanggal: '2025-08-02T00:00:00.000000Z', berat_badan: '48.50', tinggi_badan: '155.00', bmi: '20.19', tekanan_darah: '100/70', status_hb: 'Ringan', catatan: null,
    remaja: { id: 4, warga_id: 9, nama: 'Nadia', nik: '3578016403100001', tanggal_lahir: '2010-03-24T00:00:00.000000Z', jenis_kelamin: 'P', sekolah: 'SMP 3', is_verified: true },
  }, { now });
  t.same(teen.errors, []);
  t.match(teen.record, { kind: 'screening', recordId: 'pemeriksaan-remaja-8', weightKg: 48.5, heightCm: 155, systolic: 100, diastolic: 70 });
  t.notOk('hemoglobinGdl' in teen.record, 'a category is not an Hb value');
});

t.test('an elderly visit: float casts, numeric 0 as not measured', async (t) => {
  const row = (over: Record<string, unknown>) => ({
    id: 19, lansia_id: 2, user_id: 3, tanggal: '2025-09-15T00:00:00.000000Z', tekanan_darah: '150/90', gula_darah: 0, kolesterol: 238, berat_badan: 58.5, tinggi_badan: 157, imt: 23.73, lingkar_perut: 0,
    catatan: null, status_imt: 'Normal', lansia: { id: 2, warga_id: 9, nama: 'Mbah Sumi', nik: '3578016203550001', tanggal_lahir: '1955-03-22T00:00:00.000000Z', jenis_kelamin: 'P' }, ...over,
  });
  const j = await judgeOne('simpel-posyandu-feri', row({}), { now });
  t.same(j.errors, []);
  t.match(j.record, { kind: 'screening', systolic: 150, diastolic: 90, cholesterolMgdl: 238, weightKg: 58.5, heightCm: 157 });
  t.notOk('glucoseMgdl' in j.record || 'waistCm' in j.record, '0 from a float cast is not a measurement');
  const slips = await judgeOne('simpel-posyandu-feri', row({ tekanan_darah: '15090', tinggi_badan: 1.57, gula_darah: 7.2 }), { now });
  for (const e of ['adapter.not-blood-pressure@systolic<tekanan_darah', 'value.m-as-cm@heightCm<tinggi_badan', 'value.mmol-as-mg@glucoseMgdl<gula_darah']) t.ok(slips.errors.includes(e), `${e} (${slips.errors.join(', ')})`);
});

t.test('a baby without NIK and the elderly without NIK cannot go yet: said so', async (t) => {
  const check = await judgeOne('simpel-posyandu-feri', { id: 34, balita_id: 14, tanggal_pemeriksaan: '2025-08-12T00:00:00.000000Z', berat_badan: '9.40', tinggi_badan: '76.50', lingkar_kepala: null, balita: balita() }, { now });
  t.same(check.errors, ['subject.needs-identity@subject.mother.nik']);
  const anc = await judgeOne('simpel-posyandu-feri', { id: 45, kehamilan_id: 5, tanggal: '2025-07-21T00:00:00.000000Z', minggu_ke: 24, posisi_janin: 'Miring', kehamilan: { nama: 'X', nik: '3578014506950002', tanggal_lahir: '1995-06-05T00:00:00.000000Z', hpht: null } }, { now });
  t.ok(anc.errors.includes('field.required@pregnancy.lmp<kehamilan.hpht'), anc.errors.join(', '));
  t.ok(anc.errors.includes('adapter.unknown-value@fetalPresentation<posisi_janin'), anc.errors.join(', '));
});

t.test('the service result\'s immunisation list, JSON text of the form\'s checkboxes: one dose each, on the kegiatan\'s date', async (t) => {
  const [weighing, measles] = await judge('simpel-posyandu-feri', serviceResult(), { now });
  t.same(weighing?.errors, []);
  t.equal(weighing?.kind, 'anthropometry', 'the weighing of the same row still goes in');
  t.same(measles?.errors, []);
  t.same(measles?.record, {
    kind: 'immunization', recordId: 'hasil-pelayanan-120-campak', occurredAt: '2025-09-09', posyandu: '3201010001-01', vaccine: 'Campak', status: 'given',
    subject: { nik: '3578010310240003', name: 'Fathan Alvaro', sex: 'male', birthDate: '2024-10-03', birthOrder: 2, mother: { nik: '3578014506950002', name: 'Rahma Dewi' } },
  });
  t.same(measles?.warnings, ['vaccine.dose-from-age@vaccine<imunisasi[0]'], 'no dose in the name: at 11 months measles is MR 1, said so');
  t.same(measles?.provenance.find((p) => p.field === 'recordId')?.source, 'id + imunisasi[0]');

  // a newborn's first visit: two checkboxes
  const newborn = balita({ id: 15, nama: 'Ayu', tanggal_lahir: '2025-09-05T00:00:00.000000Z', jenis_kelamin: 'P', nik: '3578014509250001' });
  const [, hb0, bcg] = await judge('simpel-posyandu-feri', serviceResult({ id: 121, balita_id: 15, imunisasi: '["Hepatitis","BCG"]', balita: newborn }), { now });
  t.match(hb0?.record, { kind: 'immunization', recordId: 'hasil-pelayanan-121-hepatitis', vaccine: 'Hepatitis', occurredAt: '2025-09-09', subject: { nik: '3578014509250001', sex: 'female' } });
  t.same(hb0?.warnings, ['vaccine.dose-from-schedule@vaccine<imunisasi[0]'], 'hepatitis in the first days: HB-0 by the schedule, said so');
  t.match(bcg?.record, { recordId: 'hasil-pelayanan-121-bcg', vaccine: 'BCG' });
  t.same(bcg?.errors, []);
  t.same(bcg?.provenance.find((p) => p.field === 'vaccine')?.source, 'imunisasi[1]', 'the element the app sent');

  const list = await judge('simpel-posyandu-feri', serviceResult({ imunisasi: '["Polio","Lainnya"]' }), { now });
  t.same(list.map((j) => j.errors), [[], ['vaccine.dose-missing@vaccine<imunisasi[0]'], ['vaccine.unknown@vaccine<imunisasi[1]']], 'Polio at 11 months may be several doses; "Lainnya" names no vaccine');
  t.same((await judge('simpel-posyandu-feri', serviceResult({ imunisasi: '[]' }), { now })).map((j) => j.kind), ['anthropometry'], 'no checkbox ticked: no dose');
  t.same((await judge('simpel-posyandu-feri', serviceResult({ imunisasi: null }), { now })).map((j) => j.kind), ['anthropometry'], 'a NULL column (the form sent none): no dose');
});

t.test('a service result whose immunisation text is not a JSON list: refused naming imunisasi, the weighing goes in', async (t) => {
  for (const broken of ['["Campak"', 'Campak, BCG', '{"0":"Campak"}']) {
    const [weighing, dose, ...more] = await judge('simpel-posyandu-feri', serviceResult({ imunisasi: broken }), { now });
    t.same(weighing?.errors, [], `${broken}: the weighing is read`);
    t.equal(dose?.kind, 'immunization');
    t.same(dose?.errors, ['adapter.not-json-list@<imunisasi'], `${broken}: refused, naming the column`);
    t.same(more, []);
  }
});
