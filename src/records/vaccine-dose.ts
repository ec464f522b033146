import { schedule } from '../indicators/immunization-schedule.js';
import type { DoseHistory } from '../indicators/subject-history.js';
import type { ImmunizationRecord } from './schemas/immunization.js';
import { completedMonths } from '../indicators/calendar-age.js';
import { localDate } from './time.js';
import { readVaccine, vaccineTable, type Antigen } from './vaccine-name.js';

// Which dose a record is. The name says it ("DPT-HB-Hib 2") or it does not ("Pentabio", "JE").
// Without it, the schedule decides when it has only one dose of the vaccine (BCG, JE, the HB0
// birth dose), and the child's earlier doses known to Gerbang decide when they leave exactly one
// next dose. Otherwise the app has to say which dose it was.

export type DoseBasis = 'name' | 'schedule' | 'history' | 'age';

export type DoseReading =
  | { ok: true; antigen: Antigen; dose: number; basis: DoseBasis; after?: { dose: number; date: string }; ageMonths?: number }
  | { ok: false; reason: 'not-a-vaccine' | 'unknown' | 'several' }
  | { ok: false; reason: 'dose-missing'; antigen: Antigen; choices: number[] };

export function resolveDose(record: ImmunizationRecord, doses: DoseHistory | undefined, recordKey: string | undefined): DoseReading {
  const read = readVaccine(record);
  if (!read.ok) return read;
  const { antigen } = read;
  if (read.dose !== null) return { ok: true, antigen, dose: read.dose, basis: 'name' };
  const scheduled = schedule().doses.filter((s) => s.antigen === antigen.key).map((s) => s.dose).sort((a, b) => a - b);
  const only = scheduled.length === 1 ? scheduled[0] : undefined;
  if (only !== undefined) return { ok: true, antigen, dose: only, basis: 'schedule' };
  const on = localDate(record.occurredAt);
  const known = Object.entries(doses ?? {})
    .filter(([, d]) => d.recordKey !== recordKey)
    .map(([field, d]) => ({ antigen: field.split('.')[0], dose: Number(field.split('.')[1]), date: d.date }))
    .filter((d) => d.antigen === antigen.key);
  // Doses are counted from the schedule's first (0 for HepB's birth dose), else from 1.
  const first = scheduled[0] ?? 1;
  const all = Array.from({ length: antigen.maxDose - first + 1 }, (_, i) => first + i);
  const choices = all.filter((n) => !known.some((k) => k.dose === n));
  const missing = { ok: false as const, reason: 'dose-missing' as const, antigen, choices: choices.length > 0 ? choices : all };
  // Nothing known is no evidence (the child may have had doses elsewhere); a dose known on this
  // day or later means this record is not simply the next one.
  if (known.length === 0) return firstDoseByAge(antigen, record.subject.birthDate, on) ?? missing;
  if (known.some((k) => k.date >= on)) return missing;
  const given = new Set(known.map((k) => k.dose));
  const next = all.find((n) => !given.has(n));
  // The earlier doses must be every dose before the next one: a gap leaves two candidates.
  if (next === undefined || known.some((k) => k.dose > next)) return missing;
  const last = known.reduce((a, b) => (b.dose > a.dose ? b : a));
  return { ok: true, antigen, dose: next, basis: 'history', after: { dose: last.dose, date: last.date } };
}

/**
 * With nothing known of the child, a dose younger than mappings/vaccines.json firstDoseUnderMonths
 * can only be the first (an app whose only measles option is "Campak", given at 9 months).
 */
function firstDoseByAge(antigen: Antigen, birthDate: string, on: string): DoseReading | undefined {
  const under = vaccineTable().firstDoseUnderMonths[antigen.key];
  const first = schedule().doses.filter((s) => s.antigen === antigen.key).sort((a, b) => a.dose - b.dose)[0];
  if (typeof under !== 'number' || !first) return undefined;
  const age = completedMonths(birthDate, on);
  return age < under ? { ok: true, antigen, dose: first.dose, basis: 'age', ageMonths: age } : undefined;
}

// Health workers of the record schema (the Master Nakes Index knows them); a kader is not one.
const HEALTH_WORKER_ROLES = new Set(['bidan', 'perawat', 'dokter', 'gizi']);

/** A dose given by a health worker: SATUSEHAT's "imunisasi dilakukan oleh nakes" (rules 10306, 10307). */
export function givenByHealthWorker(record: ImmunizationRecord): boolean {
  return record.status !== 'not-given' && record.performer !== undefined && HEALTH_WORKER_ROLES.has(record.performer.role);
}
