import type { Config } from '../config/types.js';
import { issueCodes, type IssueCode } from '../errors/codes.js';
import type { Issue } from '../errors/gerbang-error.js';
import { checkAnthropometry } from './check-anthropometry.js';
import { nikDisagreements, parseNik } from './nik.js';
import type { SubjectHistory } from '../indicators/subject-history.js';
import { givenByHealthWorker, resolveDose } from './vaccine-dose.js';
import type { CanonicalRecord } from './schemas/index.js';
import { localDate, toInstant } from './time.js';
import { completedMonths, daysBetween } from '../indicators/calendar-age.js';
import { defineMapping } from '../tables/registry.js';

// Checks a structurally valid record against facts: the facility registry, NIK structure, dates,
// and plausible values. Errors refuse the record; warnings travel with the 202.

interface Band {
  maxAgeMonths: number;
  label: string;
  limits: Record<string, [number, number]>;
}
interface Plausibility {
  futureToleranceMinutes: number;
  clockAheadLimitHours: number;
  /** per record kind, the fields of which at least one must be there */
  measurements: Record<string, string[]>;
  bands: Band[];
  units: Record<string, string>;
  /** `message`, `lowMessage`: issues of the error table, checked when the table is read */
  unitSlips: Record<string, { factor?: number; message?: IssueCode; lowFactor?: number; lowMessage?: IssueCode }>;
}

const plausibility = defineMapping<Plausibility>('plausibility.json', (d, fail) => {
  for (const k of ['futureToleranceMinutes', 'clockAheadLimitHours'] as const) {
    if (typeof d[k] !== 'number' || !(d[k] > 0)) fail(k, 'must be a number above 0');
  }
  if (!Array.isArray(d.bands) || d.bands.length === 0) fail('bands', 'must list at least one age band');
  d.bands.forEach((b, i) => {
    if (typeof b.maxAgeMonths !== 'number') fail(`bands[${i}].maxAgeMonths`, 'must be a number of months');
    for (const [field, range] of Object.entries(b.limits ?? {})) {
      if (!Array.isArray(range) || range.length !== 2 || !(range[0] < range[1])) fail(`bands[${i}].limits.${field}`, 'must be [min, max] with min < max');
    }
  });
  for (const [kind, fields] of Object.entries(d.measurements ?? {})) {
    if (!Array.isArray(fields) || fields.length === 0) fail(`measurements.${kind}`, 'must list the fields of which one is needed');
  }
  for (const [field, slip] of Object.entries(d.unitSlips ?? {})) {
    if (slip.factor !== undefined && (typeof slip.message !== 'string' || !(slip.factor > 1))) fail(`unitSlips.${field}`, 'a factor above 1 needs its message');
    if (slip.lowFactor !== undefined && (typeof slip.lowMessage !== 'string' || !(slip.lowFactor > 1))) fail(`unitSlips.${field}`, 'a lowFactor above 1 needs its lowMessage');
    for (const k of ['message', 'lowMessage'] as const) {
      const key = slip[k];
      if (key !== undefined && !Object.hasOwn(issueCodes, key)) fail(`unitSlips.${field}.${k}`, `"${String(key)}" is not an issue of src/errors/codes.ts`);
    }
  }
});

/** `history` and `recordKey` (`${source}.${recordId}`): what Gerbang knows of the person, for a vaccine named without its dose. */
export function checkRecord(record: CanonicalRecord, facilities: Config['facilities'], now: Date, history?: SubjectHistory, recordKey?: string): Issue[] {
  const dateIssues = checkDates(record, now);
  return [
    ...checkPosyandu(record, facilities),
    ...checkIdentity(record),
    ...dateIssues,
    ...checkVisit(record, now),
    // Plausible values depend on the age, which wrong dates make meaningless.
    ...(dateIssues.length === 0 ? checkMeasurements(record) : []),
    ...checkBloodPressure(record),
    ...checkPregnancy(record),
    ...checkImmunization(record, history, recordKey),
    ...(record.kind === 'anthropometry' && dateIssues.length === 0 ? checkAnthropometry(record) : []),
  ];
}

function checkPosyandu(record: CanonicalRecord, facilities: Config['facilities']): Issue[] {
  if (Object.hasOwn(facilities.posyandu, record.posyandu)) return [];
  return [{ key: 'posyandu.unknown', severity: 'error', path: 'posyandu', params: { value: record.posyandu } }];
}

