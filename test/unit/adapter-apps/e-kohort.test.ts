import t from 'tap';
import { judge, judgeOne, rulesOf, WITA } from './judge.js';

// Rows of link-manda/e-kohort (commit 887626d) as its Eloquent models serialise them. The app's time
// zone is Asia/Makassar (config/app.php), so a `date` cast is local midnight in UTC
// ("2025-08-17T16:00:00.000000Z" is 18 August) and a `datetime` cast the instant in UTC. Casts from
// app/Models/{AncVisit,Pregnancy,Patient,Child,ChildVisit,ChildGrowthRecord,GeneralVisit}.php
// (decimal:n as strings, float as numbers); columns from database/migrations/2026_01_07_0209{03,31,32}_*,
// 2026_01_08_000003_*, 2026_01_15_06{0800,0840,0919,1100}_*, 2026_02_01_164508_create_general_visits_table.php,
// 2026_02_02_120000_*, 2026_01_17_050722_add_new_columns_to_child_visits_table.php; relations as app/Livewire/AncVisitIndex.php (pregnancy.patient) and
// ImmunizationAction::childVisit / ChildVisit::child / Child::patient load them; vaccine codes from
// database/seeders/VaccineSeeder.php; option words from app/Livewire/GrowthEntry.php and
// resources/views/livewire/anc-visit-wizard.blade.php. Values invented.

const TZ = {};

const patient = (over: Record<string, unknown> = {}) => ({
  id: 215, no_rm: 'RM-2025-0215', nik: '5271015708960003', no_kk: '5271010101090011', no_bpjs: null, name: 'Ni Made Ayu', dob: '1996-08-16T16:00:00.000000Z',
  gender: 'P', pob: 'Mataram', address: 'Jl. Contoh 4', phone: '081200000001', blood_type: 'O', husband_name: 'I Wayan', husband_nik: null, category: 'Bumil',
  created_at: '2025-02-12T01:00:00.000000Z', updated_at: '2025-02-12T01:00:00.000000Z', deleted_at: null, ...over,
});
const ancVisit = (over: Record<string, unknown> = {}) => ({
  id: 402, pregnancy_id: 131, visit_date: '2025-08-17T16:00:00.000000Z', trimester: 2, visit_code: 'K3', anc_12t: true, gestational_age: 27,
  weight: '58.40', height: '153.00', lila: '24.5', bmi: '24.95', systolic: 112, diastolic: 74, map_score: '86.67', tfu: 26, djj: 144, fetal_presentation: 'Kepala',
  usg_check: false, counseling_check: true, hb: '11.6', protein_urine: 'Negatif', hiv_status: 'NR', syphilis_status: 'NR', hbsag_status: 'NR', tt_immunization: 'T3',
  fe_tablets: 30, risk_category: 'Rendah', risk_level: null, diagnosis: null, referral_target: null, follow_up: null, midwife_name: 'Bd. Sari',
  created_at: '2025-08-18T02:44:12.000000Z', updated_at: '2025-08-18T02:44:12.000000Z', deleted_at: null,
  pregnancy: {
    id: 131, patient_id: 215, gravida: 'G2P1A0', hpht: '2025-02-09T16:00:00.000000Z', hpl: '2025-11-16T16:00:00.000000Z', pregnancy_gap: 3, status: 'Aktif',
    risk_score_initial: 2, created_at: '2025-02-12T01:00:00.000000Z', updated_at: '2025-02-12T01:00:00.000000Z', deleted_at: null, patient: patient(),
  },
  ...over,
});
const child = (over: Record<string, unknown> = {}) => ({
  id: 77, patient_id: 215, parent_name: null, parent_phone: null, parent_address: null, birth_location: 'internal', nik: null, no_rm: 'CH-2025-077',
  name: 'Bayi Ny. Ayu', gender: 'L', dob: '2025-07-02T16:00:00.000000Z', pob: 'Mataram', birth_weight: 3150, birth_height: 49, status: 'Hidup',
  created_at: '2025-07-03T01:00:00.000000Z', updated_at: '2025-07-03T01:00:00.000000Z', deleted_at: null, patient: patient({ category: 'Bayi/Balita' }), ...over,
});

