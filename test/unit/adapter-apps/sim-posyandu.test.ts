import t from 'tap';
import { judge, judgeOne, rulesOf } from './judge.js';

// Rows of Suprapto-23/sim-posyandu (commit 7dfb855) as its models serialise them: the person is the
// visit's polymorphic patient, eager-loaded as kunjungan.pasien (app/Http/Controllers/Kader/
// PemeriksaanController.php and Bidan/ImunisasiController.php load 'kunjungan.pasien'); the app's
// time zone is UTC (config/app.php), so a `date` cast serialises as midnight UTC; app/Models/
// Pemeriksaan.php casts weights, lengths, glucose and uric acid to float; other decimal columns
// (hemoglobin, berat_lahir) come as MySQL strings; imunisasi options from resources/views/bidan/imunisasi/create.blade.php. Columns as in database/posyandu.sql. Values invented.

const balita = (over: Record<string, unknown> = {}) => ({
  id: 5011, user_id: null, kode_balita: 'BLT-26040001', nik: '3326034511230002', nama_lengkap: 'Anindya Kirana', tempat_lahir: 'Pekalongan',
  tanggal_lahir: '2023-11-05T00:00:00.000000Z', jenis_kelamin: 'P', nama_ibu: 'Wulan Sari', nik_ibu: '3326035203950004', nama_ayah: null, nik_ayah: null,
  alamat: 'Ds. Contoh RT 01', berat_lahir: '3.10', panjang_lahir: '49.00', created_by: 2, created_at: '2025-06-02T03:00:00.000000Z', updated_at: '2025-06-02T03:00:00.000000Z',
  ...over,
});
const kunjungan = (pasien: unknown, type = 'App\\Models\\Balita') => ({
  id: 9001, kode_kunjungan: 'KNJ-20250814001', pasien_id: 5011, pasien_type: type, tanggal_kunjungan: '2025-08-14T00:00:00.000000Z',
  jenis_kunjungan: 'pemeriksaan', pertemuan_ke: 1, keluhan: null, petugas_id: 2, created_at: '2025-08-14T02:10:00.000000Z', updated_at: '2025-08-14T02:10:00.000000Z', pasien,
});
// pemeriksaans row (database/posyandu.sql) with the model's $casts and $appends.
const pemeriksaan = (over: Record<string, unknown>) => ({
  id: 7001, kunjungan_id: 9001, pemeriksa_id: 4, berat_badan: 10.7, tinggi_badan: 80.2, imt: null, kemandirian: null, lingkar_kepala: 46.5, lingkar_lengan: 14.9,
  suhu_tubuh: 36.6, tekanan_darah: null, hemoglobin: null, gula_darah: null, kolesterol: null, asam_urat: null, keluhan: null, tindakan: null,
  created_at: '2025-08-14T02:10:00.000000Z', updated_at: '2025-08-14T02:30:00.000000Z', user_id: null, pasien_id: 5011, kategori_pasien: 'balita',
  tanggal_periksa: '2025-08-14T00:00:00.000000Z', status_gizi: 'baik', diagnosa: null, status_verifikasi: 'verified', catatan_bidan: null, verified_by: 4, verified_at: '2025-08-14T02:30:00.000000Z',
  nama_pasien: 'Anindya Kirana', nik_pasien: '3326034511230002', status_verifikasi_text: 'Tervalidasi Bidan', status_verifikasi_badge: 'emerald',
  kunjungan: kunjungan(balita()),
  ...over,
});

t.test('a balita check-up with its patient under kunjungan.pasien, dates as midnight UTC, floats as numbers', async (t) => {
  const j = await judgeOne('sim-posyandu', pemeriksaan({}));
  t.same(j.errors, []);
  t.match(j.record, {
    kind: 'anthropometry', recordId: 'pemeriksaan-7001', occurredAt: '2025-08-14',
    subject: { nik: '3326034511230002', name: 'Anindya Kirana', sex: 'female', birthDate: '2023-11-05', mother: { nik: '3326035203950004', name: 'Wulan Sari' } },
    weightKg: 10.7, heightCm: 80.2, position: 'lying', headCircumferenceCm: 46.5, muacCm: 14.9,
  });
  t.same(rulesOf(j, 'occurredAt'), ['date-from-midnight-timestamp']);
  t.equal(j.provenance.find((p) => p.field === 'subject.nik')?.source, 'kunjungan.pasien.nik', 'the place the patient was found');
});

