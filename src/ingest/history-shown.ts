import type { Issue } from '../errors/gerbang-error.js';
import type { Indicators } from '../fhir/map-record.js';
import type { CanonicalRecord } from '../records/schemas/index.js';
import type { ImmunizationRecord } from '../records/schemas/immunization.js';
import { localDate } from '../records/time.js';
import { resolveDose } from '../records/vaccine-dose.js';
import type { SubjectHistory } from '../indicators/subject-history.js';

// A record is judged, and its Bundle built, against the person's whole history (clinically right:
// last month's weighing is last month's, wherever it was taken). What the answer shows of that
// judgement is another matter: weight gain from a weighing at another puskesmas tells the grams it
// weighed, a dose number taken from another puskesmas' doses tells that the child had them. So
// every answer shows a history-derived indicator only to a key whose scope covers every place the
// history it used was recorded at; other keys hear that it came from records outside their scope.

/**
 * The posyandu the history entries behind a record's history-derived indicators were recorded at
 * ('' for an entry kept before entries had a place). A weighing reads last month's entry when
 * there is one, else every earlier month (whether there are any tells O from B); a dose reads every
 * other dose of the child (the next dose and the schedule status count them all).
 */
export function historyPlaces(record: CanonicalRecord, history: SubjectHistory | undefined, recordKey: string): string[] {
  const places = new Set<string>();
  if (record.kind === 'anthropometry' && record.weightKg !== undefined && history?.weighings) {
    const month = monthOf(localDate(record.occurredAt));
    const earlier = Object.values(history.weighings).filter((w) => w.recordKey !== recordKey && monthOf(w.date) < month);
    const last = earlier.filter((w) => monthOf(w.date) === month - 1);
    for (const w of last.length > 0 ? last : earlier) places.add(placeOf(w));
  }
  if (record.kind === 'immunization' && history?.doses) {
    for (const d of Object.values(history.doses)) if (d.recordKey !== recordKey) places.add(placeOf(d));
  }
  return [...places].sort();
}

export const WITHHELD = { withheld: 'history-outside-scope' } as const;

/** Warnings whose words quote the history (a dose and its date). */
const HISTORY_WARNINGS = new Set(['vaccine.dose-from-history']);

/**
 * The indicators and warnings of a record as a key sees them: whole when its scope covers every
 * place in `historyFrom` (an entry without a place, '', only an unlimited scope covers); else each history-derived indicator replaced by WITHHELD, the warnings
 * that quote the history left out, and one warning that says so.
 */
export function shownTo<T extends { indicators: Indicators; warnings: Issue[] }>(answer: T, historyFrom: readonly string[], covers: (posyandu: string) => boolean): T {
  if (historyFrom.every((p) => covers(p))) return answer;
  const indicators = { ...answer.indicators };
  const withheld: string[] = [];
  const growth = indicators.growth as Record<string, unknown> | undefined;
  if (growth && 'weightGain' in growth) {
    indicators.growth = { ...growth, weightGain: WITHHELD };
    withheld.push('growth.weightGain');
  }
  const dose = indicators.immunization as Record<string, unknown> | undefined;
  if (dose) {
    const shown = { ...dose };
    // the dose number read from the doses, and what follows from it (timing, programme), or the status counted over them
    const fromHistory = dose.doseFrom === 'history' ? ['dose', 'timing', 'programme'] : [];
    for (const k of [...fromHistory, 'status']) {
      if (!(k in shown)) continue;
      shown[k] = WITHHELD;
      withheld.push(`immunization.${k}`);
    }
    indicators.immunization = shown;
  }
  const warnings = answer.warnings.filter((w) => !HISTORY_WARNINGS.has(w.key));
  if (withheld.length === 0 && warnings.length === answer.warnings.length) return answer;
  warnings.push({ key: 'record.history-outside-scope', severity: 'warning', params: { indicators: withheld.join(', ') || '-' } });
  return { ...answer, indicators, warnings };
}

/**
 * A refusal's issues as a key sees them. The refusal itself stands (a dose that clashes with the
 * doses known is refused for everyone), but a `vaccine.dose-missing` lists as choices only the
 * doses Gerbang does not know of; for a key that does not cover where they were recorded, it lists
 * every dose of the vaccine, as for a child Gerbang never saw.
 */
export function refusalShownTo(issues: Issue[], historyFrom: readonly string[] | undefined, covers: (posyandu: string) => boolean, record: unknown): Issue[] {
  if (!historyFrom || historyFrom.every((p) => covers(p))) return issues;
  const unknown = (record as { kind?: unknown } | null)?.kind === 'immunization' ? resolveDose(record as ImmunizationRecord, undefined, undefined) : undefined;
  if (!unknown || unknown.ok || unknown.reason !== 'dose-missing') return issues;
  const { choices } = unknown;
  return issues.map((i) => (i.key === 'vaccine.dose-missing' ? { ...i, params: { ...i.params, example: choices[0], choices } } : i));
}

function placeOf(entry: object): string {
  const posyandu = (entry as { posyandu?: unknown }).posyandu;
  return typeof posyandu === 'string' ? posyandu : '';
}

/** Calendar months since year 0 of a YYYY-MM-DD date (NaN for anything else, which compares as never earlier). */
function monthOf(date: string): number {
  const m = /^(\d{4})-(\d{2})/.exec(date);
  return m ? Number(m[1]) * 12 + Number(m[2]) - 1 : Number.NaN;
}
