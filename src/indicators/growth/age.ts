// Age as the WHO growth standards use it (anthro, R/utils.R and R/z-score-helper.R): whole days
// index the tables; months are days / 30.4375, and z-scores are produced only below 60 months.

export const DAYS_PER_MONTH = 30.4375;
export const MAX_AGE_MONTHS = 60;

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Whole days from birth to measurement, both calendar dates (YYYY-MM-DD) as the posyandu saw
 * them. Dates carry no time, so the difference is already whole: anthro's half-up rounding of
 * fractional ages has nothing to do. A malformed date is a caller's bug, not an "absent" result.
 */
export function ageInDays(birthDate: string, measuredOn: string): number {
  return (utcDay(measuredOn, 'measuredOn') - utcDay(birthDate, 'birthDate')) / 86_400_000;
}

/** Why no z-score can be given at this age, or undefined when the age is fine. */
export function ageOutOfRange(ageDays: number): string | undefined {
  if (ageDays < 0) return `measured ${-ageDays} day(s) before the birth date`;
  if (ageDays / DAYS_PER_MONTH >= MAX_AGE_MONTHS) return `age ${ageDays} days is ${MAX_AGE_MONTHS} months or more: WHO z-scores stop below ${MAX_AGE_MONTHS} months`;
  return undefined;
}

function utcDay(date: string, name: string): number {
  const ms = Date.parse(`${date}T00:00:00Z`);
  // Date.parse may roll 2025-02-30 over into March; the round trip catches it.
  if (!ISO_DATE.test(date) || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== date) {
    throw new RangeError(`${name} must be a calendar date YYYY-MM-DD, got "${date}"`);
  }
  return ms;
}
