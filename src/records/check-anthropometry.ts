import type { Issue } from '../errors/gerbang-error.js';
import { ageInDays, DAYS_PER_MONTH } from '../indicators/growth/age.js';
import { bmiForAgeMonths } from '../indicators/growth/bmi-for-age-5-19.js';
import type { AnthropometryRecord } from './schemas/anthropometry.js';
import { localDate } from './time.js';
import { completedMonths } from '../indicators/calendar-age.js';

// Warnings an anthropometry record is accepted with: what Gerbang cannot send as the platform
// would have it, said to the kader instead of left out silently.

const MEASURED = ['weightKg', 'heightCm', 'headCircumferenceCm', 'muacCm'] as const;

export function checkAnthropometry(record: AnthropometryRecord): Issue[] {
  const issues: Issue[] = [];
  const [, lastMonth] = bmiForAgeMonths();
  const date = localDate(record.occurredAt);
  const months = ageInDays(record.subject.birthDate, date) / DAYS_PER_MONTH;
  const measured = MEASURED.filter((f) => record[f] !== undefined);
  // Under 60 months the WHO 2006 standards apply, up to 228 the 2007 reference (IMT/U).
  if (months > lastMonth && measured.length > 0) {
    issues.push({
      key: 'growth.no-reference',
      severity: 'warning',
      path: 'subject.birthDate',
      params: { age: completedMonths(record.subject.birthDate, date), covered: `0-${lastMonth}`, indicators: 'IMT/U, BB/U, TB/U, BB/TB, LK/U' },
    });
  }
  if (record.vitaminA === 'red') issues.push({ key: 'vitamin-a.red-not-coded', severity: 'warning', path: 'vitaminA' });
  return issues;
}