t.test('a baby without NIK goes by its mother\'s NIK from the same patient row', async (t) => {
  const j = await judgeOne('sim-posyandu', pemeriksaan({ kunjungan: kunjungan(balita({ nik: null })), nik_pasien: '-' }));
  t.same(j.errors, []);
  t.notOk((j.record.subject as Record<string, unknown>).nik);
  t.match(j.record, { subject: { mother: { nik: '3326035203950004' } } });
});

t.test('a remaja and a lansia check-up are screenings', async (t) => {
  const remaja = {
    id: 9102, kode_remaja: 'RMJ-26020001', nik: '3326036507090003', nama_lengkap: 'Citra Ayu', tempat_lahir: 'Batang', tanggal_lahir: '2009-07-25T00:00:00.000000Z',
    jenis_kelamin: 'P', sekolah: 'SMP N 2', kelas: '9B', nama_ortu: 'Sarjono', telepon_ortu: null, alamat: 'Ds. Contoh', created_by: 2,
  };
  const r = await judgeOne('sim-posyandu', pemeriksaan({
    id: 7002, kategori_pasien: 'remaja', berat_badan: 47.5, tinggi_badan: 156, lingkar_kepala: null, lingkar_lengan: 22.5, lingkar_perut: 64, tekanan_darah: '110/70', hemoglobin: '11.50',
    kunjungan: kunjungan(remaja, 'App\\Models\\Remaja'),
  }));
  t.same(r.errors, []);
  t.match(r.record, { kind: 'screening', recordId: 'pemeriksaan-7002', subject: { sex: 'female', birthDate: '2009-07-25' }, weightKg: 47.5, heightCm: 156, waistCm: 64, systolic: 110, diastolic: 70, hemoglobinGdl: 11.5 });
  const lansia = {
    id: 9103, kode_lansia: 'LNS-26040001', nik: '3326031208580001', nama_lengkap: 'Darmo Sutrisno', tempat_lahir: 'Pekalongan', tanggal_lahir: '1958-08-12T00:00:00.000000Z',
    jenis_kelamin: 'L', alamat: 'Ds. Contoh', penyakit_bawaan: null, berat_badan: 61.5, tinggi_badan: 163, imt: 23.15, kemandirian: 'A',
  };
  const l = await judgeOne('sim-posyandu', pemeriksaan({
    id: 7003, kategori_pasien: 'lansia', berat_badan: 62, tinggi_badan: 163, lingkar_kepala: null, lingkar_lengan: null, lingkar_perut: 91.5,
    tekanan_darah: '150/95', gula_darah: 182, kolesterol: 231, asam_urat: 7.4, kemandirian: 'A', kunjungan: kunjungan(lansia, 'App\\Models\\Lansia'),
  }));
  t.same(l.errors, []);
  t.match(l.record, { kind: 'screening', subject: { nik: '3326031208580001', sex: 'male', birthDate: '1958-08-12' }, systolic: 150, diastolic: 95, glucoseMgdl: 182, glucoseTest: 'random', cholesterolMgdl: 231, uricAcidMgdl: 7.4, waistCm: 91.5 });
  t.notOk('headCircumferenceCm' in l.record, 'a balita rule does not read an elderly row');
});

