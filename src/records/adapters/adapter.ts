import type { Config, TimeZone } from '../../config/types.js';
import type { Issue } from '../../errors/gerbang-error.js';
import { parseNik } from '../nik.js';
import { completedMonths } from '../../indicators/calendar-age.js';
import type { As, Adapter, FieldSpec, RecordSpec } from './adapter-format.js';
import { timeZoneNames } from './adapter-format.js';
import { evaluate, holds, withoutPaths, type Failure } from './conditions.js';
import { parseJsonText, readJsonText, type Unreadable } from './json-text.js';
import { at, placeOf, placesOf, replaceAt, type Relations } from './paths.js';
import { parsePlaceholder, slug } from './template.js';
import { isBlank, readBloodPressure, readBoolean, readDate, readDateTime, readInteger, readNik, readNumber, type Read, type Zones } from './values.js';

// A source adapter turns one app's native record into canonical records, declared as data
// (mappings/adapters/<name>.json, checked by adapter-file.ts): where each canonical field comes
// from, how its value is read, which app words mean what. No code per app. docs/adapters.md
// explains the format.

export type { Adapter } from './adapter-format.js';

export interface Provenance {
  field: string;
  source?: string;
  original?: unknown;
  value: unknown;
  rules: string[];
}

export interface Adapted {
  record: Record<string, unknown>;
  provenance: Provenance[];
}

/** The canonical records (with what could be read, when some values could not) and the problems. */
export interface AdapterResult {
  /** each with the problems of that record alone, so the good records of a row can go in */
  records: Array<Adapted & { issues: Issue[] }>;
  /** every problem: of the row as a whole (no record in it), or of one of its records */
  issues: Issue[];
}

const DEFAULT_MISSING: unknown[] = [null, undefined, '', '-', '--'];

interface Context {
  posyandu?: string;
  facilities: Config['facilities'];
}

/** What one record entry reads with: the row, the request, and the relations of the entry. */
interface Reading {
  adapter: Adapter;
  relations: Relations;
  /** the row, with a list the app keeps as JSON text read as the list */
  native: unknown;
  /** with `each`: the element's position and place in the row */
  element?: { index: number; place: string };
  ctx: Context;
  /** columns both systolic and diastolic are read from: "120/80" in one cell */
  bloodPressureColumns: Set<string>;
}

export function runAdapter(adapter: Adapter, native: unknown, ctx: Context): AdapterResult {
  if (native === null || typeof native !== 'object' || Array.isArray(native)) {
    return { records: [], issues: [{ key: 'record.not-object', severity: 'error' }] };
  }
  const relationsOf = (spec: RecordSpec): Relations => ({ ...adapter.relations, ...spec.relations });
  const applying = adapter.records.flatMap((spec) => instancesOf(spec, native, relationsOf(spec)).filter((i) => holds(i.unread ? withoutPaths(spec.when, i.unread) : spec.when, i.row, i.relations)).map((i) => ({ spec, ...i })));
  if (applying.length === 0) return { records: [], issues: whyNoRecord(adapter, native, relationsOf) };
  const issues: Issue[] = [];
  const records: AdapterResult['records'] = [];
  for (const { spec, relations, row, element, unreadable } of applying) {
    // A list that cannot be read is a refused record of its entry, so that the row's other
    // records do not go in as if the list had been empty.
    const out = unreadable
      ? { record: { kind: spec.kind }, provenance: [], issues: [unreadable] }
      : buildRecord(spec, { adapter, relations, native: row, ...(element ? { element } : {}), ctx, bloodPressureColumns: bloodPressureColumns(spec) });
    issues.push(...out.issues);
    records.push({ record: out.record, provenance: out.provenance, issues: out.issues });
  }
  return { records, issues };
}

/**
 * No entry applies. The entries the row came closest to (fewest parts of `when` failing, at least
 * one holding) say what is missing or which value is not a record; a row that meets no part of any
 * entry is another kind of row altogether.
 */
