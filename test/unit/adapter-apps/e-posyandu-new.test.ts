import t from 'tap';
import { judgeOne } from './judge.js';

// Documents of johandiarifiansyach/E-POSYANDU-NEW (commit 9db860d) as backend/src/api/mod.rs answers
// them (Resource::Measurements and Resource::Children: the old Firestore keys, a date or else the raw
// text, numbers or null); a temporary NIK for a child without documents (hasNIK false,
// normalize_child_identity); option words from frontend/src/features/measurements/MeasurementModal.ts
// (edema) and frontend/src/features/children/childRules.ts. Values invented.

const child = (over: Record<string, unknown> = {}) => ({
  id: 'c9Xq2LmT7rBv4NwZ0kPa',
  data: {
    nama: 'Alya Putri', nik: '3509041409247316', anakKe: 2, tglLahir: '2024-09-14', jk: 'P', noKK: '3509048821630457', hasKK: false, hasNIK: false, namaOrtu: 'Yuyun', nikOrtu: '3509046203960003',
    desa: 'Desa Gumukmas', posyandu: 'SALAK 7', createdAt: '2024-10-05T02:14:51.204Z', version: 6, deletedAt: null, ...over,
  },
});
const measurement = (over: Record<string, unknown> = {}, c = child()) => ({
  id: 'm4TzQ81hKc0VwR2pLx7n',
  data: {
    childId: c.id, childName: 'Alya Putri', desa: 'Desa Gumukmas', posyandu: 'SALAK 7', tglUkur: '2025-08-12', bb: 9.1, tb: 74.2, lk: 44.6, lila: 14, edema: 'Tidak', kelasIbu: 'Ya',
    mbg: 'Tidak', vitA: 'Tidak', asi: 'Tidak', caraUkur: 'Terlentang', statusNaik: 'N', ageInMonths: 10, createdAt: '2025-08-12T02:31:17.550Z', updatedAt: '2025-08-12T02:31:17.550Z', version: 1, ...over,
  },
  child: c,
});
const now = new Date('2025-11-06T00:00:00Z');

t.test('a measurement with its child: the temporary NIK is not sent, the parent\'s NIK is', async (t) => {
  const j = await judgeOne('e-posyandu-new', measurement(), { now });
  t.same(j.errors, []);
  t.match(j.record, {
    kind: 'anthropometry', recordId: 'measurement-m4TzQ81hKc0VwR2pLx7n', occurredAt: '2025-08-12', subject: { name: 'Alya Putri', sex: 'female', birthDate: '2024-09-14', birthOrder: 2, mother: { nik: '3509046203960003' } },
    weightKg: 9.1, heightCm: 74.2, position: 'lying', headCircumferenceCm: 44.6, muacCm: 14, oedema: false,
  });
  t.notOk((j.record.subject as Record<string, unknown>).nik, 'hasNIK false: a made-up number');
  t.notOk('vitaminA' in j.record || 'exclusiveBreastfeeding' in j.record, '"Tidak" is the default, not an answer');
  const own = await judgeOne('e-posyandu-new', measurement({}, child({ hasNIK: true, nik: '3509045409240003' })), { now });
  t.match(own.record, { subject: { nik: '3509045409240003' } });
});

t.test('refused, naming the field: the raw date text the app kept, grams typed as kilograms', async (t) => {
  const raw = await judgeOne('e-posyandu-new', measurement({ tglUkur: '12/13/2025' }), { now });
  t.ok(raw.errors.includes('adapter.not-a-date@occurredAt<data.tglUkur'), raw.errors.join(', '));
  const grams = await judgeOne('e-posyandu-new', measurement({ bb: 9100 }), { now });
  t.ok(grams.errors.includes('value.grams-as-kg@weightKg<data.bb'), grams.errors.join(', '));
  const oedema = await judgeOne('e-posyandu-new', measurement({ edema: 'Ada (Derajat +2)' }), { now });
  t.match(oedema.record, { oedema: true });
});
