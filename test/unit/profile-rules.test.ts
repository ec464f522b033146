import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { checkBundle } from '../../src/fhir/profile-check.js';
import { loadProfiles } from '../../src/fhir/profile-rules.js';
import { MappingDataError } from '../../src/tables/mapping-data-error.js';
import { violationIssue } from '../../src/ingest/prepare-record.js';
import { toOperationOutcome } from '../../src/http/operation-outcome.js';

// The rule format of profiles/ (README there): each check kind on hand-made resources, and the
// loader refusing a broken file with its name and the place.

const dirs: string[] = [];
t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function profilesOf(files: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-profiles-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  return { dir, profiles: () => loadProfiles(dir) };
}

const rule = (r: Record<string, unknown>) => ({ rule: 10000, message: 'Pesan platform', source: 'test', ...r });
const bundleOf = (...resources: Array<Resource & { fullUrl?: string }>): Bundle => ({
  resourceType: 'Bundle',
  type: 'transaction',
  entry: resources.map(({ fullUrl, ...resource }, i) => ({ fullUrl: fullUrl ?? `urn:uuid:00000000-0000-4000-8000-00000000000${i}`, resource: resource as Resource })),
});

function check(resourceType: string, rules: unknown[], ...resources: Array<Record<string, unknown>>) {
  const { profiles } = profilesOf({ [`${resourceType}.json`]: { resourceType, rules }, 'Practitioner.json': { resourceType: 'Practitioner', rules: [] }, 'Organization.json': { resourceType: 'Organization', rules: [] } });
  return checkBundle(bundleOf(...(resources as unknown as Resource[])), profiles());
}

t.test('format dateTime: seconds and an explicit offset, nothing less', async (t) => {
  const rules = [rule({ path: 'effectiveDateTime', format: 'dateTime' })];
  for (const good of ['2025-11-05T02:30:00+00:00', '2025-11-05T09:30:00+07:00', '2025-11-05T09:30:00.125-03:00']) {
    t.same(check('Observation', rules, { resourceType: 'Observation', effectiveDateTime: good }), [], good);
  }
  for (const bad of ['2025-11-05', '2025-11-05T09:30:00', '2025-11-05T09:30+07:00', '2025-11-05T02:30:00Z', '2025-13-45T09:30:00+07:00', '2025-02-30T09:30:00+07:00']) {
    const v = check('Observation', rules, { resourceType: 'Observation', effectiveDateTime: bad });
    t.equal(v.length, 1, bad);
    t.equal(v[0]?.expression, 'Bundle.entry[0].resource.effectiveDateTime');
    t.equal(v[0]?.ruleNumber, 10000);
    t.equal(v[0]?.message, 'Pesan platform');
  }
});

t.test('after: period.end later than period.start (10121), a date against a date-time by day', async (t) => {
  const rules = [rule({ path: 'period.end', after: 'period.start' })];
  const enc = (start: string, end: string) => ({ resourceType: 'Encounter', period: { start, end } });
  t.same(check('Encounter', rules, enc('2025-11-05T02:30:00+00:00', '2025-11-05T02:45:00+00:00')), []);
  t.same(check('Encounter', rules, enc('2025-11-05T09:30:00+07:00', '2025-11-05T02:45:00+00:00')), [], 'compared as instants across offsets');
  const same = check('Encounter', rules, enc('2025-11-05T02:30:00+00:00', '2025-11-05T02:30:00+00:00'));
  t.equal(same.length, 1, 'the same instant is not later');
  t.match(same[0]?.rule, /later than period\.start/);
  t.equal(check('Encounter', rules, enc('2025-11-05T03:00:00+00:00', '2025-11-05T02:30:00+00:00')).length, 1);
  t.same(check('Encounter', rules, { resourceType: 'Encounter', period: { end: '2025-11-05T02:30:00+00:00' } }), [], 'nothing to compare with: min rules say whether start is needed');
  const imm = [rule({ path: 'expirationDate', after: 'occurrenceDateTime' })];
  t.same(check('Immunization', imm, { resourceType: 'Immunization', occurrenceDateTime: '2025-11-05T01:30:00+00:00', expirationDate: '2025-11-05' }), [], 'expires today: still good');
  t.equal(check('Immunization', imm, { resourceType: 'Immunization', occurrenceDateTime: '2025-11-05T01:30:00+00:00', expirationDate: '2025-11-04' }).length, 1);
});