function whyNoRecord(adapter: Adapter, native: unknown, relationsOf: (spec: RecordSpec) => Relations): Issue[] {
  const all = adapter.records.map((r) => {
    // An entry per element of a list needs an element; its conditions are told of the first one.
    const [first] = instancesOf(r, native, relationsOf(r));
    if (!r.each) return { kind: r.kind, ...evaluate(r.when, native, relationsOf(r)) };
    if (!first) return { kind: r.kind, ...evaluate({ [r.each.path]: ['$present'], [`${r.each.path}[0]`]: ['$present'] }, native, relationsOf(r)) };
    return { kind: r.kind, ...evaluate(r.when, first.row, first.relations) };
  });
  const tried = all.filter((e) => e.held > 0);
  const fewest = Math.min(...tried.map((e) => e.failures.length));
  const closest = tried.filter((e) => e.failures.length === fewest);
  if (closest.length === 0 || closest.every((e) => e.failures.length === 0)) {
    const needs = all.map((e) => `${e.kind}: ${e.failures.map((f) => (f.allowed ? `${f.path} = ${f.allowed.map((a) => JSON.stringify(a)).join(' / ')}` : f.path)).join(', ')}`);
    return [{ key: 'adapter.no-record', severity: 'error', params: { adapter: adapter.name, needs: needs.join('; ') } }];
  }
  const byPath = new Map<string, { failure: Failure; kinds: Set<string>; allowed: Set<unknown> }>();
  for (const e of closest) {
    for (const f of e.failures) {
      const seen = byPath.get(f.path) ?? { failure: f, kinds: new Set<string>(), allowed: new Set<unknown>() };
      seen.kinds.add(e.kind);
      for (const a of f.allowed ?? []) seen.allowed.add(a);
      byPath.set(f.path, seen);
    }
  }
  return [...byPath.entries()].map(([path, { failure, kinds, allowed }]): Issue =>
    failure.missing
      ? { key: 'adapter.record-incomplete', severity: 'error', source: path, params: { adapter: adapter.name, kind: [...kinds], missing: path } }
      : // `$absent` allows no value at all: said as a word ("empty"), not as an empty list
        { key: 'adapter.not-a-record-value', severity: 'error', source: path, params: { adapter: adapter.name, kind: [...kinds], value: String(failure.value), allowed: allowed.size > 0 ? [...allowed].map(String) : 'empty' } },
  );
}

/**
 * What an entry reads each of its records with: one record, or with `each`, one per element of a
 * list, the element named by `each.as` (a relation to `list[i]`, so that provenance and problems
 * name the element the app sent); the row with the JSON text the entry names read into it.
 */
interface Instance {
  relations: Relations;
  row: unknown;
  element?: { index: number; place: string };
  /** JSON text the entry reads that cannot be read: the entry's one (refused) record */
  unreadable?: Issue;
  /** the paths under which the row could not be read (their `when` parts are not judged) */
  unread?: string[];
}

function instancesOf(spec: RecordSpec, native: unknown, relations: Relations): Instance[] {
  const as = spec.each?.as;
  const aboutElement = (p: string) => as !== undefined && (p === as || p.startsWith(`${as}.`) || p.startsWith(`${as}[`));
  const refused = (row: unknown, key: Issue['key'], u: Unreadable, unread: string, rel = relations): Instance => ({
    relations: rel, row, unreadable: { key, severity: 'error', source: u.place, params: { value: u.value } }, unread: [unread],
  });
  const rowPaths = (spec.jsonText ?? []).filter((p) => !aboutElement(p));
  const base = readJsonText(native, rowPaths, relations);
  if (base.unreadable) return [refused(base.row, 'adapter.not-json-text', base.unreadable, base.unreadable.path)];
  if (!spec.each) return [{ relations, row: base.row }];
  const place = placeOf(base.row, spec.each.path, relations);
  let list = at(base.row, spec.each.path, relations);
  let row = base.row;
  if (spec.each.jsonText && typeof list === 'string' && !isBlank(list)) {
    const parsed = parseJsonText(list);
    if (!Array.isArray(parsed)) return [refused(row, 'adapter.not-json-list', { path: spec.each.path, place, value: list }, as ?? '')];
    list = parsed;
    row = replaceAt(row, place, parsed);
  }
  if (!Array.isArray(list)) return [];
  const elementPaths = (spec.jsonText ?? []).filter(aboutElement);
  return list.map((_, index): Instance => {
    const rel = { ...relations, [as ?? '']: [`${place}[${index}]`] };
    const own = readJsonText(row, elementPaths, rel);
    if (own.unreadable) return refused(own.row, 'adapter.not-json-text', own.unreadable, as ?? '', rel);
    return { relations: rel, row: own.row, element: { index, place: `${place}[${index}]` } };
  });
}

