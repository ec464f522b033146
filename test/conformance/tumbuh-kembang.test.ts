import t from 'tap';
import { anthropometryRecord, checkCases, prepared, type Case } from './anthropometry-conformance.js';

// Tumbuh Kembang (P15, playbook v3.0), folder 04 (anthropometry) and the breastfeeding item of 06:
// what a posyandu weighing carries. Records are chosen so that each z-score falls in the category
// its example shows; P15's examples come from several children (BB/U normal beside BB/TB wasted).

const girl = { nik: '3201014209240002', name: 'Anak Bayi', sex: 'female', birthDate: '2024-09-02' };
const boy = { nik: '3201010209230001', name: 'Anak Balita', sex: 'male', birthDate: '2023-09-02' };
const toddler = { nik: '3201014203230001', name: 'Anak Kurus', sex: 'female', birthDate: '2023-03-02' };

// 12 months, lying: PB/U and BB/PB in [-3, -2); exclusively breastfed
const infant = prepared(anthropometryRecord('TK-1', girl, '2025-09-02T07:02:00+07:00', { weightKg: 6.2, heightCm: 68, position: 'lying', exclusiveBreastfeeding: true }));
// 24 months, standing: BB/U normal, TB/U in [-3, -2), LK/U < -2, LiLA 14 cm; lighter than last month (T)
const child = prepared(
  anthropometryRecord('TK-2', boy, '2025-09-02T07:02:00+07:00', { weightKg: 9.8, heightCm: 80, position: 'standing', headCircumferenceCm: 45, muacCm: 14 }),
  { weighings: { '2025-08': { date: '2025-08-04', weightKg: 9.9, status: 'N', recordKey: 'conformance-app.TK-0' } } },
);
// 30 months, standing: BB/TB in [-3, -2)
const wasted = prepared(anthropometryRecord('TK-3', toddler, '2025-09-02T07:02:00+07:00', { weightKg: 8.9, heightCm: 83, position: 'standing' }));

const cases: Case[] = [
  { tag: 'P15__012', bundle: child, type: 'Observation', code: '29463-7' },
  { tag: 'P15__013', bundle: child, type: 'Observation', code: 'OC000012' },
  { tag: 'P15__014', bundle: child, type: 'Observation', code: '8302-2' },
  { tag: 'P15__015', bundle: infant, type: 'Observation', code: '8306-3' },
  { tag: 'P15__016', bundle: child, type: 'Observation', code: '8308-9' },
  { tag: 'P15__017', bundle: child, type: 'Observation', code: '284473002' },
  { tag: 'P15__018', bundle: child, type: 'Observation', code: '9843-4' },
  { tag: 'P15__019', bundle: child, type: 'Observation', code: '1153593003' },
  { tag: 'P15__020', bundle: infant, type: 'Observation', code: '1153590000' },
  { tag: 'P15__021', bundle: child, type: 'Observation', code: '1153604005' },
  { tag: 'P15__022', bundle: wasted, type: 'Observation', code: '1153600001' },
  { tag: 'P15__023', bundle: infant, type: 'Observation', code: '1153598007' },
  { tag: 'P15__024', bundle: child, type: 'Observation', code: '1153594009' },
  { tag: 'P15__026', bundle: infant, type: 'Observation', code: '1145307003' },
];

checkCases(t, new URL('./tumbuh-kembang.differences.json', import.meta.url), cases);
