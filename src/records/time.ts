// Dates in records are either YYYY-MM-DD or date-times with an offset. The calendar date is the
// one the posyandu saw (local to its offset), which is what birth dates are compared with.

/** The local calendar date of a record timestamp, as YYYY-MM-DD. */
export function localDate(value: string): string {
  return value.slice(0, 10);
}

/** The instant a record timestamp stands for; a bare date is taken as its local midnight in `offset`. */
export function toInstant(value: string, offset = '+07:00'): Date {
  return new Date(value.length === 10 ? `${value}T00:00:00${offset}` : value);
}

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

export const timeZoneOffsets = { WIB: '+07:00', WITA: '+08:00', WIT: '+09:00' } as const;
