import t from 'tap';
import { judge, judgeOne } from './judge.js';

// Rows of sidumita-posyandu/apisidumita (commit 5d4f9d1): tb_pemeriksaan_balita, tb_balita and
// tb_detail_keluarga as database/migrations/2022_12_16_*_create_tb_{pemeriksaan_balita,balita,
// detail_keluarga}_table.php declare them, with the casts of app/{PemeriksaanBalita,Balita}.php (double
// measurements) and the relation the API loads (app/Http/Controllers/API/V1/PemeriksaanBalitaController.php:
// with('balita'), show() with 'vaksin'; tb_vaksin of 2022_12_16_*_create_tb_vaksin_table.php); the person's family via app/Keluarga.php detail_keluargas; option words (Laki-Laki/
// Perempuan, status_dalam_keluarga Anak/Ayah/Ibu) from sidumita-posyandu/sidumita
// resources/views/detail-keluarga/create.blade.php. Values invented.

const member = (over: Record<string, unknown>) => ({
  id: 1, nama_lengkap: 'X', nik: '5103010101900001', jenis_kelamin: 'Laki-Laki', tempat_lahir: 'Badung', tanggal_lahir: '1990-01-01', agama: 'Hindu', pendidikan: '-', no_telp: '0812',
  golongan_darah: 'O', jenis_pekerjaan: '-', status_perkawinan: 'Kawin', status_dalam_keluarga: 'Ayah', kewarganegaraan: 'WNI', keluarga_id: 7, ...over,
});
const row = (over: Record<string, unknown> = {}, child: Record<string, unknown> = {}) => ({
  id: 310, tanggal_pemeriksaan: '2023-05-10', lingkar_kepala: 44.5, lingkar_lengan: 14.1, tinggi_badan: 73.2, berat_badan: 8.9, penanganan: '-', keluhan: '-', catatan: '-',
  balita_id: 12, petugas_kesehatan_id: 2, dokter_id: 1, vitamin_id: null, umur_balita: 11, created_at: '2023-05-10T03:00:00.000000Z', updated_at: '2023-05-10T03:00:00.000000Z', deleted_at: null,
  balita: {
    id: 12, detail_keluarga_id: 33,
    detail_keluarga: {
      ...member({ id: 33, nama_lengkap: 'Putu Ayu Lestari', nik: null, jenis_kelamin: 'Perempuan', tanggal_lahir: '2022-06-02', status_perkawinan: 'Belum Kawin', status_dalam_keluarga: 'Anak' }),
      keluarga: { id: 7, no_kartu_keluarga: '5103011207190004', detail_keluargas: [member({ id: 31 }), member({ id: 32, nama_lengkap: 'Ni Kadek Sri', nik: '5103015503950002', jenis_kelamin: 'Perempuan', status_dalam_keluarga: 'Ibu' })] },
      ...child,
    },
  },
  ...over,
});
const now = new Date('2023-06-01T00:00:00Z');

t.test('a child check-up: the person from detail_keluarga, the mother from the family\'s "Ibu"', async (t) => {
  const j = await judgeOne('sidumita', row(), { now });
  t.same(j.errors, []);
  t.match(j.record, {
    kind: 'anthropometry', recordId: 'pemeriksaan-balita-310', occurredAt: '2023-05-10', subject: { name: 'Putu Ayu Lestari', sex: 'female', birthDate: '2022-06-02', mother: { nik: '5103015503950002', name: 'Ni Kadek Sri' } },
    weightKg: 8.9, heightCm: 73.2, position: 'lying', headCircumferenceCm: 44.5, muacCm: 14.1,
  });
});

t.test('the vaccines of a check-up: one immunisation each', async (t) => {
  const vaksin = [
    { id: 3, nama_vaksin: 'Campak', dosis: '0,5 ml subkutan', catatan: '-', status: 'aktif', pivot: { pemeriksaan_balita_id: 310, vaksin_id: 3 } },
    { id: 5, nama_vaksin: 'Polio 4', dosis: '2 tetes', catatan: '-', status: 'aktif', pivot: { pemeriksaan_balita_id: 310, vaksin_id: 5 } },
  ];
  const [weighing, measles, polio, ...rest] = await judge('sidumita', row({ vaksin }), { now });
  t.equal(rest.length, 0);
  t.equal(weighing?.kind, 'anthropometry');
  t.match(measles?.record, { kind: 'immunization', recordId: 'pemeriksaan-balita-310-vaksin-3', vaccine: 'Campak', subject: { mother: { nik: '5103015503950002' } } });
  t.same(measles?.errors, [], 'measles at 11 months is MR 1');
  t.same(measles?.warnings, ['vaccine.dose-from-age@vaccine<vaksin[0].nama_vaksin']);
  t.match(polio?.record, { recordId: 'pemeriksaan-balita-310-vaksin-5', vaccine: 'Polio 4' });
});

t.test('refused, naming the field', async (t) => {
  const [noPerson] = await judge('sidumita', row({ balita: { id: 12, detail_keluarga_id: 33 } }), { now });
  t.ok(noPerson?.errors.includes('field.required@subject.name<balita.detail_keluarga.nama_lengkap'), String(noPerson?.errors));
  const fatherOnly = await judgeOne('sidumita', row({}, { keluarga: { id: 7, detail_keluargas: [member({ id: 31 })] } }), { now });
  t.same(fatherOnly.errors, ['subject.needs-identity@subject.mother.nik'], 'the father is not the mother');
});
