import { defineMapping } from '../tables/registry.js';
import { completedMonths, daysBetween } from './calendar-age.js';

export interface ScheduledDose {
  antigen: string;
  dose: number;
  ageMonths: number;
  idealUpToMonths?: number;
  idealUpToDays?: number;
  reason: string;
  idl?: boolean;
}

interface ScheduleTable {
  reasonSystem: string;
  timingSystem: string;
  reasons: Record<string, string>;
  timings: Record<string, string>;
  doses: ScheduledDose[];
}

export const schedule = defineMapping<ScheduleTable>('immunization-schedule.json', (d, fail) => {
  (d.doses ?? []).forEach((s, i) => {
    if (!d.reasons?.[s.reason]) fail(`doses[${i}].reason`, `"${s.reason}" is not in reasons`);
    if (s.idealUpToMonths === undefined && s.idealUpToDays === undefined) fail(`doses[${i}]`, 'needs idealUpToMonths or idealUpToDays');
  });
});

export function scheduledDose(antigen: string, dose: number): ScheduledDose | undefined {
  return schedule().doses.find((s) => s.antigen === antigen && s.dose === dose);
}

/** On time (IM-Ideal) or catch-up (IM-Kejar), for a dose of the routine schedule. */
export function doseTiming(antigen: string, dose: number, birthDate: string, givenOn: string): 'on-time' | 'catch-up' | undefined {
  const s = scheduledDose(antigen, dose);
  if (!s) return undefined;
  if (s.idealUpToDays !== undefined) return daysBetween(birthDate, givenOn) <= s.idealUpToDays ? 'on-time' : 'catch-up';
  return completedMonths(birthDate, givenOn) <= (s.idealUpToMonths ?? 0) ? 'on-time' : 'catch-up';
}

export type DoseState = 'complete' | 'due' | 'overdue' | 'not-yet-due';

export interface ImmunizationStatus {
  asOf: string;
  doses: Array<{ antigen: string; dose: number; state: DoseState; givenOn?: string }>;
  /** Imunisasi Dasar Lengkap: every dose marked idl in the schedule is complete */
  idl: boolean;
  due: string[];
  overdue: string[];
}

/**
 * Where a child stands against the national schedule on a date, from the doses it received:
 * each scheduled dose complete, due (its age reached, still within the on-time window), overdue
 * (past the window) or not yet due.
 */
export function immunizationStatus(birthDate: string, given: Array<{ antigen: string; dose: number; date: string }>, asOf: string): ImmunizationStatus {
  const months = completedMonths(birthDate, asOf);
  const days = daysBetween(birthDate, asOf);
  const doses = schedule().doses.map((s) => {
    const got = given.find((g) => g.antigen === s.antigen && g.dose === s.dose && g.date <= asOf);
    if (got) return { antigen: s.antigen, dose: s.dose, state: 'complete' as const, givenOn: got.date };
    const reached = months >= s.ageMonths;
    const late = s.idealUpToDays !== undefined ? days > s.idealUpToDays : months > (s.idealUpToMonths ?? 0);
    const state: DoseState = !reached ? 'not-yet-due' : late ? 'overdue' : 'due';
    return { antigen: s.antigen, dose: s.dose, state };
  });
  const label = (d: { antigen: string; dose: number }) => `${d.antigen}.${d.dose}`;
  return {
    asOf,
    doses,
    idl: schedule().doses.filter((s) => s.idl).every((s) => doses.find((d) => d.antigen === s.antigen && d.dose === s.dose)?.state === 'complete'),
    due: doses.filter((d) => d.state === 'due').map(label),
    overdue: doses.filter((d) => d.state === 'overdue').map(label),
  };
}