function bloodPressureColumns(spec: RecordSpec): Set<string> {
  const pathsAs = (as: As) => new Set(Object.values(spec.fields).flatMap((f) => (f.as === as ? [f.path ?? []].flat() : [])));
  const diastolic = pathsAs('diastolic');
  return new Set([...pathsAs('systolic')].filter((p) => diastolic.has(p)));
}

function buildRecord(spec: RecordSpec, r: Reading) {
  const record: Record<string, unknown> = { kind: spec.kind };
  const provenance: Provenance[] = [];
  const issues: Issue[] = [];
  const deferred: Array<[string, FieldSpec]> = [];
  for (const [field, fs] of Object.entries(spec.fields)) {
    // A field that can be derived is read from the row first; the derivation fills it only when
    // the row has no value, so the row's own birth date or sex is never replaced by the NIK's.
    const out = fs.path === undefined && fs.cases === undefined && fs.derive ? undefined : readField(field, fs.derive ? { ...fs, optional: true } : fs, r, record);
    if (out && 'issue' in out) issues.push(out.issue);
    else if (out && out.value !== undefined) {
      setPath(record, field, out.value);
      provenance.push(out.provenance);
    } else {
      // A value the adapter declares as "not recorded" (0.00, "Tidak") is shown as such.
      if (out && out.provenance.rules.length > 0) provenance.push(out.provenance);
      if (fs.derive) deferred.push([field, fs]);
    }
  }
  for (const [field, fs] of deferred) {
    const derived = derive(fs.derive, record);
    if (derived !== undefined) {
      setPath(record, field, derived.value);
      provenance.push({ field, value: derived.value, rules: [derived.rule] });
    } else if (!fs.optional) {
      const source = sourceOf(fs, r.relations);
      issues.push({ key: 'field.required', severity: 'error', path: field, ...(source ? { source } : {}) });
    }
  }
  return { record, provenance, issues };
}

/** The posyandu's zone (of the record read so far, else of the request) and the app's, if stated. */
function zonesOf(r: Reading, fs: FieldSpec, record: Record<string, unknown>): Zones {
  const code = (typeof record.posyandu === 'string' ? record.posyandu : r.ctx.posyandu) ?? '';
  const p = r.ctx.facilities.posyandu[code];
  const place: TimeZone = p?.timeZone ?? (p ? r.ctx.facilities.puskesmas[p.puskesmas]?.timeZone : undefined) ?? 'WIB';
  const app = fs.timeZone ?? r.adapter.timeZone;
  return { place, ...(app ? { app: timeZoneNames[app] } : {}) };
}

/** The app's places a field reads, for a problem: every place its relations may stand for. */
function sourceOf(fs: FieldSpec, relations: Relations): string | undefined {
  const paths = [fs.path ?? [], ...(fs.cases ?? []).map((c) => c.path ?? [])].flat();
  return [...new Set(paths.flatMap((p) => placesOf(p, relations)))].join(' | ') || undefined;
}

type FieldOut = { value: unknown; provenance: Provenance } | { issue: Issue };

