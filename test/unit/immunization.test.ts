import t from 'tap';
import type { Immunization, Procedure } from '@medplum/fhirtypes';
import type { SubjectHistory } from '../../src/indicators/subject-history.js';
import { loadConfig } from '../../src/config/load.js';
import { mapRecord } from '../../src/fhir/map-record.js';
import { checkBundle } from '../../src/fhir/profile-check.js';
import { doseTiming } from '../../src/indicators/immunization-schedule.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import type { CanonicalRecord } from '../../src/records/schemas/index.js';
import { validImmunization, withChanges } from '../fixtures/records.js';

const { facilities } = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-unit' });
const now = new Date('2025-11-06T00:00:00Z');
const prepare = (b: unknown, history?: SubjectHistory) => prepareRecord(b, 'sim', facilities, now, history);
const resourceOf = <T>(b: unknown, type: string, history?: SubjectHistory): T => {
  const r = prepare(b, history);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.prepared.bundle.entry?.find((e) => e.resource?.resourceType === type)?.resource as T;
};
const immunizationOf = (b: unknown, history?: SubjectHistory) => resourceOf<Immunization>(b, 'Immunization', history);
const keys = (b: unknown, history?: SubjectHistory) => {
  const r = prepare(b, history);
  return (r.ok ? r.prepared.warnings : r.issues).map((i) => `${i.key}@${i.path ?? ''}`);
};
const kader = { role: 'kader', name: 'Rina' } as const;

t.test('a dose given by a bidan: codes, dose, on-time programme reason, route, lot, performer', async (t) => {
  const imm = immunizationOf(validImmunization);
  t.equal(imm.status, 'completed');
  t.same(imm.vaccineCode?.coding?.map((c) => c.code), ['VG17', 'VG45', 'VG107', '198']);
  t.equal(imm.vaccineCode?.text, 'DPT-HB-Hib 2');
  t.same(imm.protocolApplied, [{ doseNumberPositiveInt: 2 }]);
  t.same(imm.reasonCode?.[0]?.coding?.map((c) => c.code), ['IM-Dasar', 'IM-Ideal'], '2 completed months for the 3-month dose: on time');
  t.equal(imm.route?.coding?.[0]?.code, 'inj.intramuscular');
  t.equal(imm.lotNumber, 'PB2507A');
  t.equal(imm.expirationDate, '2026-07-31');
  t.same(imm.doseQuantity, { value: 0.5, unit: 'mL', system: 'http://unitsofmeasure.org', code: 'mL' }, 'UCUM mL (the examples write "ml")');
  t.equal(imm.reportOrigin, undefined, 'the health worker is the primary source');
  t.equal(imm.performer?.[0]?.function?.coding?.[0]?.code, 'AP');
  t.equal(imm.performer?.[0]?.actor?.type, 'Practitioner');
  t.equal(imm.performer?.[1]?.actor?.reference?.startsWith('urn:uuid:'), true, 'and the puskesmas');
  t.ok(imm.location?.reference);
  const r = mapRecord(prepare(validImmunization).ok ? (validImmunization as unknown as CanonicalRecord) : (undefined as never), 'sim', facilities);
  t.same(checkBundle(r.bundle), []);
  t.same((r.indicators.immunization as { timing: string }).timing, 'on-time');
});

