import { readFileSync } from 'node:fs';
import t from 'tap';
import type { Bundle, Immunization, Resource } from '@medplum/fhirtypes';
import { loadConfig } from '../../src/config/load.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import { bundleResolver, differences, entryWithCode, exampleTags, ignoreNumbers, type IntendedDifference, loadExample } from '../helpers/example-compare.js';

// Immunisation against the official examples: P13 (Imunisasi, playbook v2.6), H08 for the HB0
// birth dose, H06 for Td. Each record below carries the facts of its example; the resources Gerbang
// makes of it are compared fact by fact, and the differences must be exactly the reviewed ones in
// imunisasi.differences.json. Every other P13 and H08 immunisation file is listed there with the
// reason it is not compared.

const { facilities } = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-unit' });
const now = new Date('2023-09-01T00:00:00Z');

const child = { nik: '3201010505230001', name: 'Anak Imunisasi', sex: 'male', birthDate: '2023-05-05' } as const;
const bidan = { role: 'bidan', name: 'Bidan Yuli', nik: '3201014404850001' } as const;
const visit = { kind: 'immunization', posyandu: '3201010001-01', subject: child, performer: bidan } as const;

/** The records, named by the example whose facts they carry (times are the examples' in WIB). */
const records: Record<string, Record<string, unknown>> = {
  // DTP-HB-Hib 1 by a health worker, Pentabio, at 2 months (IM-Ideal), lot and expiry.
  P13__011: { ...visit, recordId: 'P13-011', occurredAt: '2023-07-07T07:30:00+07:00', vaccine: 'Pentabio 1', lotNumber: '202009007', expirationDate: '2025-07-01' },
  // The same dose not given: the child has a fever.
  P13__012: { ...visit, recordId: 'P13-012', occurredAt: '2023-07-07T07:00:00+07:00', vaccine: 'Pentabio 1', status: 'not-given', notGivenReason: 'contraindicated', notGivenNote: 'Anak sedang demam' },
  // IPV 1 reported by kader Sri M.
  P13__017: { ...visit, recordId: 'P13-017', occurredAt: '2023-07-07T07:01:00+07:00', vaccine: 'IPV 1', performer: { role: 'kader', name: 'Sri M' } },
  // HB0 at birth, a baby under the mother's NIK.
  H08__018: {
    ...visit,
    recordId: 'H08-018',
    occurredAt: '2023-08-31T07:55:00+07:00',
    subject: { name: 'Anak Smith', sex: 'male', birthDate: '2023-08-31', mother: { nik: '3201016201950002', name: 'Jane Smith' } },
    vaccine: 'HB0',
    lotNumber: '202009007',
    expirationDate: '2025-07-01',
  },
  H08__019: {
    ...visit,
    recordId: 'H08-019',
    occurredAt: '2023-08-31T07:42:00+07:00',
    subject: { name: 'Anak Smith', sex: 'male', birthDate: '2023-08-31', mother: { nik: '3201016201950002', name: 'Jane Smith' } },
    vaccine: 'HB0',
    status: 'not-given',
    notGivenReason: 'contraindicated',
    notGivenNote: 'Anak sedang demam',
  },
  // Td 2 to a pregnant woman (the ANC visit is another kind; the vaccine is the same table).
  H06__019: {
    ...visit,
    recordId: 'H06-019',
    occurredAt: '2023-08-31T08:14:00+07:00',
    subject: { nik: '3201016201950002', name: 'Jane Smith', sex: 'female', birthDate: '1995-01-22' },
    vaccine: 'Td 2',
    lotNumber: 'AB0092',
    expirationDate: '2025-11-19',
  },
};

/** Which record and which of its resources each compared example is matched with. */
const compared: Record<string, { record: string; type: string }> = {
  P13__011: { record: 'P13__011', type: 'Immunization' },
  P13__012: { record: 'P13__012', type: 'Immunization' },
  P13__017: { record: 'P13__017', type: 'Immunization' },
  P13__019: { record: 'P13__011', type: 'Procedure' },
  H08__018: { record: 'H08__018', type: 'Immunization' },
  H08__019: { record: 'H08__019', type: 'Immunization' },
  H06__019: { record: 'H06__019', type: 'Immunization' },
};

/**
 * A health worker named by NIK is a logical reference (the envelope's); the SATUSEHAT upstream
 * replaces it by Practitioner/{id} (bundle-rewrite.ts), so its identifier never reaches the platform.
 */
const logicalPractitionerNik = (fact: string): boolean => /^performer\.actor\.identifier\.system: https:\/\/fhir\.kemkes\.go\.id\/id\/nik$/.test(fact);

