import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import { partsOf } from '../../src/upstream/fhir-upstream.js';

// A server that caps transaction size gets a Bundle in parts (fhir-upstream.ts): no part may
// refer to an entry of a later part, so an Encounter and its diagnosis Condition, which name each
// other, always travel together.

const dir = new URL('../fixtures/golden/', import.meta.url);
const refsOf = (e: BundleEntry) => [...JSON.stringify(e.resource).matchAll(/"reference":"(urn:uuid:[^"]+)"/g)].map((m) => m[1]);

for (const file of readdirSync(dir).filter((f) => f.endsWith('.bundle.json'))) {
  const bundle = (JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as { bundle: Bundle }).bundle;
  const entries = bundle.entry ?? [];
  for (const max of [2, 4, 5, 8]) {
    t.test(`${file} in parts of ${max}`, async (t) => {
      const parts = partsOf(entries, max);
      t.same(parts.flat(), entries, 'every entry once, in order');
      const partOf = new Map(parts.flatMap((p, i) => p.map((e) => [e.fullUrl, i] as const)));
      parts.forEach((p, i) => {
        for (const e of p) for (const r of refsOf(e)) t.ok((partOf.get(r) ?? -1) <= i, `${e.resource?.resourceType} refers to nothing sent later`);
      });
      const enc = entries.find((e) => e.resource?.resourceType === 'Encounter');
      const dx = entries.find((e) => e.resource?.resourceType === 'Condition');
      t.equal(partOf.get(enc?.fullUrl), partOf.get(dx?.fullUrl), 'the Encounter and its diagnosis together');
      t.ok(parts.every((p) => p.length <= Math.max(max, 2)), 'no part larger than the cap, but for a pair that cannot be cut');
    });
  }
}

t.test('entries that refer to nothing are cut at the cap', async (t) => {
  const entries = Array.from({ length: 7 }, (_, i): BundleEntry => ({ fullUrl: `urn:uuid:${i}`, resource: { resourceType: 'Basic', code: { text: String(i) } } }));
  t.same(partsOf(entries, 3).map((p) => p.length), [3, 3, 1]);
});
