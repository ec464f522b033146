import t from 'tap';
import { anthropometryRecord, checkCases, prepared, type Case } from './anthropometry-conformance.js';

// PKPR luar gedung (P16, playbook v1.1), folder 03 "posyandu": the Status Gizi step (P16__046-048)
// of an adolescent, which is what an anthropometry record carries. IMT/U comes from the WHO 2007
// reference with PMK 2/2020's 5-18 y bands; no adult BMI is sent.

const teen = { nik: '3201014502110001', name: 'Remaja Putri', sex: 'female', birthDate: '2011-02-05' };
const bundle = prepared(anthropometryRecord('RM-1', teen, '2024-02-05T09:38:00+07:00', { weightKg: 50, heightCm: 160, position: 'standing' }));

const cases: Case[] = [
  { tag: 'P16__046', bundle, type: 'Observation', code: '29463-7' },
  { tag: 'P16__047', bundle, type: 'Observation', code: '8302-2' },
  { tag: 'P16__048', bundle, type: 'Observation', code: '1153596006' },
];

t.test('no adult BMI for an adolescent', async (t) => {
  t.notOk(bundle.entry?.some((e) => JSON.stringify(e.resource).includes('39156-5')), 'no LOINC 39156-5');
});

checkCases(t, new URL('./pkpr.differences.json', import.meta.url), cases);
