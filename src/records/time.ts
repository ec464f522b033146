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

export const timeZoneOffsets = { WIB: '+07:00', WITA: '+08:00', WIT: '+09:00' } as const;

const DATE_PART = /^(\d{4})-(\d{2})-(\d{2})/;
const TIME_PART = /^T(\d{2}):(\d{2})(?::(\d{2}))?/;

/**
 * Whether a record date (or the date and time of a date-time) exists on the calendar. JavaScript's
 * Date rolls 2026-11-31 over to 1 December instead of refusing it, and a value is never silently
 * moved, so the parts are checked one by one.
 */
export function isCalendarDateTime(value: string): boolean {
  const date = DATE_PART.exec(value);
  if (!date) return false;
  const [y, m, d] = [Number(date[1]), Number(date[2]), Number(date[3])];
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) return false;
  const time = TIME_PART.exec(value.slice(10));
  if (!time) return value.length === 10 || !value.slice(10).startsWith('T');
  // a leap second (:60) is not something a posyandu app records
  return Number(time[1]) < 24 && Number(time[2]) < 60 && (time[3] === undefined || Number(time[3]) < 60);
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