t.test('an ANC visit: the patient\'s own birth date and sex, the pregnancy\'s G/P/A, decimals as strings', TZ, async (t) => {
  const j = await judgeOne('e-kohort', ancVisit(), { posyandu: WITA });
  t.same(j.errors, []);
  t.match(j.record, {
    kind: 'anc-visit', recordId: 'anc-visit-402', occurredAt: '2025-08-18',
    subject: { nik: '5271015708960003', name: 'Ni Made Ayu', sex: 'female', birthDate: '1996-08-17' },
    pregnancy: { lmp: '2025-02-10', edd: '2025-11-17', gravida: 2, para: 1, abortus: 0 },
    visitNumber: 'K3', gestationalAgeWeeks: 27, weightKg: 58.4, muacCm: 24.5, systolic: 112, diastolic: 74, fundalHeightCm: 26, fetalHeartRate: 144,
    fetalPresentation: 'cephalic', hemoglobinGdl: 11.6, ironTablets: 30, urineProtein: 'negative',
  });
  t.notOk(rulesOf(j, 'subject.birthDate')?.includes('birth-date-from-nik'), 'the row\'s date of birth, not the NIK\'s');
});

t.test('a NIK that disagrees with the patient\'s date of birth is a warning, the row\'s date kept', TZ, async (t) => {
  const j = await judgeOne('e-kohort', ancVisit({ pregnancy: { ...ancVisit().pregnancy, patient: patient({ dob: '1996-09-16T16:00:00.000000Z' }) } }), { posyandu: WITA });
  t.same(j.errors, []);
  t.match(j.record, { subject: { birthDate: '1996-09-17' } });
  t.ok(j.warnings.some((w) => w.startsWith('nik.disagrees-')), j.warnings.join(', '));
});

t.test('a growth record with its child; the mother (the child\'s patient) identifies a baby without NIK', TZ, async (t) => {
  const j = await judgeOne('e-kohort', {
    id: 51, child_id: 77, record_date: '2025-10-05T16:00:00.000000Z', age_in_months: 3, weight: 6.1, height: 60.5, head_circumference: 40.2,
    measurement_method: 'Terlentang', zscore_bb_u: 0.1, status_bb_u: 'Baik', zscore_tb_u: -0.2, status_tb_u: 'Normal', zscore_bb_tb: 0.3, status_bb_tb: 'Baik',
    vitamin_a: 'Tidak', deworming_medicine: false, pmt_given: false, notes: null, midwife_name: 'Bd. Sari', created_at: '2025-10-06T01:00:00.000000Z', child: child(),
  }, { posyandu: WITA });
  t.same(j.errors, []);
  t.match(j.record, {
    kind: 'anthropometry', recordId: 'growth-51', occurredAt: '2025-10-06', subject: { name: 'Bayi Ny. Ayu', sex: 'male', birthDate: '2025-07-03', mother: { nik: '5271015708960003', name: 'Ni Made Ayu' } },
    weightKg: 6.1, heightCm: 60.5, position: 'lying', headCircumferenceCm: 40.2,
  });
  t.notOk('vitaminA' in j.record, '"Tidak" is no capsule');
});

