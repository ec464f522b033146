import type { WeighingHistory } from './growth/weight-gain.js';

// What earlier records tell about one child, as the indicators need it: weighings by month (weight
// gain N/T) and doses received (which dose a vaccine named without one is). The store that keeps it
// is sync/subject-history.ts; the record checks and the mapping only read it.

/** Where an entry was recorded: the posyandu of the record it came from (absent in entries kept before places were). */
export interface Placed {
  posyandu?: string;
}

/** Doses received through Gerbang, by "antigen.dose". */
export type DoseHistory = Record<string, { date: string; recordKey: string } & Placed>;

export interface SubjectHistory {
  weighings?: WeighingHistory;
  doses?: DoseHistory;
}

/**
 * The part of a history recorded at the posyandu `covers` allows. An entry without a place (kept
 * before entries had one) cannot be placed, so it is left out too.
 */
export function historyWithin(history: SubjectHistory, covers: (posyandu: string) => boolean): SubjectHistory {
  const keep = <E extends Placed>(entries: Record<string, E> | undefined) =>
    entries && Object.fromEntries(Object.entries(entries).filter(([, e]) => typeof e.posyandu === 'string' && covers(e.posyandu)));
  const weighings = keep(history.weighings as Record<string, WeighingHistory[string] & Placed> | undefined);
  const doses = keep(history.doses);
  return { ...(weighings ? { weighings } : {}), ...(doses ? { doses } : {}) };
}