function checkIdentity(record: CanonicalRecord): Issue[] {
  const issues: Issue[] = [];
  const { subject } = record;
  const niks: Array<[string, string | undefined]> = [
    ['subject.nik', subject.nik],
    ['subject.mother.nik', subject.mother?.nik],
    ['performer.nik', record.performer?.nik],
  ];
  for (const [path, nik] of niks) {
    if (nik === undefined) continue;
    const parsed = parseNik(nik);
    if (!parsed.ok) {
      issues.push({ key: `nik.${parsed.problem}`, severity: 'error', path });
    } else if (path === 'subject.nik') {
      // Both values, so that a person can tell which one is wrong; the record keeps what was sent
      // (a temporary NIK encodes no real birth date).
      const { day, month, yy, sex } = parsed.nik;
      const inNik = { 'birth-date': `${String(day).padStart(2, '0')}-${String(month).padStart(2, '0')}-${String(yy).padStart(2, '0')}`, sex };
      const sent = { 'birth-date': subject.birthDate, sex: subject.sex };
      for (const d of nikDisagreements(parsed.nik, subject.birthDate, subject.sex)) {
        issues.push({ key: `nik.disagrees-${d}`, severity: 'warning', path, params: { inNik: inNik[d], sent: sent[d] } });
      }
    }
  }
  if (subject.nik !== undefined && subject.nik === subject.mother?.nik) {
    issues.push({ key: 'nik.same-as-mother', severity: 'error', path: 'subject.nik' });
  }
  if (subject.nik === undefined && subject.mother?.nik === undefined) {
    issues.push({ key: 'subject.needs-identity', severity: 'error', path: 'subject.mother.nik' });
  }
  return issues;
}

const clockAheadLimitMs = (): number => plausibility().clockAheadLimitHours * 3_600_000;

function checkDates(record: CanonicalRecord, now: Date): Issue[] {
  const issues: Issue[] = [];
  const tolerance = plausibility().futureToleranceMinutes * 60_000;
  const birthDate = record.subject.birthDate;
  // A bare date is compared by calendar day, so that a visit today in WIT is not "tomorrow" in UTC.
  // The latest calendar date anywhere in Indonesia (WIT, UTC+9).
  const latestToday = new Date(now.getTime() + 9 * 3_600_000).toISOString().slice(0, 10);
  // A time a few hours ahead is a device clock running fast: accepted as sent, with a warning (a
  // kader's record is not silently shifted). Further ahead than a day, the date itself is wrong.
  const ahead = record.occurredAt.length === 10 ? (record.occurredAt > latestToday ? Infinity : 0) : toInstant(record.occurredAt).getTime() - now.getTime();
  if (ahead > clockAheadLimitMs()) {
    issues.push({ key: 'date.future', severity: 'error', path: 'occurredAt', params: { value: record.occurredAt } });
  } else if (ahead > tolerance) {
    issues.push({ key: 'date.clock-ahead', severity: 'warning', path: 'occurredAt', params: { value: record.occurredAt } });
  }
  if (birthDate > latestToday) {
    issues.push({ key: 'date.future', severity: 'error', path: 'subject.birthDate', params: { value: birthDate } });
  } else if (localDate(record.occurredAt) < birthDate) {
    issues.push({ key: 'date.before-birth', severity: 'error', path: 'occurredAt', params: { value: record.occurredAt, birthDate } });
  }
  return issues;
}

/** The record's own visit period: it ends after it begins, not in the future, and holds occurredAt. */
function checkVisit(record: CanonicalRecord, now: Date): Issue[] {
  if (!record.visit) return [];
  const { start, end } = record.visit;
  const issues: Issue[] = [];
  if (Date.parse(end) <= Date.parse(start)) issues.push({ key: 'visit.end-not-after-start', severity: 'error', path: 'visit.end', params: { start, end } });
  const ahead = Date.parse(end) - now.getTime();
  if (ahead > clockAheadLimitMs()) issues.push({ key: 'date.future', severity: 'error', path: 'visit.end', params: { value: end } });
  else if (ahead > plausibility().futureToleranceMinutes * 60_000) issues.push({ key: 'date.clock-ahead', severity: 'warning', path: 'visit.end', params: { value: end } });
  // A date-only occurredAt is within the visit when its day is one of the visit's local days.
  const at = record.occurredAt;
  const inside = at.length === 10 ? localDate(start) <= at && at <= localDate(end) : Date.parse(start) <= Date.parse(at) && Date.parse(at) <= Date.parse(end);
  if (!inside) issues.push({ key: 'visit.outside', severity: 'error', path: 'occurredAt', params: { value: at, start, end } });
  return issues;
}

function checkMeasurements(record: CanonicalRecord): Issue[] {
  const fields = plausibility().measurements[record.kind];
  // Kinds without measurements (immunisation) are judged by their own checks.
  if (!fields) return [];
  const values = record as unknown as Record<string, unknown>;
  const present = fields.filter((f) => values[f] !== undefined);
  if (present.length === 0) {
    return [{ key: 'measurement.none', severity: 'error', params: { fields } }];
  }
  const ageMonths = Math.max(0, completedMonths(record.subject.birthDate, localDate(record.occurredAt)));
  const band = plausibility().bands.find((b) => ageMonths < b.maxAgeMonths) ?? plausibility().bands.at(-1);
  if (!band) return [];
  const issues: Issue[] = [];
  for (const field of present) {
    const value = values[field];
    if (typeof value !== 'number') continue;
    const limits = band.limits[field];
    if (!limits) continue;
    const [min, max] = limits;
    if (value >= min && value <= max) continue;
    const slip = unitSlip(field, value, min, max);
    if (slip) {
      issues.push({ key: slip.message, severity: 'error', path: field, params: { value, suggested: round(slip.suggested) } });
    } else {
      issues.push({
        key: 'value.implausible',
        severity: 'error',
        path: field,
        params: { value, min, max, unit: plausibility().units[field] ?? '', age: ageMonths },
      });
    }
  }
  return issues;
}