t.test('imunisasi: programme option plus the free-text dose; a volume names no dose', async (t) => {
  const row = (jenis: string, dosis: string) => ({
    id: 3301, kunjungan_id: 9001, jenis_imunisasi: jenis, vaksin: 'Pentabio', dosis, tanggal_imunisasi: '2025-08-14T00:00:00.000000Z', batch_number: '3012425',
    expiry_date: '2026-10-31T00:00:00.000000Z', penyelenggara: 'Posyandu', created_at: '2025-08-14T02:10:00.000000Z', updated_at: '2025-08-14T02:10:00.000000Z',
    kunjungan: kunjungan(balita({ tanggal_lahir: '2025-02-10T00:00:00.000000Z', nik: null })),
  });
  const given = await judgeOne('sim-posyandu', row('DPT-HB-Hib', 'Dosis 2'));
  t.same(given.errors, []);
  t.match(given.record, { kind: 'immunization', recordId: 'imunisasi-3301', occurredAt: '2025-08-14', vaccine: 'DPT-HB-Hib Dosis 2', lotNumber: '3012425', expirationDate: '2026-10-31', subject: { mother: { nik: '3326035203950004' } } });
  const other = await judgeOne('sim-posyandu', { ...row('Lainnya', '1'), vaksin: 'JE' });
  t.match(other.record, { vaccine: 'JE 1' }, 'the form\'s "Lainnya": the vaccine is in the free-text column');
  const volume = await judgeOne('sim-posyandu', row('Hepatitis B', '0,5 ml'));
  t.notMatch(volume.record, { vaccine: { dose: 0 } });
  t.same(volume.errors, []);
  t.ok(volume.warnings.includes('vaccine.dose-from-schedule@vaccine<jenis_imunisasi + dosis'), `"0,5 ml" is a volume: no dose 0, the schedule's next dose with a warning (${volume.warnings.join(', ')})`);
});

t.test('a NIK that disagrees with the row\'s own birth date is a warning, the row\'s date is kept', async (t) => {
  const j = await judgeOne('sim-posyandu', pemeriksaan({ kunjungan: kunjungan(balita({ tanggal_lahir: '2023-12-05T00:00:00.000000Z' })) }));
  t.same(j.errors, []);
  t.match(j.record, { subject: { birthDate: '2023-12-05' } });
  t.ok(j.warnings.some((w) => w.startsWith('nik.disagrees-') && w.includes('@subject.nik')), j.warnings.join(', '));
});

t.test('rows that must be refused name the field and the column', async (t) => {
  // Kader rows of the dump have no visit (kunjungan_id NULL): the patient is missing, and said so.
  const orphan = await judgeOne('sim-posyandu', pemeriksaan({ kunjungan_id: null, kunjungan: null }));
  t.ok(orphan.errors.includes('field.required@subject.name<kunjungan.pasien.nama_lengkap | balita.nama_lengkap'), orphan.errors.join(', '));
  t.ok(orphan.errors.includes('field.required@subject.birthDate<kunjungan.pasien.tanggal_lahir | balita.tanggal_lahir'));
  // The dump's test row: 20 kg and 20 cm for a child.
  const garbage = await judgeOne('sim-posyandu', pemeriksaan({ berat_badan: 20, tinggi_badan: 20 }));
  t.ok(garbage.errors.some((e) => e.endsWith('@heightCm<tinggi_badan')), garbage.errors.join(', '));
  // The dump's imunisasi row: a category in jenis_imunisasi, a volume in dosis.
  const [dump] = await judge('sim-posyandu', {
    id: 3302, kunjungan_id: 9001, jenis_imunisasi: 'Dasar', vaksin: 'Polio', dosis: '0,5', tanggal_imunisasi: '2025-08-14T00:00:00.000000Z', batch_number: null, expiry_date: null,
    penyelenggara: null, kunjungan: kunjungan(balita()),
  });
  t.ok(dump?.errors.includes('vaccine.unknown@vaccine<jenis_imunisasi + dosis'), String(dump?.errors));
  const bp = await judgeOne('sim-posyandu', pemeriksaan({ kategori_pasien: 'lansia', tekanan_darah: '14090', kunjungan: kunjungan(balita({ tanggal_lahir: '1950-01-01T00:00:00.000000Z' }), 'App\\Models\\Lansia') }));
  t.ok(bp.errors.includes('adapter.not-blood-pressure@systolic<tekanan_darah'), bp.errors.join(', '));
});
