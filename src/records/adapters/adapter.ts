import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { mappingsDir } from '../../config/paths.js';
import type { Config, TimeZone } from '../../config/types.js';
import type { Issue } from '../../errors/gerbang-error.js';
import { MappingDataError } from '../../tables/mapping-data-error.js';
import { readMapping } from '../../tables/read-table.js';
import { parseNik } from '../nik.js';
import { completedMonths } from '../../indicators/calendar-age.js';
import { readBloodPressure, readBoolean, readDate, readDateTime, readInteger, readNik, readNumber, type Read } from './values.js';

// A source adapter turns one app's native record into canonical records, declared as data
// (mappings/adapters/<name>.json): where each canonical field comes from, how its value is read,
// which app words mean what. No code per app. README "Writing an adapter" explains the format.

type As = 'string' | 'number' | 'integer' | 'boolean' | 'date' | 'datetime' | 'nik' | 'systolic' | 'diastolic' | 'year-month' | 'gravida' | 'para' | 'abortus';

export interface FieldSpec {
  path?: string | string[];
  const?: unknown;
  context?: 'posyandu';
  template?: string;
  as?: As;
  map?: string | Record<string, unknown>;
  unit?: 'g' | 'mm' | 'g/L';
  missing?: unknown[];
  optional?: boolean;
  derive?: 'sex-from-nik' | 'birth-date-from-nik' | 'position-from-age';
}

export interface RecordSpec {
  kind: string;
  when?: Record<string, unknown[]>;
  fields: Record<string, FieldSpec>;
}

export interface Adapter {
  name: string;
  app: string;
  description?: string;
  records: RecordSpec[];
  valueMaps?: Record<string, Record<string, unknown>>;
}

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

const adapterFileSchema = {
  type: 'object',
  required: ['name', 'app', 'records'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,39}$' },
    app: { type: 'string' },
    description: { type: 'string' },
    valueMaps: { type: 'object', additionalProperties: { type: 'object' } },
    records: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['kind', 'fields'],
        properties: {
          kind: { enum: ['anthropometry', 'anc-visit', 'immunization', 'screening'] },
          when: { type: 'object', additionalProperties: { type: 'array' } },
          fields: {
            type: 'object',
            additionalProperties: {
              type: 'object',
              additionalProperties: false,
              properties: {
                path: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
                const: {},
                context: { enum: ['posyandu'] },
                template: { type: 'string' },
                as: { enum: ['string', 'number', 'integer', 'boolean', 'date', 'datetime', 'nik', 'systolic', 'diastolic', 'year-month', 'gravida', 'para', 'abortus'] },
                map: { anyOf: [{ type: 'string' }, { type: 'object' }] },
                unit: { enum: ['g', 'mm', 'g/L'] },
                missing: { type: 'array' },
                optional: { type: 'boolean' },
                derive: { enum: ['sex-from-nik', 'birth-date-from-nik', 'position-from-age'] },
              },
            },
          },
        },
      },
    },
  },
} as const;

const validateFile = new Ajv({ allErrors: true, strict: false }).compile(adapterFileSchema);
const adaptersDir = join(mappingsDir, 'adapters');
const common = readMapping<{ valueMaps: Record<string, Record<string, unknown>> }>('adapters/_common.json', (d, fail) => {
  if (!d.valueMaps || typeof d.valueMaps !== 'object') fail('valueMaps', 'is required');
  for (const [name, map] of Object.entries(d.valueMaps)) if (!map || typeof map !== 'object') fail(`valueMaps.${name}`, 'must map values');
});

/** Every adapter under mappings/adapters, read and checked once (a bad file stops start-up). */
export const adapters: ReadonlyMap<string, Adapter> = loadAdapters();

function loadAdapters(): Map<string, Adapter> {
  const out = new Map<string, Adapter>();
  for (const file of readdirSync(adaptersDir).filter((f) => f.endsWith('.json') && !f.startsWith('_')).sort()) {
    const path = join(adaptersDir, file);
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new MappingDataError(`${path}: cannot be read as JSON (${(err as Error).message})`);
    }
    if (!validateFile(data)) {
      const e = validateFile.errors?.[0];
      throw new MappingDataError(`${path}: ${e?.instancePath || '/'} ${e?.message ?? 'is not a valid adapter'}`);
    }
    const adapter = data as Adapter;
    for (const [i, r] of adapter.records.entries()) {
      for (const [field, spec] of Object.entries(r.fields)) {
        if (typeof spec.map === 'string' && !adapter.valueMaps?.[spec.map] && !common.valueMaps[spec.map]) {
          throw new MappingDataError(`${path}: /records/${i}/fields/${field}/map: no value map "${spec.map}"`);
        }
      }
    }
    out.set(adapter.name, adapter);
  }
  return out;
}

const DEFAULT_MISSING = [null, undefined, '', '-', '--'];

/** Reads a dotted path (with [n] indexes) from a native record. */
function at(native: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, step) => {
    if (node === null || typeof node !== 'object') return undefined;
    const m = /^(.+)\[(\d+)\]$/.exec(step);
    if (m) {
      const arr = (node as Record<string, unknown>)[m[1] ?? ''];
      return Array.isArray(arr) ? arr[Number(m[2])] : undefined;
    }
    return (node as Record<string, unknown>)[step];
  }, native);
}

interface Context {
  posyandu?: string;
  facilities: Config['facilities'];
}