const reviewed = JSON.parse(readFileSync(new URL('imunisasi.differences.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const notCompared = reviewed._notCompared as Record<string, string>;

const bundles = new Map<string, Bundle>();
for (const [name, record] of Object.entries(records)) {
  const prepared = prepareRecord(record, 'conformance', facilities, now);
  if (!prepared.ok) throw new Error(`${name}: ${JSON.stringify(prepared.issues)}`);
  bundles.set(name, prepared.prepared.bundle);
}
const producedFor = (tag: string): { resource: Resource; bundle: Bundle } => {
  const { record, type } = compared[tag] ?? { record: '', type: '' };
  const bundle = bundles.get(record);
  if (!bundle) throw new Error(`no record for ${tag}`);
  return { resource: entryWithCode(bundle, type), bundle };
};

t.test('every P13 and H13 file, and the immunisations of H08 and H06, are either compared or listed with their reason', async (t) => {
  const all = [...exampleTags('P13'), ...exampleTags('H13'), 'H08__018', 'H08__019', 'H06__017', 'H06__018', 'H06__019'];
  t.equal(exampleTags('P13').length, 21, 'playbook Imunisasi v2.6 has 21 request bodies');
  const reviewedTags = Object.keys(reviewed).filter((k) => /^[A-Z]\d{2}__\d{3}$/.test(k));
  t.same(reviewedTags.sort(), Object.keys(compared).sort(), 'the reviewed list names exactly the compared examples');
  t.same(all.filter((tag) => !compared[tag] && !notCompared[tag]), [], 'none left unaccounted for');
  t.same(Object.keys(notCompared).filter((tag) => compared[tag] || !all.includes(tag)), [], 'none listed twice or unknown');
  for (const [tag, reason] of Object.entries(notCompared)) t.ok(reason.length > 20, `${tag} has a reason`);
});

for (const tag of Object.keys(compared)) {
  t.test(`${tag} field by field`, async (t) => {
    const { resource, bundle } = producedFor(tag);
    const ignore = (f: string) => ignoreNumbers(f) || logicalPractitionerNik(f);
    const found = differences(resource, bundleResolver(bundle), loadExample(tag), ignore);
    const listed = ((reviewed[tag] ?? []) as IntendedDifference[]).map((d) => d.fact).sort();
    t.same(found, listed, 'the differences are exactly the reviewed ones');
    for (const d of (reviewed[tag] ?? []) as IntendedDifference[]) t.ok(d.reason.length > 20, `${d.fact}: has a reason`);
  });
}

t.test('values the fact comparison does not see', async (t) => {
  const given = producedFor('P13__011').resource as Immunization;
  t.same(given.protocolApplied, [{ doseNumberPositiveInt: 1 }], 'dose 1, as P13__011');
  t.equal(given.lotNumber, '202009007');
  t.equal(given.expirationDate, '2025-07-01');
  t.same(given.doseQuantity, { value: 0.5, unit: 'mL', system: 'http://unitsofmeasure.org', code: 'mL' }, 'one dose of Pentabio, in UCUM (the example: 1 "ml")');
  const notGiven = producedFor('P13__012').resource as Immunization;
  t.equal(notGiven.statusReason?.text, 'Anak sedang demam', 'the reason in words, as P13__012');
  const kader = producedFor('P13__017').resource as Immunization;
  t.equal(kader.performer?.[0]?.function?.text, 'Kader Sri M', 'the kader named as P13__017 does');
  const hb0 = producedFor('H08__018').resource as Immunization;
  t.same(hb0.protocolApplied, [{ doseNumberPositiveInt: 1, series: 'HEPB dosis 0' }], 'the birth dose as 1, as H08__018, with the series saying it is dose 0');
  const td = producedFor('H06__019').resource as Immunization;
  t.same(td.protocolApplied, [{ doseNumberPositiveInt: 2 }], 'Td 2, as H06__019');
});

t.test('what is not compared says nothing the compared examples do not', async (t) => {
  const bundle = loadExample('P13__021') as Bundle;
  const same = (a: Resource, b: string) => differences(a, bundleResolver(bundle), loadExample(b), ignoreNumbers);
  t.same(same(entryWithCode(bundle, 'Immunization'), 'P13__011'), [], 'the Bundle P13__021 carries the Immunization of P13__011');
  t.same(same(entryWithCode(bundle, 'Procedure'), 'P13__019'), [], 'and the Procedure of P13__019');
  const pairs: Array<[string, string]> = [['H13__012', 'P13__011'], ['H13__013', 'P13__012'], ['H13__017', 'P13__017'], ['H13__018', 'P13__019']];
  for (const [older, newer] of pairs) {
    t.same(differences(loadExample(older), () => undefined, loadExample(newer)), [], `${older} (v2.5) has the facts of ${newer} (v2.6)`);
  }
});