t.test('an immunisation action with its visit and child (child_visit.child), a seeder code', async (t) => {
  const row = (code: string, over: Record<string, unknown> = {}) => ({
    id: 88, child_visit_id: 301, vaccine_type: code, batch_number: '0551224', body_part: 'Paha Kiri', provider_name: 'Bd. Sari', created_at: '2025-08-04T00:40:00.000000Z',
    child_visit: { id: 301, child_id: 77, visit_date: '2025-08-04T00:35:00.000000Z', age_month: 1, weight: 4.2, height: 53, temperature: 36.7, child: child(over) },
  });
  const j = await judgeOne('e-kohort', row('POLIO_1'), { posyandu: WITA });
  t.match(j.record, { kind: 'immunization', recordId: 'immunization-88', occurredAt: '2025-08-04T08:35:00+08:00', vaccine: 'POLIO_1', lotNumber: '0551224', subject: { name: 'Bayi Ny. Ayu', mother: { nik: '5271015708960003' } } });
  t.notOk(j.errors.some((e) => e.startsWith('field.required@subject') || e.startsWith('subject.needs-identity')), `the child is found one level down (${j.errors.join(', ')})`);
  t.notOk(j.errors.some((e) => e.startsWith('vaccine.unknown')), 'the seeder code is a known vaccine');
  t.test('the child\'s date of birth in the app\'s time zone', TZ, async (t) => {
    t.match(j.record, { subject: { birthDate: '2025-07-03' } });
    t.same(j.errors, ['vaccine.lot-missing@expirationDate'], 'the app keeps no expiry date, which SATUSEHAT needs of a health worker\'s dose');
  });
});

t.test('a child visit (sick or immunisation visit) with its weighing is an anthropometry record', async (t) => {
  const j = await judgeOne('e-kohort', {
    id: 301, child_id: 77, visit_date: '2025-09-04T01:35:00.000000Z', age_month: 2, complaint: 'Imunisasi', weight: 5.3, height: 57.5, temperature: 36.6, heart_rate: 120,
    respiratory_rate: 36, head_circumference: 38.9, development_notes: null, icd_code: 'Z23', diagnosis_name: 'Imunisasi', informed_consent: true, service_fee: '0.00', child: child(),
  }, { posyandu: WITA });
  t.same(j.errors, []);
  t.match(j.record, { kind: 'anthropometry', recordId: 'child-visit-301', occurredAt: '2025-09-04T09:35:00+08:00', weightKg: 5.3, heightCm: 57.5, position: 'lying', headCircumferenceCm: 38.9, subject: { birthDate: '2025-07-03', mother: { nik: '5271015708960003' } } });
});

t.test('a general (clinic) visit of an adult is a screening', async (t) => {
  const j = await judgeOne('e-kohort', {
    id: 12, patient_id: 300, child_id: null, visit_date: '2025-09-01T01:15:00.000000Z', complaint: 'Pusing', allergies: null, medical_history: 'Hipertensi',
    lifestyle_smoking: 'Jarang', lifestyle_alcohol: false, lifestyle_activity: 'Kurang Olahraga', systolic: 152, diastolic: 96, temperature: '36.5', respiratory_rate: 18, heart_rate: 84,
    weight: '71.50', height: '165.00', waist_circumference: '94.00', bmi: '26.26', physical_exam: null, diagnosis: 'Hipertensi esensial', icd10_code: 'I10', therapy: 'Amlodipin',
    status: 'Pulang', payment_method: 'BPJS', patient: patient({ id: 300, nik: '5271011203620005', name: 'I Ketut Darma', gender: 'L', dob: '1962-03-11T16:00:00.000000Z', category: 'Lansia' }),
  }, { posyandu: WITA });
  t.match(j.record, { kind: 'screening', recordId: 'general-visit-12', occurredAt: '2025-09-01T09:15:00+08:00', systolic: 152, diastolic: 96, weightKg: 71.5, heightCm: 165, waistCm: 94, smoker: true, subject: { sex: 'male' } });
});

t.test('refused or warned, naming the field', async (t) => {
  const k7 = await judgeOne('e-kohort', ancVisit({ visit_code: 'K7' }), { posyandu: WITA });
  t.ok(k7.errors.includes('adapter.unknown-value@visitNumber<visit_code'), `K7 has no canonical visit number (${k7.errors.join(', ')})`);
  t.test('a mother without NIK', TZ, async (t) => {
    const noNik = await judgeOne('e-kohort', ancVisit({ pregnancy: { ...ancVisit().pregnancy, patient: patient({ nik: null }) } }), { posyandu: WITA });
    t.same(noNik.errors, ['subject.needs-identity@subject.mother.nik']);
  });
  const [header] = await judge('e-kohort', ancVisit().pregnancy, { posyandu: WITA });
  t.ok(header?.errors.length, 'a pregnancy header alone is not a record');
});