export function runAdapter(adapter: Adapter, native: unknown, ctx: Context): AdapterResult {
  if (native === null || typeof native !== 'object' || Array.isArray(native)) {
    return { records: [], issues: [{ key: 'record.not-object', severity: 'error' }] };
  }
  const specs = adapter.records.filter((r) => matches(r, native));
  if (specs.length === 0) return { records: [], issues: [{ key: 'adapter.no-record', severity: 'error', params: { adapter: adapter.name } }] };
  const issues: Issue[] = [];
  const records: AdapterResult['records'] = [];
  for (const spec of specs) {
    const out = buildRecord(adapter, spec, native, ctx);
    issues.push(...out.issues);
    records.push({ record: out.record, provenance: out.provenance, issues: out.issues });
  }
  return { records, issues };
}

/** `when` picks the native records a spec applies to: listed values, or "$present". */
function matches(spec: RecordSpec, native: unknown): boolean {
  return Object.entries(spec.when ?? {}).every(([path, values]) => {
    const v = at(native, path);
    return values.some((w) =>
      w === '$present' ? v !== undefined && v !== null : typeof w === 'string' && typeof v === 'string' ? w.toLowerCase() === v.trim().toLowerCase() : w === v,
    );
  });
}

function buildRecord(adapter: Adapter, spec: RecordSpec, native: unknown, ctx: Context) {
  const record: Record<string, unknown> = { kind: spec.kind };
  const provenance: Provenance[] = [];
  const issues: Issue[] = [];
  const deferred: Array<[string, FieldSpec]> = [];
  for (const [field, fs] of Object.entries(spec.fields)) {
    if (fs.derive) {
      deferred.push([field, fs]);
      continue;
    }
    const out = readField(adapter, field, fs, native, ctx, zoneOf(ctx, record));
    if ('issue' in out) issues.push(out.issue);
    else if (out.value !== undefined) {
      setPath(record, field, out.value);
      provenance.push(out.provenance);
    }
  }
  for (const [field, fs] of deferred) {
    if (getPath(record, field) !== undefined) continue;
    const derived = derive(fs.derive, record);
    if (derived !== undefined) {
      setPath(record, field, derived.value);
      provenance.push({ field, value: derived.value, rules: [derived.rule] });
    } else if (!fs.optional) {
      issues.push({ key: 'field.required', severity: 'error', path: field, ...(fs.path ? { source: [fs.path].flat().join(' | ') } : {}) });
    }
  }
  return { record, provenance, issues };
}

function zoneOf(ctx: Context, record: Record<string, unknown>): TimeZone {
  const code = (typeof record.posyandu === 'string' ? record.posyandu : ctx.posyandu) ?? '';
  const p = ctx.facilities.posyandu[code];
  return p?.timeZone ?? (p ? ctx.facilities.puskesmas[p.puskesmas]?.timeZone : undefined) ?? 'WIB';
}

type FieldOut = { value: unknown; provenance: Provenance } | { issue: Issue };

function readField(adapter: Adapter, field: string, fs: FieldSpec, native: unknown, ctx: Context, zone: TimeZone): FieldOut {
  const paths = fs.path === undefined ? [] : Array.isArray(fs.path) ? fs.path : [fs.path];
  const source = paths.join(' | ') || undefined;
  const missing = [...DEFAULT_MISSING, ...(fs.missing ?? [])];
  let original: unknown;
  let rules: string[] = [];
  if (fs.const !== undefined) original = fs.const;
  else if (fs.context === 'posyandu') original = ctx.posyandu;
  else if (fs.template !== undefined) {
    original = fs.template.replace(/\{([^}]+)\}/g, (_, p: string) => String(at(native, p) ?? ''));
  } else if (fs.as === 'year-month') {
    const [y, m] = paths.map((p) => at(native, p));
    original = y === undefined || m === undefined ? undefined : `${String(y)}-${String(m)}`;
  } else {
    original = paths.map((p) => at(native, p)).find((v) => !missing.includes(v as never));
  }
  if (missing.includes(original as never) || (typeof original === 'string' && missing.includes(original.trim()))) {
    if (fs.optional) return { value: undefined, provenance: { field, source, value: undefined, rules: [] } };
    return { issue: { key: 'field.required', severity: 'error', path: field, ...(source ? { source } : {}) } };
  }
  let value: unknown = original;
  if (fs.map !== undefined) {
    const table = typeof fs.map === 'string' ? (adapter.valueMaps?.[fs.map] ?? common.valueMaps[fs.map] ?? {}) : fs.map;
    const key = String(value).trim().toLowerCase();
    const hit = Object.entries(table).find(([k]) => k.toLowerCase() === key);
    if (!hit) {
      return { issue: { key: 'adapter.unknown-value', severity: 'error', path: field, ...(source ? { source } : {}), params: { value: String(value), allowed: Object.keys(table) } } };
    }
    value = hit[1];
    rules.push(`value-map${typeof fs.map === 'string' ? `:${fs.map}` : ''}`);
  }
  if (fs.as && fs.as !== 'string') {
    const read = readAs(fs.as, value, zone);
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

function readAs(as: As, v: unknown, zone: TimeZone): Read<unknown> {
  switch (as) {
    case 'number':
      return readNumber(v);
    case 'integer':
      return readInteger(v);
    case 'boolean':
      return readBoolean(v);
    case 'date':
      return readDate(v);
    case 'datetime':
      return readDateTime(v, zone);
    case 'nik':
      return readNik(v);
    case 'systolic':
    case 'diastolic': {
      const bp = readBloodPressure(v);
      if (bp.ok) return { ok: true, value: bp.value[as], rules: bp.rules };
      // A split column holds one number; a "14090" in a "120/80" column is not one.
      return typeof v === 'number' || /^\s*\d{2,3}(\.0+)?\s*$/.test(String(v)) ? readInteger(v) : { ok: false, problem: 'not-blood-pressure' };
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
