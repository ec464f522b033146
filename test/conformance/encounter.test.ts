import { readFileSync } from 'node:fs';
import t from 'tap';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { loadConfig } from '../../src/config/load.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import { bundleResolver, differences, entryWithCode, ignoreNumbers, loadExample, type IntendedDifference } from '../helpers/example-compare.js';
import { validAncVisit, validAnthropometry, validImmunization, validScreening, withChanges, type RecordLike } from '../fixtures/records.js';

// What every record kind's visit looks like next to the official examples: the Encounter of a
// finished visit and its diagnosis Condition (map-envelope.ts). Each pairing's differences must be
// exactly the reviewed ones in encounter.differences.json, each with its reason.

const { facilities } = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-unit' });
const now = new Date('2025-11-06T00:00:00Z');
const reviewed = JSON.parse(readFileSync(new URL('encounter.differences.json', import.meta.url), 'utf8')) as Record<string, IntendedDifference[]>;

// A health worker with a NIK answers for every visit here, as in every example (participant, recorder).
const bidan = { role: 'bidan', name: 'Bidan Yuli', nik: '3201014404850001' };

/** An adolescent weighed at a posyandu: the posyandu flow of PKPR (P16 folder 03). */
const adolescent = withChanges({
  recordId: 'PB-2025-000900',
  subject: { nik: '3201014408100003', name: 'Putri Ayu', sex: 'female', birthDate: '2010-08-04' },
  performer: bidan,
  weightKg: 45.2,
  heightCm: 152.3,
  position: 'standing',
  headCircumferenceCm: undefined,
  muacCm: undefined,
});

function bundleOf(record: RecordLike): Bundle {
  const p = prepareRecord(record, 'conformance', facilities, now);
  if (!p.ok) throw new Error(JSON.stringify(p.issues));
  return p.prepared.bundle;
}

/** The resource of an example that may be a whole Bundle (P16__057). */
function exampleResource(tag: string, type: string, code?: string): Resource {
  const example = loadExample(tag);
  return example.resourceType === 'Bundle' ? entryWithCode(example as Bundle, type, code) : example;
}

const cases: Array<{ name: string; record: RecordLike; compare: Array<{ tag: string; type: 'Encounter' | 'Condition' | 'Location'; code?: string }> }> = [
  {
    name: 'an adolescent at the posyandu (PKPR)',
    record: adolescent,
    compare: [
      { tag: 'P16__057', type: 'Encounter' },
      { tag: 'P16__057', type: 'Condition', code: 'Z00.3' },
      { tag: 'P16__054', type: 'Condition' },
      { tag: 'P16__004', type: 'Location' },
    ],
  },
  {
    name: 'a child weighed (Gizi, Tumbuh Kembang)',
    record: withChanges({ performer: bidan }),
    compare: [
      { tag: 'P15__046', type: 'Encounter' },
      { tag: 'P15__036', type: 'Condition' },
    ],
  },
  {
    name: 'a child weighed, a record with a date only',
    record: withChanges({ recordId: 'PB-2025-000124', occurredAt: '2025-11-05', performer: bidan }),
    compare: [{ tag: 'P16__057', type: 'Encounter' }],
  },
  {
    name: 'an immunisation',
    record: validImmunization,
    compare: [
      { tag: 'P13__020', type: 'Encounter' },
      { tag: 'P13__018', type: 'Condition' },
      { tag: 'P13__004', type: 'Location' },
    ],
  },
  {
    name: 'an antenatal visit',
    record: validAncVisit,
    compare: [
      { tag: 'H06__100', type: 'Encounter' },
      { tag: 'H06__096', type: 'Condition' },
    ],
  },
  {
    name: 'a PTM screening',
    record: withChanges({ performer: bidan }, validScreening),
    compare: [
      { tag: 'H19__163', type: 'Encounter' },
      { tag: 'H19__152', type: 'Condition' },
    ],
  },
];

const seen = new Set<string>();
for (const c of cases) {
  t.test(c.name, async (t) => {
    const bundle = bundleOf(c.record);
    for (const { tag, type, code } of c.compare) {
      const key = `${tag} ${type} (${c.name})`;
      seen.add(key);
      const produced = entryWithCode(bundle, type);
      const found = differences(produced, bundleResolver(bundle), exampleResource(tag, type, code), ignoreNumbers);
      // DUMP_DIFFERENCES=1 prints what was found, to review a change of the mapping against the list.
      if (process.env.DUMP_DIFFERENCES) console.error(JSON.stringify({ key, found }));
      t.same(found, (reviewed[key] ?? []).map((d) => d.fact).sort(), `${key}: exactly the reviewed differences`);
    }
  });
}

t.test('the reviewed list names only pairings this test makes, each difference with a reason', async (t) => {
  t.same(Object.keys(reviewed).filter((k) => !k.startsWith('_') && !seen.has(k)), [], 'no stale pairing');
  for (const [key, list] of Object.entries(reviewed)) {
    if (key.startsWith('_')) continue;
    for (const d of list) t.ok(d.reason.length > 20, `${key} ${d.fact}: has a reason`);
  }
});
