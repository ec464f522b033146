import { readFileSync } from 'node:fs';
import type { Test } from 'tap';
import type { Bundle } from '@medplum/fhirtypes';
import { loadConfig } from '../../src/config/load.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import type { SubjectHistory } from '../../src/indicators/subject-history.js';
import { bundleResolver, differences, entryWithCode, ignoreNumbers, loadExample, type IntendedDifference } from '../helpers/example-compare.js';

// Shared by the anthropometry conformance tests (gizi, tumbuh-kembang, pkpr): a canonical record
// carrying an example's facts is prepared as ingest does, and each produced resource is compared
// with its official example. The differences must be exactly the reviewed ones of the use case's
// differences file: an unlisted one fails, and so does a listed one that no longer occurs.

const { facilities } = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-conformance' });
const now = new Date('2026-01-01T00:00:00Z');

/** A nakes with a NIK records the weighing, so every performer is a Practitioner, as in the examples. */
export const bidan = { role: 'bidan', nik: '3201014101900003', name: 'Bidan Yuli' } as const;

export function anthropometryRecord(recordId: string, subject: Record<string, unknown>, occurredAt: string, facts: Record<string, unknown>): Record<string, unknown> {
  return { kind: 'anthropometry', recordId, occurredAt, posyandu: '3201010001-01', subject, performer: bidan, ...facts };
}

export function prepared(record: unknown, history?: SubjectHistory): Bundle {
  const p = prepareRecord(record, 'conformance-app', facilities, now, history);
  if (!p.ok) throw new Error(`not accepted: ${JSON.stringify(p.issues)}`);
  return p.prepared.bundle;
}

/**
 * A health worker is named in the Bundle by a logical reference (Practitioner by NIK); the SATUSEHAT
 * upstream resolves it to `Practitioner/{IHS id}` before sending (src/upstream/satusehat/
 * practitioner-resolver.ts), so the example's `-> Practitioner` is what arrives. The NIK identifier
 * the logical reference carries on the way is not a difference of what SATUSEHAT receives.
 */
const namedByNik = (fact: string): boolean => /^(performer|performer\.actor|recorder)\.identifier\.system: https:\/\/fhir\.kemkes\.go\.id\/id\/nik$/.test(fact);

/** One comparison: the example's tag, the Bundle Gerbang made and the resource in it that answers it. */
export interface Case {
  tag: string;
  bundle: Bundle;
  type: string;
  code: string;
}

export function checkCases(t: Test, differencesFile: URL, cases: Case[]): void {
  const reviewed = JSON.parse(readFileSync(differencesFile, 'utf8')) as Record<string, IntendedDifference[]>;
  for (const c of cases) {
    t.test(c.tag, async (t) => {
      const produced = entryWithCode(c.bundle, c.type, c.code);
      const example = loadExample(c.tag);
      const found = differences(produced, bundleResolver(c.bundle), example, (f) => ignoreNumbers(f) || namedByNik(f));
      if (process.env.PRINT_DIFFERENCES === '1') console.error(JSON.stringify({ [c.tag]: found }));
      const listed = reviewed[c.tag] ?? [];
      for (const d of listed) t.ok(d.reason.trim().length > 20, `${c.tag} ${d.fact}: a reason is given`);
      t.same(found, listed.map((d) => d.fact).sort(), `${c.tag}: exactly the reviewed differences`);
    });
  }
  t.test('every reviewed example is compared', async (t) => {
    t.same(Object.keys(reviewed).filter((tag) => !tag.startsWith('_') && !cases.some((c) => c.tag === tag)), []);
  });
}
