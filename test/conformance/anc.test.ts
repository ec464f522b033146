import { readFileSync } from 'node:fs';
import t from 'tap';
import type { Bundle, Encounter, Resource } from '@medplum/fhirtypes';
import { loadConfig } from '../../src/config/load.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import { bundleResolver, differences, entryWithCode, exampleTags, ignoreNumbers, type IntendedDifference, loadExample } from '../helpers/example-compare.js';

// The ANC visit against the official ANC collection, playbook v2.4 (H06): a record carrying the
// facts of the examples' first visit (K1A at 11 weeks), each produced resource compared with its
// example. The differences must be exactly the reviewed ones in anc.differences.json; every other
// H06 file is listed there with the reason it is not compared.

const { facilities } = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-unit' });
const now = new Date('2023-09-01T00:00:00Z');

/** The first visit of H06: 31 Aug 2023 08:03 WIB (01:03 UTC, H06__007), 11 weeks (H06__020). */
export const h06FirstVisit = {
  kind: 'anc-visit',
  recordId: 'H06-K1',
  occurredAt: '2023-08-31T08:03:00+07:00',
  posyandu: '3201010001-02',
  subject: { nik: '3201016201950002', name: 'Jane Smith', sex: 'female', birthDate: '1995-01-22' },
  performer: { role: 'bidan', name: 'Bidan Yuli', nik: '3201014404850001' },
  // 34 months from the last delivery to this HPHT (H06__016); 77 days before the visit = 11 weeks
  pregnancy: { lmp: '2023-06-15', gravida: 2, para: 1, abortus: 0, lastDeliveryDate: '2020-08-10' },
  visitNumber: 'K1',
  gestationalAgeWeeks: 11,
  weightKg: 63,
  heightCm: 158,
  muacCm: 30,
  systolic: 128,
  diastolic: 70,
  fundalHeightCm: 7,
  fetalHeartRate: 142,
  fetalPresentation: 'cephalic',
  hemoglobinGdl: 11.2,
  urineProtein: 'negative',
  ironTablets: 90,
};

type Pick = (bundle: Bundle) => Resource;
const byCode = (type: string, code?: string): Pick => (bundle) => entryWithCode(bundle, type, code);

/** Which produced resource each compared example is matched with. */
const compared: Record<string, Pick> = {
  H06__004: byCode('EpisodeOfCare'),
  H06__007: byCode('Observation', '11996-6'),
  H06__008: byCode('Observation', '11977-6'),
  H06__009: byCode('Observation', '69043-8'),
  H06__010: byCode('Observation', '8665-2'),
  H06__011: byCode('Observation', '11778-8'),
  H06__013: byCode('Observation', '8302-2'),
  H06__016: byCode('Observation', 'OC000001'),
  H06__020: byCode('Observation', '18185-9'),
  H06__021: byCode('Observation', '32418-6'),
  H06__022: byCode('Observation', '29463-7'),
  H06__023: byCode('Observation', '284473002'),
  H06__024: byCode('Observation', '11881-0'),
  H06__025: byCode('Observation', '8480-6'),
  H06__026: byCode('Observation', '8462-4'),
  H06__042: byCode('Observation', '55283-6'),
  H06__045: byCode('Observation', '72155-5'),
  H06__063: byCode('Observation', '718-7'),
  H06__069: byCode('Observation', '5804-0'),
  H06__094: byCode('Medication'),
  H06__095: byCode('MedicationDispense'),
  // The Encounter is the envelope's: only what the ANC mapping adds to it is compared (below).
  H06__100: byCode('Encounter'),
};

/**
 * A health worker named by NIK is a logical reference (envelope-owned); the SATUSEHAT upstream
 * replaces it by Practitioner/{id} (bundle-rewrite.ts), so its identifier never reaches the platform.
 */
const logicalPractitionerNik = (fact: string): boolean => /^performer(\.actor)?\.identifier\.system: https:\/\/fhir\.kemkes\.go\.id\/id\/nik$/.test(fact);

/** Of the Encounter, the ANC mapping owns the K-visit identifier and the episode link; the rest is the envelope's. */
const envelopeOwnedEncounterFact = (fact: string): boolean => !/^(identifier|episodeOfCare)\b/.test(fact);

const reviewed = JSON.parse(readFileSync(new URL('anc.differences.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const tags = Object.keys(reviewed).filter((k) => /^H06__\d{3}$/.test(k));
const notCompared = reviewed._notCompared as Record<string, string>;

const prepared = prepareRecord(h06FirstVisit, 'conformance', facilities, now);
if (!prepared.ok) throw new Error(JSON.stringify(prepared.issues));
const { bundle } = prepared.prepared;
const resolve = bundleResolver(bundle);

t.test('every H06 file is either compared or listed with the reason it is not', async (t) => {
  const all = exampleTags('H06');
  t.equal(all.length, 104, 'playbook ANC v2.4 has 104 request bodies');
  t.same([...tags].sort(), Object.keys(compared).sort(), 'the reviewed list names exactly the compared examples');
  t.same(all.filter((tag) => !compared[tag] && !notCompared[tag]), [], 'none left unaccounted for');
  t.same(Object.keys(notCompared).filter((tag) => compared[tag] || !all.includes(tag)), [], 'none listed twice or unknown');
  for (const [tag, reason] of Object.entries(notCompared)) t.ok(reason.length > 20, `${tag} has a reason`);
});

for (const tag of Object.keys(compared)) {
  t.test(`${tag} field by field`, async (t) => {
    const produced = compared[tag]!(bundle);
    const ignore = (f: string) => ignoreNumbers(f) || logicalPractitionerNik(f) || (tag === 'H06__100' && envelopeOwnedEncounterFact(f));
    const found = differences(produced, resolve, loadExample(tag), ignore);
    const listed = ((reviewed[tag] ?? []) as IntendedDifference[]).map((d) => d.fact).sort();
    t.same(found, listed, 'the differences are exactly the reviewed ones');
    for (const d of (reviewed[tag] ?? []) as IntendedDifference[]) t.ok(d.reason.length > 20, `${d.fact}: has a reason`);
  });
}

t.test('values the fact comparison does not see', async (t) => {
  const enc = entryWithCode(bundle, 'Encounter') as Encounter;
  t.same(enc.identifier?.find((i) => i.system === 'http://terminology.kemkes.go.id/CodeSystem/episodeofcare/ANC')?.value, 'K1A', 'K1A at 11 weeks, as H06__005');
  const trimester = entryWithCode(bundle, 'Observation', '32418-6') as { valueInteger?: number };
  t.equal(trimester.valueInteger, 1, 'trimester 1 at 11 weeks, as H06__021');
  const urine = entryWithCode(bundle, 'Observation', '5804-0') as { valueQuantity?: { value?: number } };
  t.equal(urine.valueQuantity?.value, 0, 'negative is 0 mg/dL, as H06__069');
  const dispense = entryWithCode(bundle, 'MedicationDispense') as { quantity?: { value?: number } };
  t.equal(dispense.quantity?.value, 90, '90 tablets, as H06__095');
});
