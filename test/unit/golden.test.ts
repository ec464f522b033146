import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { validateResource } from '@medplum/core';
import type { Bundle } from '@medplum/fhirtypes';
import { loadConfig } from '../../src/config/load.js';
import { checkBundle } from '../../src/fhir/profile-check.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import { loadDefinitions } from '../helpers/fhir-server.js';

// Golden files: a record of every kind and the Bundle Gerbang makes of it, reviewed like code.
// After a deliberate change of the mapping, rewrite them with UPDATE_GOLDEN=1 and read the diff.
// Every resource must also pass @medplum/core's R4 validator and our profiles/.

const dir = new URL('../fixtures/golden/', import.meta.url);
const { facilities } = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-unit' });
const now = new Date('2025-11-06T00:00:00Z');
loadDefinitions();

for (const file of readdirSync(dir).filter((f) => f.endsWith('.record.json')).sort()) {
  const name = file.replace('.record.json', '');
  t.test(name, async (t) => {
    const record = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as unknown;
    const prepared = prepareRecord(record, 'golden-app', facilities, now);
    if (!prepared.ok) throw new Error(`${name}: ${JSON.stringify(prepared.issues)}`);
    const { bundle, indicators } = prepared.prepared;
    const goldenFile = new URL(`${name}.bundle.json`, dir);
    const output = { indicators, bundle };
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(goldenFile)) writeFileSync(goldenFile, `${JSON.stringify(output, null, 2)}\n`);
    t.same(output, JSON.parse(readFileSync(goldenFile, 'utf8')), 'the Bundle is the reviewed one');
    t.same(checkBundle(bundle), [], 'meets profiles/');
    const problems = (bundle.entry ?? []).flatMap((e, i) =>
      validateResource(e.resource as Bundle).filter((issue) => issue.severity === 'error').map((issue) => `entry[${i}] ${e.resource?.resourceType}: ${issue.details?.text ?? issue.diagnostics}`),
    );
    t.same(problems, [], 'every resource is valid R4');
    t.same(validateResource(bundle).filter((i) => i.severity === 'error'), [], 'and so is the Bundle');
  });
}
