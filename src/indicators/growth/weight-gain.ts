import type { Coding } from '@medplum/fhirtypes';
import { defineMapping } from '../../tables/registry.js';

// N/T: did the weight go up enough since last month (Buku KIA 2023 "Grafik BB", KMS)? The gain is
// compared with the KBM table in mappings/weight-gain-kbm.json. Letters as in the F1/SKDN report:
// N naik, T tidak naik, O weighed this month but not last month, B baru (first weighing).

export type GainStatus = 'N' | 'T' | 'O' | 'B';

/** A weighing: the date is YYYY-MM-DD, or a date-time whose first 10 characters are the local date. */
export interface Weighing {
  measuredAt: string;
  weightKg: number;
}

export interface CurrentWeighing extends Weighing {
  /** age in completed months on the day of this weighing (umur dalam bulan) */
  ageMonths: number;
}

export interface GainResult {
  status: GainStatus;
  /** present when last month's weight is known */
  gainGrams?: number;
  /** present when last month's weight is known and the age has a KBM */
  minimumGrams?: number;
  reason: string;
}

/** A child's weighings by calendar month (YYYY-MM), one per month: the latest record wins. */
export type WeighingHistory = Record<string, { date: string; weightKg: number; status: GainStatus; recordKey: string }>;

/** The history form's result, as map-growth.ts shows it to the app. */
export interface WeightGain {
  status: GainStatus;
  gainGrams?: number;
  minimumGrams?: number;
  /** T this month and T last month */
  twoT: boolean;
}

interface KbmTable {
  kbm: Array<{ fromMonth: number; toMonth: number; grams: number; verified: boolean; source: string }>;
  observation: { code: Coding; category: string };
  /** the T status as its own coded Observation, as the official Gizi Postman collection sends it */
  statusT: { key: string; code: Coding; value: Coding; category: string };
}

export const kbmTable = defineMapping<KbmTable>('weight-gain-kbm.json', (d, fail) => {
  let next = 1;
  (d.kbm ?? []).forEach((row, i) => {
    // Rows run on from month 1, so every age up to the last row has exactly one KBM.
    if (row.fromMonth !== next || !(row.toMonth >= row.fromMonth)) fail(`kbm[${i}]`, `must start at month ${next} and end at or after it (no gaps, no overlaps)`);
    if (!(Number.isInteger(row.grams) && row.grams > 0)) fail(`kbm[${i}].grams`, 'must be a positive whole number');
    if (typeof row.verified !== 'boolean' || !row.source) fail(`kbm[${i}]`, 'needs "verified" and "source"');
    next = row.toMonth + 1;
  });
  if (next === 1) fail('kbm', 'at least one row is required');
  if (!d.observation?.code?.code) fail('observation.code', 'is required');
  if (!d.statusT?.key || !d.statusT.code?.code || !d.statusT.value?.code) fail('statusT', 'needs key, code and value');
});

/** The KBM in grams at an age in completed months; undefined where the table has no row (month 0). */
export function minimumGain(ageMonths: number): number | undefined {
  return kbmTable().kbm.find((r) => ageMonths >= r.fromMonth && ageMonths <= r.toMonth)?.grams;
}

/** T at this weighing after T at the one before: the KMS-era "2T" alert (Buku KIA 2023 refers on one T). */
export function twoT(previousStatus: GainStatus | undefined, currentStatus: GainStatus): boolean {
  return previousStatus === 'T' && currentStatus === 'T';
}

/**
 * N/T of this weighing against the child's previous one (`prev`: the latest weighing in an earlier
 * calendar month, undefined when there is none); or, in the second form, which map-growth.ts uses,
 * against the child's month-keyed history, with 2T.
 */
export function weightGainStatus(prev: Weighing | undefined, curr: CurrentWeighing): GainResult;
export function weightGainStatus(current: HistoryWeighing, history: WeighingHistory): WeightGain;
export function weightGainStatus(a: Weighing | HistoryWeighing | undefined, b: CurrentWeighing | WeighingHistory): GainResult | WeightGain {
  return isCurrentWeighing(b) ? gainBetween(a as Weighing | undefined, b) : fromHistory(a as HistoryWeighing, b);
}

type HistoryWeighing = { date: string; weightKg: number; ageMonths: number };

function gainBetween(prev: Weighing | undefined, curr: CurrentWeighing): GainResult {
  if (!prev) return { status: 'B', reason: 'first weighing: nothing to compare with' };
  const months = monthIndex(curr.measuredAt) - monthIndex(prev.measuredAt);
  if (months < 1) throw new RangeError(`the previous weighing (${prev.measuredAt}) must be from a month before this one (${curr.measuredAt})`);
  if (months > 1) return { status: 'O', reason: `not weighed last month (previous weighing ${prev.measuredAt.slice(0, 7)}): N/T needs last month's weight` };

  const gainGrams = Math.round((curr.weightKg - prev.weightKg) * 1000);
  const minimumGrams = minimumGain(curr.ageMonths);
  if (minimumGrams === undefined) return { status: 'O', gainGrams, reason: `no KBM for age ${curr.ageMonths} months: N/T not judged` };
  const change = gainGrams >= 0 ? `gained ${gainGrams} g` : `lost ${-gainGrams} g`;
  return gainGrams >= minimumGrams
    ? { status: 'N', gainGrams, minimumGrams, reason: `${change}, at least the KBM of ${minimumGrams} g at ${curr.ageMonths} months` }
    : { status: 'T', gainGrams, minimumGrams, reason: `${change}, less than the KBM of ${minimumGrams} g at ${curr.ageMonths} months` };
}

/** The history form: last month's entry is the previous weighing; an older one only tells O from B. */
function fromHistory(current: HistoryWeighing, history: WeighingHistory): WeightGain {
  const month = monthIndex(current.date);
  // This month's own entry and later months (a backlog arriving out of order) do not count.
  const earlier = Object.values(history).filter((w) => monthIndex(w.date) < month);
  const last = earlier.find((w) => monthIndex(w.date) === month - 1);
  const prev = last ?? earlier[0];
  const { status, gainGrams, minimumGrams } = gainBetween(prev && { measuredAt: prev.date, weightKg: prev.weightKg }, {
    measuredAt: current.date,
    weightKg: current.weightKg,
    ageMonths: current.ageMonths,
  });
  return {
    status,
    ...(gainGrams !== undefined ? { gainGrams } : {}),
    ...(minimumGrams !== undefined ? { minimumGrams } : {}),
    twoT: twoT(last?.status, status),
  };
}

function isCurrentWeighing(x: CurrentWeighing | WeighingHistory): x is CurrentWeighing {
  return typeof (x as CurrentWeighing).measuredAt === 'string';
}

/** Calendar months since year 0, from the YYYY-MM a date starts with. */
function monthIndex(date: string): number {
  const match = /^(\d{4})-(\d{2})/.exec(date);
  if (!match) throw new RangeError(`not a date: "${date}"`);
  return Number(match[1]) * 12 + Number(match[2]) - 1;
}