t.test('routes by vaccine; a kader as entering provider; catch-up; birth dose; not given', async (t) => {
  t.equal(immunizationOf(withChanges({ vaccine: 'BCG' }, validImmunization)).route?.coding?.[0]?.code, 'inj.intradermal');
  t.equal(immunizationOf(withChanges({ vaccine: 'Polio 3' }, validImmunization)).route?.coding?.[0]?.code, 'O');
  const older = { ...validImmunization.subject, birthDate: '2025-01-15' };
  t.equal(immunizationOf(withChanges({ vaccine: 'MR 1', subject: older, occurredAt: '2025-10-20' }, validImmunization)).route?.coding?.[0]?.code, 'inj.subcutaneous');
  const byKader = immunizationOf(withChanges({ performer: kader, lotNumber: undefined, expirationDate: undefined }, validImmunization));
  t.equal(byKader.performer?.length, 1, 'P13__017: one performer');
  t.equal(byKader.performer?.[0]?.function?.coding?.[0]?.code, 'EP');
  t.equal(byKader.performer?.[0]?.function?.text, 'Kader Rina');
  t.match(byKader.performer?.[0]?.actor?.reference, /^urn:uuid:/, 'the puskesmas Organization');
  t.same(byKader.reportOrigin?.coding?.map((c) => `${c.system}|${c.code}`), ['http://terminology.hl7.org/CodeSystem/immunization-origin|provider']);
  t.equal(byKader.route, undefined, 'a report, not the administration: no route');
  t.equal(byKader.doseQuantity, undefined);
  const late = immunizationOf(withChanges({ vaccine: 'DPT-HB-Hib 1', subject: older, occurredAt: '2025-05-20' }, validImmunization));
  t.same(late.reasonCode?.[0]?.coding?.map((c) => c.code), ['IM-Dasar', 'IM-Kejar'], 'the 2-month dose at 4 months');
  const hb0 = immunizationOf(withChanges({ vaccine: 'HB-0', occurredAt: '2025-08-16' }, validImmunization));
  t.same(hb0.protocolApplied, [{ doseNumberPositiveInt: 1, series: 'HEPB dosis 0' }]);
  const postponed = immunizationOf(withChanges({ status: 'not-given', notGivenReason: 'postponed' }, validImmunization));
  t.equal(postponed.status, 'not-done');
  t.equal(postponed.statusReason?.coding?.[0]?.code, 'IS000001');
  t.equal(postponed.statusReason?.text, 'Ditunda', 'the reason in words when the record has no note');
  t.equal(postponed.route, undefined);
  t.equal(postponed.doseQuantity, undefined);
  t.same(immunizationOf(withChanges({ vaccine: { antigen: 'pcv', dose: 1 } }, validImmunization)).vaccineCode?.coding?.map((c) => c.code), ['VG152', '152']);
});

t.test('not given as P13__012: MEDPREC with the words, OP, the timing kept; no Procedure', async (t) => {
  const record = withChanges({ status: 'not-given', notGivenReason: 'contraindicated', notGivenNote: 'Anak sedang demam', lotNumber: undefined, expirationDate: undefined }, validImmunization);
  const imm = immunizationOf(record);
  t.same(imm.statusReason, { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'MEDPREC', display: 'medical precaution' }], text: 'Anak sedang demam' });
  t.equal(imm.performer?.[0]?.function?.coding?.[0]?.code, 'OP');
  t.same(imm.reasonCode?.[0]?.coding?.map((c) => c.code), ['IM-Dasar', 'IM-Ideal']);
  t.equal(resourceOf<Procedure | undefined>(record, 'Procedure'), undefined, 'nothing was done');
  t.equal(immunizationOf(withChanges({ notGivenReason: 'refused' }, record)).statusReason?.coding?.[0]?.code, 'PATOBJ');
  t.same(keys(record), [], 'no lot needed for a dose not given');
});

t.test('the vaccination Procedure of P13__019: ICD-9-CM per vaccine, the visit, the health worker', async (t) => {
  const proc = resourceOf<Procedure>(validImmunization, 'Procedure');
  t.same(proc.category?.coding?.map((c) => `${c.system}|${c.code}`), ['http://snomed.info/sct|107733003']);
  t.same(proc.code?.coding?.map((c) => `${c.system}|${c.code}`), ['http://hl7.org/fhir/sid/icd-9-cm|99.37']);
  t.equal(proc.status, 'completed');
  t.equal(proc.performedDateTime, '2025-11-05T01:30:00+00:00');
  t.equal(proc.performer?.[0]?.actor?.type, 'Practitioner');
  t.equal(proc.encounter?.reference, immunizationOf(validImmunization).encounter?.reference, 'the same visit as the Immunization');
  t.equal(resourceOf<Procedure>(withChanges({ vaccine: 'BCG' }, validImmunization), 'Procedure').code?.coding?.[0]?.code, '99.33');
  t.equal(resourceOf<Procedure>(withChanges({ vaccine: 'MR 1', subject: { ...validImmunization.subject, birthDate: '2025-01-15' } }, validImmunization), 'Procedure').code?.coding?.[0]?.code, '99.45');
});

