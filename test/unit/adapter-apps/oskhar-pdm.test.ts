import t from 'tap';
import { judgeOne, rulesOf } from './judge.js';

// Rows of oskhar/Posyandu-Data-Management (commit 401ce25), api-application: penimbangan, bayi and
// orang_tua as their migrations declare them (database/migrations/2023_12_18_084846_penimbangan.php,
// 2023_11_30_035728_bayi.php, 2023_11_30_035245_orangtua.php); the models (app/Models/
// {PenimbanganModel,BayiModel}.php) have no casts, so dates are 'yyyy-mm-dd', booleans 0/1 and floats
// numbers; asi_eksklusif is Ya/Tidak/Alpa (app/Http/Requests/FormatBARequest.php); the app runs in UTC
// (config/app.php). The API answers a baby's birth date as "03 Mei 2024" (FormatBAController::get).
// Values invented.

const bayi = (over: Record<string, unknown> = {}) => ({
  id: 31, id_orang_tua: 17, nama: 'Nayla Zahra', jenis_kelamin: 'P', nik: null, anak_ke: 1, berat_lahir: 3.1, tinggi_lahir: 49, tanggal_lahir: '2024-05-03',
  tanggal_meninggal: null, imd: 1, lulus_asi_eksklusif: null, pelayanan: null, hasil_penimbangan: null, memiliki_kms: 1, memiliki_kia: 1,
  created_at: '2024-05-10T02:00:00.000000Z', updated_at: '2024-05-10T02:00:00.000000Z',
  orang_tua: { id: 17, nama_ayah: 'Rudi', nama_ibu: 'Sri Wahyuni', nik_ayah: null, nik_ibu: '3275014403960002', no_telp: null, rt_rw: '002/005', tempat_tinggal: 'Bekasi', tanggal_meninggal_ibu: null },
  ...over,
});
const penimbangan = (over: Record<string, unknown> = {}) => ({
  id: 501, id_bayi: 31, id_standar_deviasi: 412, tahun_penimbangan: 2024, bulan_penimbangan: 12, berat_badan: 8.4, tinggi_badan: 70.5, lila: 0, lingkar_kepala: 43.5,
  cara_ukur: 'Telentang', ntob: 'N1 (Naik Sesuai Garis Pertumbuhan)', asi_eksklusif: 'Ya', vit_a: 0, double_t: 0,
  created_at: '2024-12-14T03:00:00.000000Z', updated_at: '2024-12-14T03:00:00.000000Z', bayi: bayi(), ...over,
});
const now = new Date('2025-01-10T00:00:00Z');

t.test('a monthly weighing: the 15th of its month, LiLA 0 as not measured, the mother\'s NIK for a baby without one', async (t) => {
  const j = await judgeOne('oskhar-pdm', penimbangan(), { now });
  t.same(j.errors, []);
  t.match(j.record, {
    kind: 'anthropometry', recordId: 'penimbangan-501', occurredAt: '2024-12-15',
    subject: { name: 'Nayla Zahra', sex: 'female', birthDate: '2024-05-03', birthOrder: 1, mother: { nik: '3275014403960002', name: 'Sri Wahyuni' } },
    weightKg: 8.4, heightCm: 70.5, position: 'lying', headCircumferenceCm: 43.5,
  });
  t.notOk('muacCm' in j.record);
  t.same(rulesOf(j, 'occurredAt'), ['month-only-date-15th']);
});

t.test('the API\'s birth date with an Indonesian month name; parents beside the baby', async (t) => {
  const { orang_tua: parents, ...baby } = bayi({ tanggal_lahir: '03 Mei 2024' });
  const j = await judgeOne('oskhar-pdm', { ...penimbangan({ bayi: baby }), orang_tua: parents }, { now });
  t.same(j.errors, []);
  t.match(j.record, { subject: { birthDate: '2024-05-03', mother: { nik: '3275014403960002' } } });
  t.same(rulesOf(j, 'subject.birthDate'), ['month-name']);
});

t.test('refused, naming the field and the column', async (t) => {
  const standing = await judgeOne('oskhar-pdm', penimbangan({ cara_ukur: 'Tidur' }), { now });
  t.ok(standing.errors.includes('adapter.unknown-value@position<cara_ukur'), standing.errors.join(', '));
  const month = await judgeOne('oskhar-pdm', penimbangan({ bulan_penimbangan: 13 }), { now });
  t.ok(month.errors.includes('adapter.not-a-month@occurredAt<tahun_penimbangan | bulan_penimbangan'), month.errors.join(', '));
  const orphan = await judgeOne('oskhar-pdm', penimbangan({ bayi: bayi({ orang_tua: { ...bayi().orang_tua, nik_ibu: null } }) }), { now });
  t.same(orphan.errors, ['subject.needs-identity@subject.mother.nik'], 'no NIK for the baby nor its mother');
  const none = await judgeOne('oskhar-pdm', penimbangan({ berat_badan: 0, tinggi_badan: 0, lingkar_kepala: 0, asi_eksklusif: 'Alpa', ntob: 'Kosong' }), { now });
  t.ok(none.errors.some((e) => e.startsWith('measurement.none')), `an absent child's month has no measurement (${none.errors.join(', ')})`);
});
