import t from 'tap';
import { judge, judgeOne, rulesOf } from './judge.js';

// Rows of TPLM-Posyandu-Banjarsari-Garut/Posyandu_Web_Server (commit b4e6eb1): columns of
// src/db/schemas/{childrens,nutrition-records,immunization-records,vaccines}-schema.ts (decimal as
// strings, date mode 'date' serialised as midnight UTC, text UUID ids), enums of src/constants/enum.ts
// (gender male/female, immunization_status not_yet/scheduled/completed/missed); the API answers a
// table's own columns (src/repositories/*-repository.ts, getTableColumns), so the child and the vaccine
// rows are added beside the record, and the parents (src/db/schemas/{parents,relation-childrens}-schema.ts,
// relation father/mother/guardian) as `parents`. Vaccine name as in src/validations/vaccines-validation.ts. Values invented.

const children = {
  id: '5d1c0e2a-6b7f-4c3d-9e8a-1f2b3c4d5e6f', posyandu_id: 'p-01', name: 'Raka Pratama', identity_number: '3205121407230003', gender: 'male', child_category: 'baduta',
  place_of_birth: 'Garut', birth_date: '2023-07-14T00:00:00.000Z', birth_order: 2, blood_type: null, birth_weight: '3.10', birth_length: '49.00', birth_head_circumference: null,
  created_at: '2023-08-01T02:00:00.000Z', updated_at: '2023-08-01T02:00:00.000Z', deleted_at: null, is_deleted: false,
};
const now = new Date('2025-11-06T00:00:00Z');

t.test('a nutrition record: decimals as strings, a date column as midnight UTC', async (t) => {
  const j = await judgeOne('tplm-banjarsari', {
    id: 'b7e1', children_id: children.id, measurement_date: '2025-08-14T00:00:00.000Z', weight_kg: '10.85', height_cm: '81.20', head_circumference_cm: '46.50', age_months: 25,
    nutrition_status: 'normal', cadre_id: 'c-1', midwife_id: null, notes: null, created_at: '2025-08-14T03:00:00.000Z', updated_at: '2025-08-14T03:00:00.000Z', children,
    parents: [
      { id: 'pa-1', user_id: 'u-1', identity_number: '3205120101900007', date_of_birth: '1990-01-01T00:00:00.000Z', relation: 'father' },
      { id: 'pa-2', user_id: 'u-2', identity_number: '3205124503930004', date_of_birth: '1993-03-05T00:00:00.000Z', relation: 'mother' },
    ],
  }, { now });
  t.same(j.errors, []);
  t.match(j.record, {
    kind: 'anthropometry', recordId: 'nutrition-b7e1', occurredAt: '2025-08-14', subject: { nik: '3205121407230003', name: 'Raka Pratama', sex: 'male', birthDate: '2023-07-14', birthOrder: 2 },
    weightKg: 10.85, heightCm: 81.2, position: 'standing', headCircumferenceCm: 46.5,
  });
  t.equal((j.record.subject as { mother?: { nik?: string } }).mother?.nik, '3205124503930004', 'the mother among the parents, not the first of them');
  t.same(rulesOf(j, 'subject.birthDate'), ['date-from-midnight-timestamp']);
});

t.test('a completed immunisation: the vaccine\'s name and the dose number', async (t) => {
  const row = (status: string, over: Record<string, unknown> = {}) => ({
    id: 'i-9', children_id: children.id, vaccine_id: 'v-3', cadre_id: null, midwife_id: 'm-1', posyandu_id: 'p-01', inventory_id: null, dose_number: 3, date_given: '2023-11-20T00:00:00.000Z',
    batch_number: 'PB2301', status, kipi_status: false, schedule_compliance: 'on_time', status_dofu: false, sync_status: 'pending', external_ref_id: null, location_type: 'posyandu', notes: null,
    children, vaccine: { id: 'v-3', code: 'PENTA', name: 'DPT-HB-Hib', description: null, target_age_months: 4, max_doses: 4, min_interval_days: 28, route: 'intramuscular' }, ...over,
  });
  const j = await judgeOne('tplm-banjarsari', row('completed'), { now });
  t.same(j.errors, []);
  t.match(j.record, { kind: 'immunization', recordId: 'immunization-i-9', occurredAt: '2023-11-20', vaccine: 'DPT-HB-Hib 3', lotNumber: 'PB2301' });
  for (const status of ['scheduled', 'not_yet', 'missed']) {
    const [none] = await judge('tplm-banjarsari', row(status, { date_given: null }), { now });
    t.notOk(none?.kind, `a ${status} dose is no event`);
  }
  const bcg = await judgeOne('tplm-banjarsari', row('completed', { dose_number: 1, vaccine: { id: 'v-1', code: 'BCG', name: 'BCG (Bacillus Calmette-Guérin)' }, date_given: '2023-07-20T00:00:00.000Z' }), { now });
  t.same(bcg.errors, []);
});

t.test('refused, naming the field', async (t) => {
  const noDate = await judgeOne('tplm-banjarsari', {
    id: 'i-10', children_id: children.id, vaccine_id: 'v-3', dose_number: 2, date_given: null, status: 'completed', children, vaccine: { name: 'DPT-HB-Hib' },
  }, { now });
  t.ok(noDate.errors.includes('field.required@occurredAt<date_given'), noDate.errors.join(', '));
  const badNik = await judgeOne('tplm-banjarsari', { id: 'b8', measurement_date: '2025-08-14T00:00:00.000Z', weight_kg: '10.85', children: { ...children, identity_number: '0000000000000000' } }, { now });
  t.ok(badNik.errors.some((e) => e.startsWith('nik.') && e.endsWith('@subject.nik<children.identity_number')), `a NIK typed to satisfy NOT NULL (${badNik.errors.join(', ')})`);
});