t.test('lot and expiry: required for a health worker\'s dose (10306, 10307), not for a kader\'s report', async (t) => {
  t.same(keys(withChanges({ lotNumber: undefined }, validImmunization)), ['vaccine.lot-missing@lotNumber']);
  t.same(keys(withChanges({ expirationDate: undefined }, validImmunization)), ['vaccine.lot-missing@expirationDate']);
  t.same(keys(withChanges({ lotNumber: undefined, expirationDate: undefined }, validImmunization)), ['vaccine.lot-missing@lotNumber', 'vaccine.lot-missing@expirationDate']);
  t.equal(prepare(withChanges({ lotNumber: undefined }, validImmunization)).ok, false, 'refused, not a warning');
  t.same(keys(withChanges({ performer: kader, lotNumber: undefined, expirationDate: undefined }, validImmunization)), []);
  const noNik = withChanges({ performer: { role: 'bidan', name: 'Bidan Yuli' } }, validImmunization);
  t.same(keys(noNik), ['vaccine.performer-without-nik@performer.nik'], 'accepted with a warning');
  const imm = immunizationOf(noNik);
  t.same(imm.performer?.map((p) => p.function?.coding?.[0]?.code), ['EP'], 'entered by the puskesmas, not an unnamed Practitioner');
  t.equal(imm.performer?.[0]?.function?.text, 'Bidan Yuli');
  t.equal(imm.lotNumber, 'PB2507A');
});

t.test('a vaccine named without its dose', async (t) => {
  const older = { ...validImmunization.subject, birthDate: '2025-01-15' };
  t.same(immunizationOf(withChanges({ vaccine: 'JE', subject: older }, validImmunization)).protocolApplied, [{ doseNumberPositiveInt: 1 }], 'JE has one dose');
  t.same(keys(withChanges({ vaccine: 'JE', subject: older }, validImmunization)).filter((k) => k.startsWith('vaccine.')), [], 'and needs no word about it');
  t.same(keys(withChanges({ vaccine: 'BCG' }, validImmunization)), []);
  const newborn = { ...validImmunization.subject, birthDate: '2025-11-04' };
  const hb = withChanges({ vaccine: 'Hepatitis B 0,5 ml', subject: newborn }, validImmunization);
  t.same(immunizationOf(hb).protocolApplied, [{ doseNumberPositiveInt: 1, series: 'HEPB dosis 0' }], 'HB0, the only HepB dose of the schedule (not "dose 0" from "0,5 ml")');
  const warning = prepare(hb);
  t.match(warning.ok ? warning.prepared.warnings.filter((w) => w.key.startsWith('vaccine.')) : [], [{ key: 'vaccine.dose-from-schedule', severity: 'warning', params: { value: 'Hepatitis B 0,5 ml', dose: 0 } }]);

  const refused = prepare(withChanges({ vaccine: 'Pentabio' }, validImmunization));
  t.match(refused.ok ? [] : refused.issues, [{ key: 'vaccine.dose-missing', path: 'vaccine', params: { choices: [1, 2, 3, 4] } }], 'nothing known: the choices');
  const doses = (entries: Record<string, string>): SubjectHistory => ({
    doses: Object.fromEntries(Object.entries(entries).map(([k, date]) => [k, { date, recordKey: `sim.earlier-${k}` }])),
  });
  const afterOne = doses({ 'dpt-hb-hib.1': '2025-10-15', 'opv.1': '2025-09-15', 'hepb.0': '2025-08-15' });
  const next = prepare(withChanges({ vaccine: 'Pentabio' }, validImmunization), afterOne);
  if (!next.ok) throw new Error(JSON.stringify(next.issues));
  t.same(next.prepared.warnings.map((w) => [w.key, w.params]), [['vaccine.dose-from-history', { value: 'Pentabio', dose: 2, after: 1, afterDate: '2025-10-15' }]]);
  t.same(immunizationOf(withChanges({ vaccine: 'Pentabio' }, validImmunization), afterOne).protocolApplied, [{ doseNumberPositiveInt: 2 }]);
  t.same((next.prepared.indicators.immunization as { dose: number; doseFrom: string }).doseFrom, 'history');
  const gap = prepare(withChanges({ vaccine: 'Pentabio' }, validImmunization), doses({ 'dpt-hb-hib.1': '2025-09-15', 'dpt-hb-hib.3': '2025-10-15' }));
  t.match(gap.ok ? [] : gap.issues, [{ key: 'vaccine.dose-missing', params: { choices: [2, 4] } }], 'a gap leaves two candidates');
  const later = prepare(withChanges({ vaccine: 'Pentabio' }, validImmunization), doses({ 'dpt-hb-hib.1': '2025-11-20' }));
  t.equal(later.ok, false, 'a dose known after this one: not simply the next');
  const own = { doses: { 'dpt-hb-hib.2': { date: '2025-11-05', recordKey: 'sim.IMM-2025-0311' } } };
  t.equal(prepare(withChanges({ vaccine: 'Pentabio' }, validImmunization), own).ok, false, "the record's own earlier version is not an earlier dose");
});

