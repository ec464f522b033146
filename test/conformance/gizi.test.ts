import t from 'tap';
import { anthropometryRecord, checkCases, prepared, type Case } from './anthropometry-conformance.js';

// Gizi (P14, playbook v4.0) and the neonatus module (H08) where a posyandu weighing carries their
// facts. Records are chosen so that each z-score falls in the category its example shows.

const girl12m = { nik: '3201014209240002', name: 'Anak Gizi', sex: 'female', birthDate: '2024-09-02' };
const girl30m = { nik: '3201014203230001', name: 'Anak Pendek', sex: 'female', birthDate: '2023-03-02' };

// 12 months, lying: BB/U < -3, PB/U and BB/PB and IMT/U in [-3, -2), LK/U < -2, LiLA 11 cm
const infant = prepared(
  anthropometryRecord('GZ-1', girl12m, '2025-09-02T07:02:00+07:00', {
    weightKg: 6.2, heightCm: 68, position: 'lying', headCircumferenceCm: 41, muacCm: 11,
    birthWeightG: 2300, birthLengthCm: 45, exclusiveBreastfeeding: false, vitaminA: 'blue',
  }),
  // last month's weighing: 6.3 kg, so this month is T
  { weighings: { '2025-08': { date: '2025-08-04', weightKg: 6.3, status: 'N', recordKey: 'conformance-app.GZ-0' } } },
);
// 30 months, standing: TB/U and BB/TB in [-3, -2)
const toddler = prepared(anthropometryRecord('GZ-2', girl30m, '2025-09-02T07:02:00+07:00', { weightKg: 8.9, heightCm: 83, position: 'standing' }));
// H08__012: a birth weight in the normal band
const normalBirth = prepared(anthropometryRecord('GZ-3', girl12m, '2025-09-02T07:02:00+07:00', { weightKg: 8, birthWeightG: 3470, birthLengthCm: 45 }));

const cases: Case[] = [
  { tag: 'P14__036', bundle: infant, type: 'Observation', code: '29463-7' },
  { tag: 'P14__037', bundle: infant, type: 'Observation', code: 'OC000012' },
  { tag: 'P14__039', bundle: infant, type: 'Observation', code: '8302-2' },
  { tag: 'P14__040', bundle: infant, type: 'Observation', code: '8306-3' },
  { tag: 'P14__041', bundle: toddler, type: 'Observation', code: '8308-9' },
  { tag: 'P14__042', bundle: infant, type: 'Observation', code: '9843-4' },
  { tag: 'P14__045', bundle: infant, type: 'Observation', code: '284473002' },
  { tag: 'P14__046', bundle: infant, type: 'Observation', code: '8339-4' },
  { tag: 'P14__047', bundle: infant, type: 'Observation', code: '89269-5' },
  { tag: 'P14__051', bundle: infant, type: 'Observation', code: '1153593003' },
  { tag: 'P14__052', bundle: infant, type: 'Observation', code: '1153590000' },
  { tag: 'P14__053', bundle: toddler, type: 'Observation', code: '1153604005' },
  { tag: 'P14__054', bundle: toddler, type: 'Observation', code: '1153600001' },
  { tag: 'P14__055', bundle: infant, type: 'Observation', code: '1153598007' },
  { tag: 'P14__056', bundle: infant, type: 'Observation', code: '1153596006' },
  { tag: 'P14__057', bundle: infant, type: 'Observation', code: '1153594009' },
  { tag: 'P14__081', bundle: infant, type: 'Observation', code: '1145307003' },
  { tag: 'P14__110', bundle: infant, type: 'Observation', code: 'OC000146' },
  { tag: 'P14__112', bundle: infant, type: 'Procedure', code: '767224000' },
  { tag: 'P14__113', bundle: infant, type: 'Observation', code: 'OC000164' },
  { tag: 'H08__012', bundle: normalBirth, type: 'Observation', code: '8339-4' },
  { tag: 'H08__013', bundle: normalBirth, type: 'Observation', code: '89269-5' },
  { tag: 'H08__060', bundle: toddler, type: 'Observation', code: '1153593003' },
];

checkCases(t, new URL('./gizi.differences.json', import.meta.url), cases);