function readField(field: string, spec: FieldSpec, r: Reading, record: Record<string, unknown>): FieldOut {
  const { adapter, native, ctx, relations } = r;
  // A field with cases reads as its first case whose `when` holds; with none, it is absent.
  const fs: FieldSpec = spec.cases ? { ...spec.cases.find((c) => holds(c.when, native, relations)), ...(spec.optional ? { optional: true } : {}) } : spec;
  const paths = fs.path === undefined ? [] : Array.isArray(fs.path) ? fs.path : [fs.path];
  const missing = [...DEFAULT_MISSING, ...(fs.missing ?? [])];
  const table = fs.map === undefined ? undefined : typeof fs.map === 'string' ? (adapter.valueMaps?.[fs.map] ?? {}) : fs.map;
  const entryOf = (v: unknown) => (table && v !== null && v !== undefined ? Object.entries(table).find(([k]) => k.toLowerCase() === String(v).trim().toLowerCase()) : undefined);
  // A word the map names is a value, even one that usually means nothing ("-" for a negative urine protein).
  const isMissing = (v: unknown) => !entryOf(v) && (isBlank(v) || missing.some((m) => sameValue(m, v)));
  let source = sourceOf(spec, relations);
  let original: unknown;
  let rules: string[] = [];
  if (fs.const !== undefined) original = fs.const;
  else if (fs.context === 'posyandu') original = ctx.posyandu;
  else if (fs.template !== undefined) {
    const filled = fillTemplate(fs.template, r);
    original = filled.text;
    source = filled.source;
  } else if (fs.as === 'year-month') {
    const [y, m] = paths.map((p) => at(native, p, relations));
    original = y === undefined || m === undefined ? undefined : `${String(y)}-${String(m)}`;
  } else {
    // The first place that holds a value wins; the provenance names that place.
    const found = paths.map((p) => ({ p, v: at(native, p, relations) }));
    // ...else the first value the adapter declares as "not recorded", to be shown as such.
    const hit = found.find(({ v }) => !isMissing(v)) ?? found.find(({ v }) => !isBlank(v));
    original = hit?.v;
    if (hit) source = placeOf(native, hit.p, relations);
  }
  const absent = (...why: string[]): FieldOut => {
    if (fs.optional) return { value: undefined, provenance: { field, ...(source ? { source } : {}), original, value: undefined, rules: why } };
    return { issue: { key: 'field.required', severity: 'error', path: field, ...(source ? { source } : {}), ...(original === undefined ? {} : { params: { value: String(original) } }) } };
  };
  if (isMissing(original)) return absent(...(isBlank(original) ? [] : ['missing-value']));
  let value: unknown = original;
  if (table) {
    const hit = entryOf(value);
    if (hit) {
      // A word the app writes for "not done / not measured" maps to null: the field is absent.
      if (hit[1] === null) return absent(`value-map${typeof fs.map === 'string' ? `:${fs.map}` : ''}`);
      value = hit[1];
      rules.push(`value-map${typeof fs.map === 'string' ? `:${fs.map}` : ''}`);
    } else if (fs.unmapped === 'missing') {
      return absent('value-map-unmapped-missing');
    } else if (fs.unmapped !== 'keep') {
      return { issue: { key: 'adapter.unknown-value', severity: 'error', path: field, ...(source ? { source } : {}), params: { value: String(value), allowed: Object.keys(table) } } };
    }
  }
  // One number in a "120/80" column is a systolic pressure without its diastolic, not both.
  if (fs.as === 'diastolic' && paths.some((p) => r.bloodPressureColumns.has(p)) && isLonePressure(value)) {
    return { issue: { key: 'adapter.diastolic-missing', severity: 'error', path: field, ...(source ? { source } : {}), params: { value: String(original) } } };
  }
  if (fs.as && fs.as !== 'string') {
    const read = readAs(fs.as, value, zonesOf(r, fs, record));
    if (!read.ok) {
      return { issue: { key: `adapter.${read.problem}`, severity: 'error', path: field, ...(source ? { source } : {}), params: { value: String(original) } } };
    }
    value = read.value;
    rules = [...rules, ...read.rules];
  } else if (typeof value === 'string') {
    value = value.trim();
  }
  if (fs.unit && typeof value === 'number') {
    const factor = { g: 1000, mm: 10, 'g/L': 10 }[fs.unit];
    value = Math.round((value / factor) * 1000) / 1000;
    rules.push(`unit-${fs.unit}`);
  }
  return { value, provenance: { field, ...(source ? { source } : {}), original, value, rules } };
}

/**
 * A template's text and the app's columns it read (`jenis + dosis`), so that a problem with the
 * value it makes names them; a placeholder with nothing there names every place it tried.
 */
function fillTemplate(template: string, r: Reading): { text: string; source?: string } {
  const columns: string[] = [];
  const text = template.replace(/\{([^}]+)\}/g, (_, inner: string) => {
    const ph = parsePlaceholder(inner);
    if (ph.index) {
      if (r.element) columns.push(r.element.place);
      return r.element ? String(r.element.index) : '';
    }
    const hit = ph.alternatives.map((p) => ({ p, v: at(r.native, p, r.relations) })).find(({ v }) => !isBlank(v));
    columns.push(hit ? placeOf(r.native, hit.p, r.relations) : ph.alternatives.flatMap((p) => placesOf(p, r.relations)).join(' | '));
    if (!hit) return '';
    return ph.filter === 'slug' ? slug(hit.v) : String(hit.v);
  });
  const source = [...new Set(columns)].join(' + ');
  return { text, ...(source ? { source } : {}) };
}