t.test('timing boundaries from the schedule', async (t) => {
  t.equal(doseTiming('hepb', 0, '2025-01-01', '2025-01-08'), 'on-time');
  t.equal(doseTiming('hepb', 0, '2025-01-01', '2025-01-09'), 'catch-up');
  t.equal(doseTiming('mr', 1, '2025-01-01', '2025-12-31'), 'on-time', '11 completed months');
  t.equal(doseTiming('mr', 1, '2025-01-01', '2026-01-01'), 'catch-up');
  t.equal(doseTiming('je', 2, '2025-01-01', '2026-01-01'), undefined, 'not in the schedule');
});

t.test('refusals name the vaccine and the problem', async (t) => {
  t.same(keys(withChanges({ vaccine: 'Influenza' }, validImmunization)), ['vaccine.unknown@vaccine']);
  t.same(keys(withChanges({ vaccine: 'Vitamin A' }, validImmunization)), ['vaccine.not-a-vaccine@vaccine']);
  t.same(keys(withChanges({ vaccine: 'Polio' }, validImmunization)), ['vaccine.dose-missing@vaccine']);
  const words = prepare(withChanges({ vaccine: 'Polio' }, validImmunization));
  t.match(words.ok ? [] : words.issues, [{ params: { value: 'Polio tetes (OPV)', choices: [1, 2, 3, 4] } }], 'the refusal names the choices');
  t.same(keys(withChanges({ vaccine: 'MR 3' }, validImmunization)), ['vaccine.dose-too-high@vaccine']);
  t.same(keys(withChanges({ vaccine: { antigen: 'cacar' } }, validImmunization)), ['vaccine.unknown@vaccine']);
  t.same(keys(withChanges({ vaccine: 12 }, validImmunization)), ['field.anyof@vaccine']);
  t.same(keys(withChanges({ expirationDate: '2025-10-31' }, validImmunization)), ['vaccine.expired@expirationDate']);
  t.same(keys(withChanges({ status: 'not-given' }, validImmunization)), ['field.required@notGivenReason']);
  t.same(keys(withChanges({ occurredAt: '2025-08-01' }, validImmunization)), ['date.before-birth@occurredAt']);
  const unknown = prepare(withChanges({ vaccine: 'Vaksin Xyz 2' }, validImmunization));
  t.match(unknown.ok ? '' : JSON.stringify(unknown.issues), /Vaksin Xyz 2/, 'the 422 names what was sent');
});

t.test('immunisation status against the schedule: complete, due, overdue, not yet due; IDL', async (t) => {
  const { immunizationStatus } = await import('../../src/indicators/immunization-schedule.js');
  const born = '2025-01-10';
  const basic = [
    ['hepb', 0, '2025-01-10'], ['bcg', 1, '2025-02-10'], ['opv', 1, '2025-02-10'], ['opv', 2, '2025-03-10'], ['dpt-hb-hib', 1, '2025-03-10'],
    ['opv', 3, '2025-04-10'], ['dpt-hb-hib', 2, '2025-04-10'], ['opv', 4, '2025-05-10'], ['dpt-hb-hib', 3, '2025-05-10'], ['ipv', 1, '2025-05-10'],
  ].map(([antigen, dose, date]) => ({ antigen: antigen as string, dose: dose as number, date: date as string }));
  const at4m = immunizationStatus(born, basic.slice(0, 5), '2025-05-12');
  const state = (s: typeof at4m, key: string) => s.doses.find((d) => `${d.antigen}.${d.dose}` === key)?.state;
  t.equal(state(at4m, 'hepb.0'), 'complete');
  t.equal(state(at4m, 'dpt-hb-hib.2'), 'overdue', 'the 3-month dose at 4 months');
  t.equal(state(at4m, 'dpt-hb-hib.3'), 'due', 'the 4-month dose at 4 months');
  t.equal(state(at4m, 'mr.1'), 'not-yet-due');
  t.equal(at4m.idl, false);
  const at10m = immunizationStatus(born, [...basic, { antigen: 'mr', dose: 1, date: '2025-10-12' }], '2025-11-05');
  t.equal(at10m.idl, true, 'Imunisasi Dasar Lengkap');
  t.same(at10m.overdue.filter((d) => d.startsWith('dpt')), []);
  t.equal(immunizationStatus(born, basic, '2025-11-05').idl, false, 'without MR1 it is not complete');
});
