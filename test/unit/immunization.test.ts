import t from 'tap';
import type { Immunization } from '@medplum/fhirtypes';
import { loadConfig } from '../../src/config/load.js';
import { mapRecord } from '../../src/fhir/map-record.js';
import { checkBundle } from '../../src/fhir/profile-check.js';
import { doseTiming } from '../../src/indicators/immunization-schedule.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import type { CanonicalRecord } from '../../src/records/schemas/index.js';
import { validImmunization, withChanges } from '../fixtures/records.js';

const { facilities } = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-unit' });
const now = new Date('2025-11-06T00:00:00Z');
const prepare = (b: unknown) => prepareRecord(b, 'sim', facilities, now);
const immunizationOf = (b: unknown) => {
  const r = prepare(b);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.prepared.bundle.entry?.find((e) => e.resource?.resourceType === 'Immunization')?.resource as Immunization;
};
const keys = (b: unknown) => {
  const r = prepare(b);
  return (r.ok ? r.prepared.warnings : r.issues).map((i) => `${i.key}@${i.path ?? ''}`);
};

t.test('a dose given by a bidan: codes, dose, on-time programme reason, route, lot, performer', async (t) => {
  const imm = immunizationOf(validImmunization);
  t.equal(imm.status, 'completed');
  t.same(imm.vaccineCode?.coding?.map((c) => c.code), ['VG17', 'VG45', 'VG107', '198']);
  t.equal(imm.vaccineCode?.text, 'DPT-HB-Hib 2');
  t.same(imm.protocolApplied, [{ doseNumberPositiveInt: 2 }]);
  t.same(imm.reasonCode?.[0]?.coding?.map((c) => c.code), ['IM-Dasar', 'IM-Ideal'], '2 completed months for the 3-month dose: on time');
  t.equal(imm.route?.coding?.[0]?.code, 'inj.intramuscular');
  t.equal(imm.lotNumber, 'PB2507A');
  t.equal(imm.performer?.[0]?.function?.coding?.[0]?.code, 'AP');
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
  const byKader = immunizationOf(withChanges({ performer: { role: 'kader', name: 'Rina' }, lotNumber: undefined, expirationDate: undefined }, validImmunization));
  t.equal(byKader.performer?.[0]?.function?.coding?.[0]?.code, 'EP');
  t.equal(byKader.performer?.[0]?.function?.text, 'Kader Rina');
  const late = immunizationOf(withChanges({ vaccine: 'DPT-HB-Hib 1', subject: older, occurredAt: '2025-05-20' }, validImmunization));
  t.same(late.reasonCode?.[0]?.coding?.map((c) => c.code), ['IM-Dasar', 'IM-Kejar'], 'the 2-month dose at 4 months');
  const hb0 = immunizationOf(withChanges({ vaccine: 'HB-0', occurredAt: '2025-08-16' }, validImmunization));
  t.same(hb0.protocolApplied, [{ doseNumberPositiveInt: 1, series: 'HEPB dosis 0' }]);
  const postponed = immunizationOf(withChanges({ status: 'not-given', notGivenReason: 'postponed' }, validImmunization));
  t.equal(postponed.status, 'not-done');
  t.equal(postponed.statusReason?.coding?.[0]?.code, 'IS000001');
  t.equal(postponed.route, undefined);
  t.same(immunizationOf(withChanges({ vaccine: { antigen: 'pcv', dose: 1 } }, validImmunization)).vaccineCode?.coding?.map((c) => c.code), ['VG152', '152']);
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
  t.same(keys(withChanges({ vaccine: 'MR 3' }, validImmunization)), ['vaccine.dose-too-high@vaccine']);
  t.same(keys(withChanges({ vaccine: { antigen: 'cacar' } }, validImmunization)), ['vaccine.unknown@vaccine']);
  t.same(keys(withChanges({ vaccine: 12 }, validImmunization)), ['field.anyof@vaccine']);
  t.same(keys(withChanges({ expirationDate: '2025-10-31' }, validImmunization)), ['vaccine.expired@expirationDate']);
  t.same(keys(withChanges({ status: 'not-given' }, validImmunization)), ['field.required@notGivenReason']);
  t.same(keys(withChanges({ occurredAt: '2025-08-01' }, validImmunization)), ['date.before-birth@occurredAt']);
  t.same(keys(withChanges({ lotNumber: undefined }, validImmunization)), ['vaccine.lot-missing@lotNumber'], 'a warning: accepted');
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
