import t from 'tap';
import { judge, judgeOne } from './judge.js';

// Rows of muhdharis28/eposyandu as its Express/Sequelize routes answer them. The server was removed
// from the repository at its last commit (bdb2e9a); shapes are from commit 4774133: server/models/
// {pemeriksaan_lansia,perkembangan_balita,balita,lansia}.js (DATEONLY as 'yyyy-mm-dd', FLOAT as a
// number, INTEGER centimetres, BIGINT NIKs as JSON numbers, ENUM 'l'/'p'), server/routes/
// {pemeriksaan_lansia,perkembangan_balita}.js (findAll with include lansiaDetail / balitaDetail,
// posyanduDetail, kaderDetail, dokterDetail); option lists from client/src/components/kader/
// perkembangan_balita/PerkembanganBalitaKaderForm.jsx (tipe_imunisasi, tipe_vitamin). Values invented.

const posyanduDetail = { id: 3, nama_posyandu: 'Posyandu Mawar', alamat: 'Kel. Contoh', createdAt: '2024-08-01T02:00:00.000Z', updatedAt: '2024-08-01T02:00:00.000Z' };
const balitaDetail = (over: Record<string, unknown> = {}) => ({
  id: 41, nama_balita: 'Rafka Alfarizi', orangtua: 12, kader: 5, posyandu: 3, nik_balita: 1371041503240002, jenis_kelamin_balita: 'l', tempat_lahir_balita: 'Padang',
  tanggal_lahir_balita: '2024-03-15', berat_badan_awal_balita: 3.1, tinggi_badan_awal_balita: 49, riwayat_penyakit_balita: '', riwayat_kelahiran_balita: 'Normal', keterangan_balita: '',
  createdAt: '2024-03-20T03:00:00.000Z', updatedAt: '2024-03-20T03:00:00.000Z', ...over,
});
const perkembangan = (over: Record<string, unknown> = {}) => ({
  id: 230, balita: 41, tanggal_kunjungan: '2024-09-10', berat_badan: 7.9, tinggi_badan: 68, status_gizi: 'baik', keterangan: '', tipe_imunisasi: 'Campak', tipe_vitamin: 'A',
  lingkar_kepala: 43, kader: 5, dokter: 2, posyandu: 3, createdAt: '2024-09-10T02:15:00.000Z', updatedAt: '2024-09-10T02:15:00.000Z',
  balitaDetail: balitaDetail(), posyanduDetail, kaderDetail: { id: 5, nama: 'Kader Satu', role: 'kader' }, dokterDetail: { id: 2, nama: 'dr. Contoh' }, ...over,
});
const now = new Date('2024-12-01T00:00:00Z');

t.test('the monthly development visit is a weighing and the dose given that day', async (t) => {
  const [weighing, dose, ...rest] = await judge('eposyandu-mhd', perkembangan(), { now });
  t.equal(rest.length, 0);
  t.same(weighing?.errors, []);
  t.match(weighing?.record, {
    kind: 'anthropometry', recordId: 'perkembangan-balita-230', occurredAt: '2024-09-10',
    subject: { nik: '1371041503240002', name: 'Rafka Alfarizi', sex: 'male', birthDate: '2024-03-15' }, weightKg: 7.9, heightCm: 68, position: 'lying', headCircumferenceCm: 43,
  });
  t.notOk('vitaminA' in (weighing?.record ?? {}), 'vitamin "A" names no capsule colour: not sent');
  t.match(dose?.record, { kind: 'immunization', recordId: 'perkembangan-balita-230-imunisasi', occurredAt: '2024-09-10', vaccine: 'Campak' });
  t.same(dose?.errors, [], 'the app\'s only measles option, given at 5 months here');
  t.same(dose?.warnings, ['vaccine.dose-from-age@vaccine<tipe_imunisasi'], 'no dose number: too young for a second dose, so MR 1, with a warning');
  const older = (await judge('eposyandu-mhd', perkembangan({ tanggal_kunjungan: '2025-11-20' }), { now: new Date('2025-12-01T00:00:00Z') }))[1];
  t.same(older?.errors, ['vaccine.dose-missing@vaccine<tipe_imunisasi'], 'at 20 months "Campak" may be either dose: the app has to say');
});

t.test('BCGE, the app\'s stored spelling of BCG', async (t) => {
  const [, dose] = await judge('eposyandu-mhd', perkembangan({ tipe_imunisasi: 'BCGE', tanggal_kunjungan: '2024-04-02', berat_badan: 4.1, tinggi_badan: 53, lingkar_kepala: 36 }), { now });
  t.same(dose?.errors, []);
  t.match(dose?.record, { vaccine: 'BCGE' });
});

t.test('a visit without a dose (the form\'s empty option) yields the weighing alone', async (t) => {
  const out = await judge('eposyandu-mhd', perkembangan({ tipe_imunisasi: '' }), { now });
  t.same(out.map((j) => j.kind), ['anthropometry']);
});

t.test('an elderly visit: strings for lab values, integer centimetres, NIK as a number', async (t) => {
  const j = await judgeOne('eposyandu-mhd', {
    id: 88, lansia: 17, tanggal_kunjungan: '2024-10-05', berat_badan: 63.5, tinggi_badan: 160, lingkar_perut: 92, tekanan_darah: '150/90', gula_darah: '182', kolestrol: '231',
    asam_urat: '7.1', kesehatan_mata: '8/10', keterangan: '', riwayat_obat: '', riwayat_penyakit: 'Hipertensi', kader: 5, dokter: 2, posyandu: 3,
    createdAt: '2024-10-05T02:00:00.000Z', updatedAt: '2024-10-05T02:00:00.000Z',
    lansiaDetail: { id: 17, no_kk_lansia: 1371040101080003, nik_lansia: 1371042106580001, nama_lansia: 'Syafrudin', tempat_lahir_lansia: 'Padang', tanggal_lahir_lansia: '1958-06-21', jenis_kelamin_lansia: 'l' },
    posyanduDetail,
  }, { now });
  t.same(j.errors, []);
  t.match(j.record, { kind: 'screening', recordId: 'pemeriksaan-lansia-88', subject: { nik: '1371042106580001', sex: 'male', birthDate: '1958-06-21' }, systolic: 150, diastolic: 90, glucoseMgdl: 182, glucoseTest: 'random', cholesterolMgdl: 231, uricAcidMgdl: 7.1, waistCm: 92, heightCm: 160 });
});

t.test('refused: a Papua NIK that lost its digits as a JSON number; a vaccine word the app does not offer', async (t) => {
  const [weighing] = await judge('eposyandu-mhd', perkembangan({ balitaDetail: balitaDetail({ nik_balita: 9471014503240000 }) }), { now });
  t.ok(weighing?.errors.includes('adapter.nik-lost-digits@subject.nik<balitaDetail.nik_balita'), String(weighing?.errors));
  const [, dose] = await judge('eposyandu-mhd', perkembangan({ tipe_imunisasi: 'Vitamin A' }), { now });
  t.ok(dose?.errors.some((e) => e.startsWith('vaccine.')), `a vitamin in the immunisation column is not a vaccine (${String(dose?.errors)})`);
  const heavy = (await judge('eposyandu-mhd', perkembangan({ berat_badan: 7900 }), { now }))[0];
  t.ok(heavy?.errors.includes('value.grams-as-kg@weightKg<berat_badan'), String(heavy?.errors));
});
