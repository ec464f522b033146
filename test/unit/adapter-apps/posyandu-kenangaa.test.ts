import t from 'tap';
import { judge } from './judge.js';

// Rows of zikri1707/posyandu-kenangaa (commit 21d717e): medical_records and patients as in
// database/db_snapshot.sql, serialised as MedicalRecord::with(['patient', 'user'])
// (app/Http/Controllers/Web/MedicalRecordController.php) with the casts of app/Models/{MedicalRecord,
// Patient}.php (dates as Asia/Jakarta midnight in UTC, config/app.php; decimal:2 as strings; booleans;
// id_number decrypted by app/Casts/EncryptedCast.php); option words from app/Http/Requests/
// MedicalRecordRequest.php (measurement_method recumbent/standing, gender L/P). Values invented.

const patient = (over: Record<string, unknown> = {}) => ({
  id: 41, posyandu_id: 1, category: 'balita', status_mutasi: 'aktif', full_name: 'Arsyila Nadhifa', mother_name: 'Yuliani', parent_name: 'Yuliani', mother_nik: '3404014512940003',
  id_number: '3404015203240001', id_number_hash: 'f'.repeat(64), birth_date: '2024-03-11T17:00:00.000000Z', hpht: null, gender: 'P', address: 'Dusun Contoh RT 02',
  created_at: '2024-04-01T02:00:00.000000Z', updated_at: '2024-04-01T02:00:00.000000Z', ...over,
});
const record = (over: Record<string, unknown> = {}) => ({
  id: 902, patient_id: 41, user_id: 3, visit_date: '2025-08-09T17:00:00.000000Z', weight: '9.15', imt: null, height: '78.40', measurement_method: 'recumbent',
  head_circumference: '45.60', upper_arm_circumference: '14.20', waist_circumference: null, vaccine_name: null, vaccine_dose: null, immunization: null,
  is_basic_immunization_complete: false, vitamin_a: true, vitamin_a_color: 'merah', deworming_medicine: false, pill_fe: false, is_exclusive_breastfeeding: false, mp_asi: true,
  complaint: '-', diagnosis: '-', systolic_bp: null, diastolic_bp: null, blood_sugar: null, hemoglobin: null, uric_acid: null, cholesterol: null, nutrition_status: 'Gizi Baik',
  z_score: '-0.35', z_score_hfa: '-0.80', z_score_wfh: '0.10', nutrition_trend: 'naik', tbc_screening_cough: false, referral_type: 'None',
  created_at: '2025-08-10T02:00:00.000000Z', updated_at: '2025-08-10T02:00:00.000000Z', patient: patient(), user: { id: 3, name: 'Kader' }, ...over,
});
const now = new Date('2025-11-06T00:00:00Z');

t.test('a balita row: the weighing with the capsule colour, dates in the app\'s zone', async (t) => {
  const [w, ...rest] = await judge('posyandu-kenangaa', record(), { now });
  t.equal(rest.length, 0, 'no vaccine that day');
  t.same(w?.errors, []);
  t.match(w?.record, {
    kind: 'anthropometry', recordId: 'medical-record-902', occurredAt: '2025-08-10', subject: { nik: '3404015203240001', sex: 'female', birthDate: '2024-03-12', mother: { nik: '3404014512940003' } },
    weightKg: 9.15, heightCm: 78.4, position: 'lying', headCircumferenceCm: 45.6, muacCm: 14.2, vitaminA: 'red',
  });
});

t.test('a vaccine given that day is its own record; a list of vaccines is refused, not half read', async (t) => {
  const [, dose] = await judge('posyandu-kenangaa', record({ vaccine_name: 'DPT-HB-Hib', vaccine_dose: 1, patient: patient({ birth_date: '2025-05-31T17:00:00.000000Z' }) }), { now });
  t.same(dose?.errors, []);
  t.match(dose?.record, { kind: 'immunization', recordId: 'medical-record-902-imunisasi', vaccine: 'DPT-HB-Hib 1' });
  const [, list] = await judge('posyandu-kenangaa', record({ vaccine_name: 'BCG, Polio 1', patient: patient({ birth_date: '2025-07-01T17:00:00.000000Z' }) }), { now });
  t.same(list?.errors, ['vaccine.several@vaccine<vaccine_name + vaccine_dose'], 'one record is one dose');
});

t.test('an ibu hamil row is an ANC visit; a lansia row a screening', async (t) => {
  const [anc] = await judge('posyandu-kenangaa', record({
    weight: '58.00', height: '152.00', measurement_method: 'standing', head_circumference: null, upper_arm_circumference: '23.10', vitamin_a: false, vitamin_a_color: 'none',
    systolic_bp: 118, diastolic_bp: 76, hemoglobin: '10.80', pregnancy_number: 2, gestational_age: '20 minggu',
    patient: patient({ category: 'ibu_hamil', full_name: 'Yuliani', id_number: '3404014512940003', birth_date: '1994-12-04T17:00:00.000000Z', hpht: '2025-03-21T17:00:00.000000Z', mother_nik: null }),
  }), { now });
  t.same(anc?.errors, []);
  t.match(anc?.record, { kind: 'anc-visit', pregnancy: { lmp: '2025-03-22', gravida: 2 }, weightKg: 58, heightCm: 152, muacCm: 23.1, systolic: 118, diastolic: 76, hemoglobinGdl: 10.8, subject: { birthDate: '1994-12-05' } });
  const [lansia] = await judge('posyandu-kenangaa', record({
    weight: '63.00', height: '160.00', measurement_method: 'standing', head_circumference: null, upper_arm_circumference: null, waist_circumference: '93.00', vitamin_a_color: 'none',
    systolic_bp: 152, diastolic_bp: 94, blood_sugar: 190, cholesterol: 240, uric_acid: '7.80',
    patient: patient({ category: 'lansia', full_name: 'Amri', id_number: '3404011704550002', birth_date: '1955-04-16T17:00:00.000000Z', gender: 'L', mother_nik: null }),
  }), { now });
  t.same(lansia?.errors, []);
  t.match(lansia?.record, { kind: 'screening', systolic: 152, diastolic: 94, glucoseMgdl: 190, glucoseTest: 'random', cholesterolMgdl: 240, uricAcidMgdl: 7.8, waistCm: 93 });
});

t.test('refused, naming the field: the app\'s made-up NIK', async (t) => {
  const [w] = await judge('posyandu-kenangaa', record({ patient: patient({ id_number: '9999000112345678', mother_nik: null }) }), { now });
  t.ok(w?.errors.some((e) => e.startsWith('nik.') && e.includes('@subject.nik<patient.id_number')), String(w?.errors));
});
