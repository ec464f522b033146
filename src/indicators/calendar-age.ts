// Calendar arithmetic on YYYY-MM-DD dates, as the schedule and the health workers count age.

/** Whole days from one YYYY-MM-DD to another (UTC calendar arithmetic, no DST in Indonesia anyway). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** Completed months from a birth date to a date, as health workers count age (umur dalam bulan). */
export function completedMonths(birthDate: string, on: string): number {
  const [by, bm, bd] = birthDate.split('-').map(Number) as [number, number, number];
  const [y, m, d] = on.split('-').map(Number) as [number, number, number];
  return (y - by) * 12 + (m - bm) - (d < bd ? 1 : 0);
}