t.test('referenceTo: the referenced resource type, however the reference is written', async (t) => {
  const rules = [rule({ path: 'performer', referenceTo: ['Practitioner'] })];
  const obs = (performer: unknown[]) => ({ resourceType: 'Observation', performer });
  const practitioner = { resourceType: 'Practitioner', fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111' };
  const org = { resourceType: 'Organization', fullUrl: 'urn:uuid:22222222-2222-4222-8222-222222222222' };
  t.same(check('Observation', rules, obs([{ reference: 'Practitioner/N10000001' }])), []);
  t.same(check('Observation', rules, obs([{ reference: 'https://api-satusehat.kemkes.go.id/fhir-r4/v1/Practitioner/N1/_history/2' }])), []);
  t.same(check('Observation', rules, obs([{ type: 'Practitioner', identifier: { system: 'https://fhir.kemkes.go.id/id/nik', value: '3201014404850001' } }])), [], 'a logical reference by NIK names its type');
  t.same(check('Observation', rules, obs([{ reference: practitioner.fullUrl }]), practitioner), [], 'urn:uuid of a Practitioner entry');
  const wrong = check('Observation', rules, obs([{ reference: 'Practitioner/N1' }, { reference: org.fullUrl }, { display: 'Rina (kader)' }]), org);
  t.same(wrong.map((v) => v.expression), ['Bundle.entry[0].resource.performer[1]', 'Bundle.entry[0].resource.performer[2]'], 'each wrong item by its index');
  t.match(wrong[0]?.rule, /must refer to Practitioner, not Organization/);
  t.match(wrong[1]?.rule, /must refer to Practitioner \(/, 'a name without a reference refers to nothing');
  const contained = [rule({ path: 'medicationReference', referenceTo: ['Medication'] })];
  t.same(check('MedicationDispense', contained, { resourceType: 'MedicationDispense', contained: [{ resourceType: 'Medication', id: 'm1' }], medicationReference: { reference: '#m1' } }), []);
});

t.test('systems: every coding of a CodeableConcept, {org} as one segment, * as a prefix', async (t) => {
  const rules = [
    rule({ path: 'identifier', systems: ['http://sys-ids.kemkes.go.id/observation/{org}'] }),
    rule({ rule: 10001, path: 'category', systems: ['http://terminology.hl7.org/CodeSystem/condition-category', 'http://terminology.kemkes.go.id*'] }),
    rule({ rule: 10002, path: 'valueQuantity', systems: ['http://unitsofmeasure.org'] }),
  ];
  const ok = {
    resourceType: 'Condition',
    identifier: [{ system: 'http://sys-ids.kemkes.go.id/observation/10000004', value: 'a' }],
    category: [{ coding: [{ system: 'http://terminology.kemkes.go.id', code: 'chief-complaint' }] }, { text: 'text only: no system used' }],
    valueQuantity: { value: 9.8, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
  };
  t.same(check('Condition', rules, ok), []);
  const bad = check('Condition', rules, {
    ...ok,
    identifier: [{ system: 'http://sys-ids.kemkes.go.id/observation/10000004/extra', value: 'a' }],
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'x' }, { code: 'no-system' }] }],
    valueQuantity: { value: 9.8, unit: 'kg' },
  });
  t.same(bad.map((v) => [v.ruleNumber, v.expression]), [
    [10000, 'Bundle.entry[0].resource.identifier[0]'],
    [10001, 'Bundle.entry[0].resource.category[0]'],
    [10002, 'Bundle.entry[0].resource.valueQuantity'],
  ]);
  t.match(bad[1]?.rule, /code system \(none\)/);
});

