// How the values apps send are read: numbers as strings with decimal commas, "-" or "" for not
// measured, dates in many shapes (dd-mm-yyyy, dd/mm/yyyy, Excel serials, Indonesian month names),
// timestamps without an offset, "120/80" blood pressure, NIKs that lost digits as JSON numbers.
// Each reader says which rules it applied, so a person can see what happened to a value.

/** Why a value could not be read: each is the issue `adapter.<problem>` of the error table. */
export type ReadProblem = 'date-needs-time-zone' | 'nik-lost-digits' | 'not-a-date' | 'not-a-month' | 'not-a-nik' | 'not-a-number' | 'not-a-whole-number' | 'not-blood-pressure' | 'not-yes-or-no';

export type Read<T> = { ok: true; value: T; rules: string[] } | { ok: false; problem: ReadProblem };

/** What every app means by "nothing here": absent, null, an empty cell, a dash. */
export function isBlank(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'string' && ['', '-', '--'].includes(v.trim()));
}

const ok = <T>(value: T, ...rules: string[]): Read<T> => ({ ok: true, value, rules: rules.filter(Boolean) });
const fail = <T>(problem: ReadProblem): Read<T> => ({ ok: false, problem });

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

/** UTC offsets in minutes of the zones an app's server or a posyandu may keep its clock in. */
const zoneOffsetMinutes = { WIB: 420, WITA: 480, WIT: 540, UTC: 0 } as const;
export type Zone = keyof typeof zoneOffsetMinutes;

/**
 * The clocks a date or time is read against: the app's own (an adapter's `timeZone`, the zone its
 * server serialises dates in), when stated, and the posyandu's (from the facility registry).
 */
export interface Zones {
  app?: Zone;
  place: Exclude<Zone, 'UTC'>;
}

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?$/;

interface DateTimeParts {
  date: string;
  /** HH:MM:SS */
  time: string;
  /** minutes east of UTC, when the value says */
  offset?: number;
  /** 00:00:00 with no fraction: how a date column looks as a moment */
  midnight: boolean;
  fraction: number;
}

function dateTimeParts(t: string): DateTimeParts | undefined {
  const m = ISO_DATE_TIME.exec(t);
  if (!m) return undefined;
  const date = isoDate(Number(m[1]), Number(m[2]), Number(m[3]));
  const [hh, mm, ss] = [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
  if (!date || hh > 23 || mm > 59 || ss > 59) return undefined;
  const fraction = Number(m[7] ?? 0);
  const o = m[8];
  const offset = o === undefined ? undefined : o === 'Z' ? 0 : (o.startsWith('-') ? -1 : 1) * (Number(o.slice(1, 3)) * 60 + Number(o.slice(-2)));
  return { date, time: `${pad(hh)}:${pad(mm)}:${pad(ss)}`, ...(offset === undefined ? {} : { offset }), midnight: hh === 0 && mm === 0 && ss === 0 && fraction === 0, fraction };
}

/** The local date and time in `zone` of a moment given as a date, a time and its offset. */
function inZone(p: DateTimeParts & { offset: number }, zone: Zone): DateTimeParts {
  const ms = Date.parse(`${p.date}T${p.time}Z`) - p.offset * 60_000 + zoneOffsetMinutes[zone] * 60_000;
  const iso = new Date(ms).toISOString();
  const time = iso.slice(11, 19);
  return { date: iso.slice(0, 10), time, offset: zoneOffsetMinutes[zone], midnight: time === '00:00:00' && p.fraction === 0, fraction: p.fraction };
}

/**
 * A UTC moment that is a date column: Laravel writes a date as its server's local midnight in UTC
 * (`2025-08-12T16:00:00.000000Z` is 13 August in WITA). With the app's zone stated, its midnight is
 * that date. Without, the posyandu's zone is taken for the app's, UTC midnight is the date as
 * written, and another Indonesian zone's midnight cannot be told from a moment a day apart: it is
 * refused rather than guessed. Undefined: a moment, not a date.
 */
function dateColumn(m: DateTimeParts & { offset: number }, zones: Zones): Read<string> | undefined {
  const app = zones.app ?? zones.place;
  const local = inZone(m, app);
  if (local.midnight) return ok(local.date, app === 'UTC' ? 'date-from-midnight-timestamp' : `date-from-utc-midnight-${app}`);
  if (zones.app) return undefined;
  if (m.midnight) return ok(m.date, 'date-from-midnight-timestamp');
  if ((['WIB', 'WITA', 'WIT'] as const).some((z) => inZone(m, z).midnight)) return fail('date-needs-time-zone');
  return undefined;
}

/** The date of a moment: as written with its offset; in UTC, a date column's, or the posyandu's day. */
function dateOfMoment(m: DateTimeParts & { offset: number }, zones: Zones): Read<string> {
  if (m.offset !== 0) return ok(m.date, 'date-from-datetime-offset');
  return dateColumn(m, zones) ?? ok(inZone(m, zones.place).date, `date-from-utc-${zones.place}`);
}

/** A calendar date from the shapes apps use. Excel serials count days from 1899-12-30. */
export function readDate(v: unknown, zones: Zones = { place: 'WIB' }): Read<string> {
  if (typeof v === 'number' && Number.isInteger(v) && v > 20000 && v < 80000) {
    return ok(new Date(Date.UTC(1899, 11, 30) + v * 86_400_000).toISOString().slice(0, 10), 'excel-serial-date');
  }
  if (typeof v !== 'string') return fail('not-a-date');
  const t = v.trim();
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(t);
  if (m) {
    const d = isoDate(Number(m[1]), Number(m[2]), Number(m[3]));
    return d ? ok(d) : fail('not-a-date');
  }
  const p = dateTimeParts(t);
  if (p) {
    if (p.offset !== undefined) return dateOfMoment({ ...p, offset: p.offset }, zones);
    // A time without offset is the app's local time: its date is the day.
    return ok(p.date, p.midnight ? 'date-from-midnight-timestamp' : 'date-from-local-datetime');
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
  if (/^\d{5}$/.test(t)) return readDate(Number(t), zones);
  return fail('not-a-date');
}

const offsetText = (minutes: number) => `${minutes < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(minutes) / 60))}:${pad(Math.abs(minutes) % 60)}`;

/**
 * A moment, with its offset. A time in UTC is given in the posyandu's zone, so that its calendar
 * date is the posyandu's; a time without offset is taken in the app's zone (or, not stated, the
 * posyandu's). A midnight that is a date column serialised as a moment (see dateOfMoment) is that
 * date, and a bare date stays a date.
 */
export function readDateTime(v: unknown, zones: Zones = { place: 'WIB' }): Read<string> {
  const p = typeof v === 'string' ? dateTimeParts(v.trim()) : undefined;
  if (!p) return readDate(v, zones);
  if (p.offset === undefined) {
    if (p.midnight) return ok(p.date, 'date-from-midnight-timestamp');
    const zone = zones.app ?? zones.place;
    return ok(`${p.date}T${p.time}${offsetText(zoneOffsetMinutes[zone])}`, `local-time-${zone}`);
  }
  const moment = { ...p, offset: p.offset };
  if (p.offset !== 0) return p.midnight ? ok(p.date, 'date-from-midnight-timestamp') : ok(`${p.date}T${p.time}${offsetText(p.offset)}`);
  const column = dateColumn(moment, zones);
  if (column) return column;
  const there = inZone(moment, zones.place);
  return ok(`${there.date}T${there.time}${offsetText(zoneOffsetMinutes[zones.place])}`, `utc-to-${zones.place}`);
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
