// How the values apps send are read: numbers as strings with decimal commas, "-" or "" for not
// measured, dates in many shapes (dd-mm-yyyy, dd/mm/yyyy, Excel serials, Indonesian month names),
// timestamps without an offset, "120/80" blood pressure, NIKs that lost digits as JSON numbers.
// Each reader says which rules it applied, so a person can see what happened to a value.

export type Read<T> = { ok: true; value: T; rules: string[] } | { ok: false; problem: string };

/** What every app means by "nothing here": absent, null, an empty cell, a dash. */
export function isBlank(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'string' && ['', '-', '--'].includes(v.trim()));
}

const ok = <T>(value: T, ...rules: string[]): Read<T> => ({ ok: true, value, rules: rules.filter(Boolean) });
const fail = <T>(problem: string): Read<T> => ({ ok: false, problem });

export function readNumber(v: unknown): Read<number> {
  if (typeof v === 'number') return Number.isFinite(v) ? ok(v) : fail('not-a-number');
  if (typeof v !== 'string') return fail('not-a-number');
  const t = v.trim().replace(/\s*(kg|cm|mm|g|mmhg|mg\/dl|g\/dl)$/i, '');
  if (/^-?\d+(\.\d+)?$/.test(t)) return ok(Number(t), 'number-from-text');
  if (/^-?\d+,\d+$/.test(t)) return ok(Number(t.replace(',', '.')), 'decimal-comma');
  return fail('not-a-number');
}

export function readInteger(v: unknown): Read<number> {
  const n = readNumber(v);
  if (!n.ok) return n;
  return Number.isInteger(n.value) ? n : fail('not-a-whole-number');
}

const truthy = new Set(['ya', 'y', 'yes', 'true', '1', 'v', '✓', 'ada', 'sudah', 'diberikan']);
const falsy = new Set(['tidak', 't', 'no', 'false', '0', 'belum', 'tidak ada']);

export function readBoolean(v: unknown): Read<boolean> {
  if (typeof v === 'boolean') return ok(v);
  if (typeof v === 'number' && (v === 0 || v === 1)) return ok(v === 1, 'boolean-from-number');
  const t = String(v).trim().toLowerCase();
  if (truthy.has(t)) return ok(true, 'boolean-from-text');
  if (falsy.has(t)) return ok(false, 'boolean-from-text');
  return fail('not-yes-or-no');
}

const months: Record<string, number> = {
  jan: 1, januari: 1, feb: 2, februari: 2, peb: 2, mar: 3, maret: 3, apr: 4, april: 4, mei: 5, may: 5, jun: 6, juni: 6,
  jul: 7, juli: 7, agu: 8, agt: 8, agus: 8, agustus: 8, aug: 8, sep: 9, sept: 9, september: 9, okt: 10, oktober: 10, oct: 10,
  nov: 11, nop: 11, november: 11, des: 12, desember: 12, dec: 12,
};

const pad = (n: number) => String(n).padStart(2, '0');

function isoDate(y: number, m: number, d: number): string | undefined {
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return undefined;
  return `${y}-${pad(m)}-${pad(d)}`;
}

/** A calendar date from the shapes apps use. Excel serials count days from 1899-12-30. */
export function readDate(v: unknown): Read<string> {
  if (typeof v === 'number' && Number.isInteger(v) && v > 20000 && v < 80000) {
    return ok(new Date(Date.UTC(1899, 11, 30) + v * 86_400_000).toISOString().slice(0, 10), 'excel-serial-date');
  }
  if (typeof v !== 'string') return fail('not-a-date');
  const t = v.trim();
  let m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ]00:00:00(?:\.0+)?Z?)?$/.exec(t);
  if (m) {
    const d = isoDate(Number(m[1]), Number(m[2]), Number(m[3]));
    return d ? ok(d, t.length > 10 ? 'date-from-midnight-timestamp' : '') : fail('not-a-date');
  }
  m = /^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$/.exec(t);
  if (m) {
    const d = isoDate(Number(m[3]), Number(m[2]), Number(m[1]));
    return d ? ok(d, 'day-month-year') : fail('not-a-date');
  }
  m = /^(\d{1,2})[\s-]+([A-Za-z]+)[\s-]+(\d{4})$/.exec(t);
  if (m) {
    const month = months[(m[2] ?? '').toLowerCase()];
    const d = month ? isoDate(Number(m[3]), month, Number(m[1])) : undefined;
    return d ? ok(d, 'month-name') : fail('not-a-date');
  }
  if (/^\d{5}$/.test(t)) return readDate(Number(t));
  return fail('not-a-date');
}

const offsets = { WIB: '+07:00', WITA: '+08:00', WIT: '+09:00' } as const;

/**
 * A moment: with its offset kept, or, without one, taken in the posyandu's time zone (an app's
 * "2025-08-09 08:41" is local time). A bare date stays a date.
 */
export function readDateTime(v: unknown, zone: keyof typeof offsets): Read<string> {
  if (typeof v === 'string') {
    const t = v.trim();
    const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(t);
    if (m) {
      const time = (m[2] ?? '').length === 5 ? `${m[2]}:00` : m[2];
      if (m[4]) {
        const offset = m[4] === 'Z' ? 'Z' : m[4].includes(':') ? m[4] : `${m[4].slice(0, 3)}:${m[4].slice(3)}`;
        return ok(`${m[1]}T${time}${offset}`);
      }
      return ok(`${m[1]}T${time}${offsets[zone]}`, `local-time-${zone}`);
    }
  }
  return readDate(v);
}

/** "120/80", "120/80 mmHg", "120 / 80". */
export function readBloodPressure(v: unknown): Read<{ systolic: number; diastolic: number }> {
  if (typeof v !== 'string') return fail('not-blood-pressure');
  const m = /^\s*(\d{2,3})\s*\/\s*(\d{2,3})\s*(mm\s*hg)?\s*$/i.exec(v);
  return m ? ok({ systolic: Number(m[1]), diastolic: Number(m[2]) }, 'blood-pressure-split') : fail('not-blood-pressure');
}

/** A NIK as text. As a JSON number beyond 2^53 it has already lost digits, and cannot be trusted. */
export function readNik(v: unknown): Read<string> {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) return fail('nik-lost-digits');
    return ok(String(v).padStart(16, '0'), 'nik-from-number');
  }
  if (typeof v !== 'string') return fail('not-a-nik');
  const t = v.trim();
  if (/^\d(\.\d+)?e\+?\d+$/i.test(t)) return fail('nik-lost-digits');
  return ok(t.replace(/[\s.-]/g, ''), t === t.replace(/[\s.-]/g, '') ? '' : 'nik-separators-removed');
}