t.test('when: a rule that holds only under a condition (10306: lot number when a health worker gave the dose)', async (t) => {
  const rules = [rule({ path: 'lotNumber', min: 1, when: [{ path: 'status', in: ['completed'] }, { path: 'performer.function.coding.code', in: ['AP'] }] })];
  const imm = (status: string, fn: string, lot?: string) => ({
    resourceType: 'Immunization',
    status,
    performer: [{ function: { coding: [{ code: fn }] } }],
    ...(lot ? { lotNumber: lot } : {}),
  });
  const missing = check('Immunization', rules, imm('completed', 'AP'));
  t.same(missing.map((v) => v.expression), ['Bundle.entry[0].resource.lotNumber']);
  t.match(missing[0]?.rule, /needs at least 1/);
  t.same(check('Immunization', rules, imm('completed', 'AP', 'PB2507A')), []);
  t.same(check('Immunization', rules, imm('completed', 'EP')), [], 'a kader report (EP) has no lot');
  t.same(check('Immunization', rules, imm('not-done', 'AP')), [], 'not given: no lot');
  const short = [{ path: 'statusReason.coding', when: 'statusReason', min: 1, why: 'a coded reason' }];
  t.equal(check('Immunization', short, { resourceType: 'Immunization', statusReason: { text: 'demam' } }).length, 1, 'the string form: when the path has a value');
  t.same(check('Immunization', short, { resourceType: 'Immunization' }), []);
});

t.test('value formats: decimal, integer, positiveInt, time, string', async (t) => {
  const rules = [
    rule({ rule: 1, path: 'a', format: 'decimal' }),
    rule({ rule: 2, path: 'b', format: 'integer' }),
    rule({ rule: 3, path: 'c', format: 'positiveInt' }),
    rule({ rule: 4, path: 'd', format: 'time' }),
    rule({ rule: 5, path: 'e', format: 'string' }),
  ];
  t.same(check('Basic', rules, { resourceType: 'Basic', a: 1.5, b: 60, c: 1, d: '23:59:59', e: '1625042A' }), []);
  const bad = check('Basic', rules, { resourceType: 'Basic', a: '1.5', b: 1.5, c: 0, d: '24:00:00', e: ' ' });
  t.same(bad.map((v) => v.ruleNumber), [1, 2, 3, 4, 5]);
  t.same(check('Basic', rules, { resourceType: 'Basic', b: '-' }).map((v) => v.ruleNumber), [2], '"-" is not a number (10353)');
});

t.test('a Gerbang rule (why, no number) keeps working, and is not reported as the platform\'s', async (t) => {
  const v = check('Encounter', [{ path: 'class.code', min: 1, in: ['AMB'], why: 'posyandu visits are ambulatory' }], { resourceType: 'Encounter', class: { code: 'IMP' } });
  t.equal(v.length, 1);
  t.equal(v[0]?.ruleNumber, undefined);
  t.match(v[0]?.rule, /must be one of AMB \(posyandu visits are ambulatory\)/);
});

t.test('a broken rule file stops loading, naming the file and the place', async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['not JSON', '{"resourceType": ', /Encounter\.json: cannot be read as JSON/],
    ['no resourceType', { rules: [] }, /Encounter\.json: resourceType: is required/],
    ['rules not a list', { resourceType: 'Encounter', rules: {} }, /Encounter\.json: rules: must be a list/],
    ['unknown field', { resourceType: 'Encounter', rules: [{ path: 'status', min: 1, why: 'x', mni: 2 }] }, /Encounter\.json: rules\[0\]\.mni: is not a rule field/],
    ['nothing to check', { resourceType: 'Encounter', rules: [{ path: 'status', why: 'x' }] }, /rules\[0\]: says nothing to check/],
    ['no source', { resourceType: 'Encounter', rules: [{ path: 'status', min: 1 }] }, /rules\[0\]\.why: say where the rule comes from/],
    ['platform rule without its message', { resourceType: 'Encounter', rules: [{ rule: 10121, path: 'period.end', min: 1, source: 's' }] }, /rules\[0\]\.message: a SATUSEHAT rule carries the platform's message/],
    ['bad format', { resourceType: 'Encounter', rules: [rule({ path: 'period.end', format: 'datetime' })] }, /rules\[0\]\.format: must be one of dateTime/],
    ['bad pattern', { resourceType: 'Encounter', rules: [{ path: 'status', pattern: '(', why: 'x' }, rule({ path: 'a', min: 1 })] }, /rules\[0\]\.pattern: is not a valid regular expression/],
    ['bad condition', { resourceType: 'Encounter', rules: [{ path: 'a', min: 1, why: 'x' }, rule({ path: 'a', min: 1, when: [{ path: 'status', equals: 'x' }] })] }, /rules\[1\]\.when\[0\]\.equals: is not a condition field/],
    ['bad reference type', { resourceType: 'Encounter', rules: [rule({ path: 'subject', referenceTo: ['patient'] })] }, /rules\[0\]\.referenceTo: must be a non-empty list of resource types/],
    ['bad path', { resourceType: 'Encounter', rules: [rule({ path: 'period..end', min: 1 })] }, /rules\[0\]\.path: must be a dotted path/],
    ['verified not boolean', { resourceType: 'Encounter', rules: [rule({ path: 'a', min: 1, verified: 'no' })] }, /rules\[0\]\.verified: must be true or false/],
  ];
  for (const [what, content, expected] of cases) {
    const { profiles } = profilesOf({ 'Encounter.json': content });
    t.throws(profiles, MappingDataError, what);
    t.throws(profiles, expected, what);
  }
  const { profiles } = profilesOf({ 'A.json': { resourceType: 'Encounter', rules: [] }, 'B.json': { resourceType: 'Encounter', rules: [] } });
  t.throws(profiles, /B\.json: resourceType: Encounter has another file/);
});