/** A `missing` entry matches the same text, or, when a number, that number however it is written. */
function sameValue(m: unknown, v: unknown): boolean {
  if (typeof m === 'number') {
    const n = readNumber(v);
    return n.ok && n.value === m;
  }
  return m === v || (typeof m === 'string' && typeof v === 'string' && m.trim().toLowerCase() === v.trim().toLowerCase());
}

const isLonePressure = (v: unknown) => (typeof v === 'number' && v >= 10 && v < 1000) || /^\s*\d{2,3}(\.0+)?\s*$/.test(String(v));

function readAs(as: As, v: unknown, zones: Zones): Read<unknown> {
  switch (as) {
    case 'number':
      return readNumber(v);
    case 'integer':
      return readInteger(v);
    case 'boolean':
      return readBoolean(v);
    case 'date':
      return readDate(v, zones);
    case 'datetime':
      return readDateTime(v, zones);
    case 'nik':
      return readNik(v);
    case 'systolic':
    case 'diastolic': {
      const bp = readBloodPressure(v);
      if (bp.ok) return { ok: true, value: bp.value[as], rules: bp.rules };
      // A split column holds one number; a "14090" in a "120/80" column is not one.
      return isLonePressure(v) ? readInteger(v) : { ok: false, problem: 'not-blood-pressure' };
    }
    case 'year-month': {
      const m = /^(\d{4})-(\d{1,2})$/.exec(String(v));
      const month = Number(m?.[2]);
      if (!m || month < 1 || month > 12) return { ok: false, problem: 'not-a-month' };
      // A weighing known only by its month is dated mid-month: the age is then off by half a
      // month at most, and N/T only needs the month.
      return { ok: true, value: `${m[1]}-${String(month).padStart(2, '0')}-15`, rules: ['month-only-date-15th'] };
    }
    case 'gravida':
    case 'para':
    case 'abortus': {
      // "G2P1A0" in one string, as e-kohort keeps it; a plain number is read as such.
      const m = /G\s*(\d+)\s*P\s*(\d+)\s*A\s*(\d+)/i.exec(String(v));
      if (m) return { ok: true, value: Number(m[{ gravida: 1, para: 2, abortus: 3 }[as]]), rules: ['gpa-split'] };
      return readInteger(v);
    }
    default:
      return { ok: true, value: v, rules: [] };
  }
}

function derive(how: FieldSpec['derive'], record: Record<string, unknown>): { value: unknown; rule: string } | undefined {
  const nik = getPath(record, 'subject.nik');
  const parsed = typeof nik === 'string' ? parseNik(nik) : undefined;
  switch (how) {
    case 'sex-from-nik':
      return parsed?.ok ? { value: parsed.nik.sex, rule: 'sex-from-nik' } : undefined;
    case 'birth-date-from-nik': {
      if (!parsed?.ok) return undefined;
      // The NIK holds a two-digit year: the latest century that does not put the birth in the future.
      const now = new Date().getUTCFullYear() % 100;
      const year = (parsed.nik.yy > now ? 1900 : 2000) + parsed.nik.yy;
      const d = `${year}-${String(parsed.nik.month).padStart(2, '0')}-${String(parsed.nik.day).padStart(2, '0')}`;
      return { value: d, rule: 'birth-date-from-nik' };
    }
    case 'position-from-age': {
      const birth = getPath(record, 'subject.birthDate');
      const at = record.occurredAt;
      if (typeof birth !== 'string' || typeof at !== 'string' || record.heightCm === undefined) return undefined;
      // The standard measures lying under 24 months and standing from 24 months.
      return { value: completedMonths(birth, at.slice(0, 10)) < 24 ? 'lying' : 'standing', rule: 'position-from-age' };
    }
    default:
      return undefined;
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const steps = path.split('.');
  let node = target;
  for (const step of steps.slice(0, -1)) {
    node[step] ??= {};
    node = node[step] as Record<string, unknown>;
  }
  node[steps.at(-1) ?? ''] = value;
}

function getPath(target: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((n, s) => (n && typeof n === 'object' ? (n as Record<string, unknown>)[s] : undefined), target);
}