/** The unit slip that explains a value out of range, if one does (grams for kg, mmol/L for mg/dL…). */
function unitSlip(field: string, value: number, min: number, max: number): { message: IssueCode; suggested: number } | undefined {
  const slip = plausibility().unitSlips[field];
  if (!slip) return undefined;
  const within = (v: number) => v >= min && v <= max;
  if (value > max && slip.factor && slip.message && within(value / slip.factor)) return { message: slip.message, suggested: value / slip.factor };
  if (value < min && slip.lowFactor && slip.lowMessage && within(value * slip.lowFactor)) return { message: slip.lowMessage, suggested: value * slip.lowFactor };
  return undefined;
}

function checkBloodPressure(record: CanonicalRecord): Issue[] {
  const { systolic, diastolic } = record as { systolic?: number; diastolic?: number };
  if (systolic === undefined || diastolic === undefined || systolic > diastolic) return [];
  return [{ key: 'value.bp-swapped', severity: 'error', path: 'systolic', params: { systolic, diastolic } }];
}

function checkPregnancy(record: CanonicalRecord): Issue[] {
  if (record.kind !== 'anc-visit') return [];
  const issues: Issue[] = [];
  if (record.subject.sex !== 'female') issues.push({ key: 'anc.subject-not-female', severity: 'error', path: 'subject.sex' });
  const { lmp, edd } = record.pregnancy;
  const visit = localDate(record.occurredAt);
  if (lmp >= visit) issues.push({ key: 'anc.lmp-after-visit', severity: 'error', path: 'pregnancy.lmp', params: { value: lmp } });
  else if (daysBetween(lmp, visit) > 45 * 7) {
    issues.push({ key: 'anc.too-long', severity: 'error', path: 'pregnancy.lmp', params: { weeks: Math.floor(daysBetween(lmp, visit) / 7) } });
  }
  if (edd !== undefined && edd <= lmp) issues.push({ key: 'anc.edd-before-lmp', severity: 'error', path: 'pregnancy.edd', params: { value: edd } });
  return issues;
}

function checkImmunization(record: CanonicalRecord, history: SubjectHistory | undefined, recordKey: string | undefined): Issue[] {
  if (record.kind !== 'immunization') return [];
  const issues: Issue[] = [];
  const sent = typeof record.vaccine === 'string' ? record.vaccine : record.vaccine.antigen;
  const read = resolveDose(record, history?.doses, recordKey);
  if (!read.ok && read.reason === 'dose-missing') {
    const name = read.antigen.name.id;
    issues.push({ key: 'vaccine.dose-missing', severity: 'error', path: 'vaccine', params: { value: name, example: read.choices[0], choices: read.choices } });
  } else if (!read.ok) {
    issues.push({ key: `vaccine.${read.reason}`, severity: 'error', path: 'vaccine', params: { value: sent } });
  } else if (read.dose > read.antigen.maxDose) {
    issues.push({ key: 'vaccine.dose-too-high', severity: 'error', path: 'vaccine', params: { value: read.dose, max: read.antigen.maxDose } });
  } else if (read.basis === 'schedule' && read.antigen.maxDose > 1) {
    // A vaccine of one dose (BCG, JE) needs no word; HB0 is the schedule's only Hepatitis B dose of several.
    issues.push({ key: 'vaccine.dose-from-schedule', severity: 'warning', path: 'vaccine', params: { value: sent, dose: read.dose, antigen: read.antigen.name.id } });
  } else if (read.basis === 'age') {
    issues.push({ key: 'vaccine.dose-from-age', severity: 'warning', path: 'vaccine', params: { value: sent, dose: read.dose, age: read.ageMonths } });
  } else if (read.basis === 'history' && read.after) {
    issues.push({ key: 'vaccine.dose-from-history', severity: 'warning', path: 'vaccine', params: { value: sent, dose: read.dose, after: read.after.dose, afterDate: read.after.date } });
  }
  if (record.status === 'not-given' && !record.notGivenReason) issues.push({ key: 'field.required', severity: 'error', path: 'notGivenReason' });
  // The expiry is judged against the day the dose was given, whatever is wrong with the other dates.
  if (record.expirationDate !== undefined && record.expirationDate <= localDate(record.occurredAt)) {
    issues.push({ key: 'vaccine.expired', severity: 'error', path: 'expirationDate', params: { value: record.expirationDate } });
  }
  // SATUSEHAT refuses a health worker's dose without lot and expiry (10306, 10307); a kader's report needs neither.
  if (givenByHealthWorker(record)) {
    for (const field of ['lotNumber', 'expirationDate'] as const) {
      if (record[field] === undefined) issues.push({ key: 'vaccine.lot-missing', severity: 'error', path: field });
    }
    if (record.performer?.nik === undefined) issues.push({ key: 'vaccine.performer-without-nik', severity: 'warning', path: 'performer.nik' });
  }
  return issues;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