t.test('the shipped profiles: the SATUSEHAT rules on a hand-made Bundle (10121, 10295, 10383)', async (t) => {
  const bundle = bundleOf(
    { resourceType: 'Organization', fullUrl: 'urn:uuid:aaaaaaaa-0000-4000-8000-000000000001', identifier: [{ system: 'http://sys-ids.kemkes.go.id/organization/10000004', value: '10000004' }], name: 'Puskesmas' } as Resource & { fullUrl: string },
    {
      resourceType: 'Encounter',
      identifier: [{ system: 'http://sys-ids.kemkes.go.id/encounter/10000004', value: 'v1' }],
      status: 'finished',
      statusHistory: [{ status: 'finished', period: { start: '2025-11-05T02:30:00+00:00' } }],
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      subject: { reference: 'Patient/P1' },
      participant: [{ individual: { reference: 'Practitioner/N1' } }],
      period: { start: '2025-11-05T02:30:00+00:00', end: '2025-11-05T02:30:00+00:00' },
      location: [{ location: { reference: 'Location/L1' } }],
      diagnosis: [{ condition: { reference: 'Condition/C1' }, rank: 1 }],
      hospitalization: { dischargeDisposition: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/discharge-disposition', code: 'home' }] } },
      serviceProvider: { reference: 'urn:uuid:aaaaaaaa-0000-4000-8000-000000000001' },
    } as Resource,
    {
      resourceType: 'Observation',
      identifier: [{ system: 'http://sys-ids.kemkes.go.id/observation/10000004', value: 'o1' }],
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '29463-7' }] },
      subject: { reference: 'Patient/P1' },
      encounter: { reference: 'Encounter/E1' },
      effectiveDateTime: '2025-11-05',
      performer: [{ reference: 'urn:uuid:aaaaaaaa-0000-4000-8000-000000000001' }],
      valueQuantity: { value: 9.8, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
    } as Resource,
  );
  const found = checkBundle(bundle).map((v) => [v.ruleNumber, v.expression]);
  t.same(found, [
    [10121, 'Bundle.entry[1].resource.period.end'],
    [10295, 'Bundle.entry[2].resource.effectiveDateTime'],
    [10383, 'Bundle.entry[2].resource.performer[0]'],
  ]);
  const v10383 = checkBundle(bundle).find((v) => v.ruleNumber === 10383);
  t.match(v10383?.message, /Path Observation\.performer wajib terisi dengan Reference yang merujuk pada data Practitioner/, "the platform's message, verbatim");
  const encounter = bundle.entry?.[1]?.resource as Resource & { participant?: unknown };
  delete encounter.participant;
  t.same(checkBundle(bundle).filter((v) => v.ruleNumber === 10119), [], 'a registry fact (10119, atIngest false) does not refuse the record at ingest');
  // What the app receives for a violation: the rule number, the platform's words and the element.
  const [issue] = toOperationOutcome(checkBundle(bundle).filter((v) => v.ruleNumber === 10121).map(violationIssue), 'id').issue;
  t.equal(issue?.severity, 'error');
  t.same(issue?.details?.coding?.map((c) => c.code), ['mapping.satusehat-rule', '10121'], 'the issue key and the rule number as codes');
  t.match(issue?.details?.text, /RuleNumber: 10121/, 'the text names the rule');
  t.same(issue?.expression, ['Bundle.entry[1].resource.period.end'], 'and the element, as FHIRPath');
});
