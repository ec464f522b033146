import { readFileSync, writeFileSync } from 'node:fs';
import t from 'tap';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { loadConfig } from '../../src/config/load.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import { bundleResolver, differences, entryWithCode, ignoreNumbers, loadExample, type IntendedDifference } from '../helpers/example-compare.js';

// Skrining PTM (H19, playbook v1.0): records that carry the facts of the official examples map to
// resources whose differences from them are exactly the reviewed list in skrining-ptm.differences.json.
// A difference not on the list fails, and so does a listed one that no longer occurs.

const { facilities } = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-unit' });
const now = new Date('2024-04-25T00:00:00Z');
const listFile = new URL('./skrining-ptm.differences.json', import.meta.url);
const reviewed = JSON.parse(readFileSync(listFile, 'utf8')) as Record<string, IntendedDifference[]>;

// The visit of H19 (24 April 2024, 07:00 WIB), a woman of 45 screened by a nurse who answers for it.
const visit = {
  kind: 'screening',
  occurredAt: '2024-04-24T07:20:40+07:00',
  posyandu: '3201010001-01',
  subject: { nik: '3201016504790003', name: 'Sri Wahyuni', sex: 'female', birthDate: '1979-04-25' },
  performer: { role: 'perawat', name: 'Perawat Dewi', nik: '3201014404850001' },
};
// Each record carries the values of the examples it is compared with, chosen in the class the
// example's interpretation names (H19's own figures are partly outside their ranges: numbers are
// not compared).
const records = {
  // random glucose, HbA1c, non-smoker (H19__011) and every other measure
  random: {
    ...visit, recordId: 'H19-GDS',
    systolic: 160, diastolic: 100, // stage 2, as H19__019 interprets 160/100
    weightKg: 50, heightCm: 169.8, // BMI 17.3: underweight, H19__015's interpretation
    waistCm: 103,
    glucoseMgdl: 150, glucoseTest: 'random', // prediabetes, H19__101
    hba1cPercent: 6.0, // prediabetes, H19__104
    cholesterolMgdl: 177.7, uricAcidMgdl: 7.77, hemoglobinGdl: 12.34,
    smoker: false,
  },
  // fasting glucose; a smoker answering Q0013 as H19__012 does
  fasting: { ...visit, recordId: 'H19-GDP', glucoseMgdl: 110, glucoseTest: 'fasting', smoker: true, cigarettesPerDay: 10, smokingYears: 5 },
  twoHour: { ...visit, recordId: 'H19-G2PP', glucoseMgdl: 160, glucoseTest: '2h-pp' },
  // an adolescent at the posyandu remaja with a normal blood pressure (P16__051)
  adolescent: {
    ...visit, recordId: 'P16-TD', occurredAt: '2024-02-05T09:45:00+07:00',
    subject: { nik: '3201014507090002', name: 'Putri Lestari', sex: 'female', birthDate: '2009-07-05' },
    systolic: 110, diastolic: 80,
  },
} as const;

function bundleOf(record: unknown): Bundle {
  const prepared = prepareRecord(record, 'ptm-app', facilities, now);
  if (!prepared.ok) throw new Error(JSON.stringify(prepared.issues));
  return prepared.prepared.bundle;
}
const bundles = Object.fromEntries(Object.entries(records).map(([k, r]) => [k, bundleOf(r)])) as Record<keyof typeof records, Bundle>;

/** Which produced resource each example is compared with. */
const pairs: Array<[tag: string, record: keyof typeof records, pick: (b: Bundle) => Resource]> = [
  ['H19__011', 'random', (b) => entryWithCode(b, 'Observation', '72166-2')],
  ['H19__012', 'fasting', (b) => entryWithCode(b, 'QuestionnaireResponse')],
  ['H19__013', 'random', (b) => entryWithCode(b, 'Observation', '29463-7')],
  ['H19__014', 'random', (b) => entryWithCode(b, 'Observation', '8302-2')],
  ['H19__015', 'random', (b) => entryWithCode(b, 'Observation', '39156-5')],
  ['H19__016', 'random', (b) => entryWithCode(b, 'Observation', '276361009')],
  ['H19__017', 'random', (b) => entryWithCode(b, 'Observation', '8480-6')],
  ['H19__018', 'random', (b) => entryWithCode(b, 'Observation', '8462-4')],
  ['H19__019', 'random', (b) => entryWithCode(b, 'Observation', '268607006')],
  ['P16__051', 'adolescent', (b) => entryWithCode(b, 'Observation', '268607006')],
  ['H19__101', 'random', (b) => entryWithCode(b, 'Observation', '2345-7')],
  ['H19__102', 'fasting', (b) => entryWithCode(b, 'Observation', '1558-6')],
  ['H19__103', 'twoHour', (b) => entryWithCode(b, 'Observation', '1521-4')],
  ['H19__104', 'random', (b) => entryWithCode(b, 'Observation', '4548-4')],
  ['H19__114', 'random', (b) => entryWithCode(b, 'Observation', '2093-3')],
  ['H19__126', 'random', (b) => entryWithCode(b, 'Observation', '3084-1')],
  ['H19__134', 'random', (b) => entryWithCode(b, 'Observation', '718-7')],
  ['H19__147', 'random', (b) => entryWithCode(b, 'Composition')],
];

const found: Record<string, string[]> = {};
for (const [tag, record, pick] of pairs) {
  t.test(`${tag} (${record} record)`, async (t) => {
    const bundle = bundles[record];
    const diff = differences(pick(bundle), bundleResolver(bundle), loadExample(tag), ignoreNumbers);
    found[tag] = diff;
    t.same(diff, (reviewed[tag] ?? []).map((d) => d.fact).sort(), 'exactly the reviewed differences');
    for (const d of reviewed[tag] ?? []) t.ok(d.reason.length > 20, `${d.fact} has a reason`);
  });
}

t.test('the reviewed list names no example this test does not compare', async (t) => {
  t.same(Object.keys(reviewed).filter((tag) => !pairs.some(([p]) => p === tag)), []);
});

// Writing the raw differences helps reviewing a change; the list itself is edited by hand.
if (process.env.PRINT_DIFFERENCES === '1') t.teardown(() => writeFileSync('/tmp/skrining-ptm.found.json', `${JSON.stringify(found, null, 2)}\n`));
