import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { IssueCode } from '../errors/codes.js';
import type { Issue } from '../errors/gerbang-error.js';
import { isRecordKind, recordSchemas, type CanonicalRecord, type RecordKind } from './schemas/index.js';
import { isCalendarDateTime } from './time.js';

// A date, or a date-time that says its offset: a time without offset is ambiguous across WIB/WITA/WIT.
const dateTimeWithOffset = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

// useDefaults fills `status: given` and the like, so the stored record says what was meant.
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, useDefaults: true });
addFormats.default(ajv, ['date']);
ajv.addFormat('gerbang-datetime', {
  type: 'string',
  validate: (s: string) => dateTimeWithOffset.test(s) && isCalendarDateTime(s) && !Number.isNaN(Date.parse(s.length === 10 ? `${s}T00:00:00Z` : s)),
});
// A moment: a date-time with its offset, no bare date (a visit's start and end).
ajv.addFormat('gerbang-instant', {
  type: 'string',
  validate: (s: string) => s.length > 10 && dateTimeWithOffset.test(s) && isCalendarDateTime(s) && !Number.isNaN(Date.parse(s)),
});

// Written the right way but not on the calendar (2026-11-31, 25:00): said as such, not as a format slip.
/** The issue of each format the schemas use; a format without one of its own gets the general one. */
const FORMAT_KEYS: Record<string, IssueCode> = { date: 'field.format.date', 'gerbang-datetime': 'field.format.gerbang-datetime', 'gerbang-instant': 'field.format.gerbang-instant' };
const writtenLike: Record<string, RegExp> = { date: /^\d{4}-\d{2}-\d{2}$/, 'gerbang-datetime': dateTimeWithOffset, 'gerbang-instant': /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/ };

const validators = Object.fromEntries(
  Object.entries(recordSchemas).map(([kind, schema]) => [kind, ajv.compile(schema)]),
) as Record<RecordKind, ValidateFunction>;

export type SchemaResult = { ok: true; record: CanonicalRecord } | { ok: false; issues: Issue[] };

/** Checks the structure of an inbound record against its kind's JSON Schema. */
export function validateShape(body: unknown): SchemaResult {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, issues: [{ key: 'record.not-object', severity: 'error' }] };
  }
  const kind = (body as { kind?: unknown }).kind;
  if (kind === undefined) return { ok: false, issues: [{ key: 'field.required', severity: 'error', path: 'kind' }] };
  if (!isRecordKind(kind)) {
    return {
      ok: false,
      issues: [{ key: 'kind.unknown', severity: 'error', path: 'kind', params: { value: shown(kind), allowed: Object.keys(recordSchemas) } }],
    };
  }
  const validate = validators[kind];
  if (validate(body)) return { ok: true, record: body as CanonicalRecord };
  return { ok: false, issues: dedupe(collapseAnyOf(validate.errors ?? []).map((e) => toIssue(e, body))) };
}

/**
 * A value a client sent, as words for its answer. Never `String(value)`: a JSON object may carry
 * its own `toString`/`valueOf` keys, and converting it would throw.
 */
function shown(value: unknown): string {
  if (typeof value === 'string') return value.slice(0, 100);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return JSON.stringify(value);
  return Array.isArray(value) ? '[…]' : '{…}';
}

function valueAt(body: unknown, pointer: string): unknown {
  let node = body;
  for (const seg of pointer.split('/').slice(1)) {
    if (node === null || typeof node !== 'object') return undefined;
    const key = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    node = Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined;
  }
  return node;
}

function toIssue(e: ErrorObject, body: unknown): Issue {
  const at = pointerToPath(e.instancePath);
  const join = (child: string) => (at ? `${at}.${child}` : child);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { key: 'field.required', severity: 'error', path: join(String(p.missingProperty)) };
    case 'dependencies':
      return { key: 'field.depends', severity: 'error', path: join(String(p.missingProperty)), params: { other: String(p.property) } };
    case 'additionalProperties':
      return { key: 'field.unknown', severity: 'error', path: join(String(p.additionalProperty)) };
    case 'type':
      return { key: 'field.type', severity: 'error', path: at, params: { expected: String(p.type).split(',')[0] } };
    case 'enum':
      return { key: 'field.enum', severity: 'error', path: at, params: { allowed: p.allowedValues as string[] } };
    case 'const':
      return { key: 'field.enum', severity: 'error', path: at, params: { allowed: [String(p.allowedValue)] } };
    case 'format': {
      const value = valueAt(body, e.instancePath);
      if (typeof value === 'string' && writtenLike[String(p.format)]?.test(value)) return { key: 'field.impossible-date', severity: 'error', path: at, params: { value: value.slice(0, 40) } };
      return { key: FORMAT_KEYS[String(p.format)] ?? 'field.format', severity: 'error', path: at };
    }
    case 'pattern':
      return { key: /(^|\.)nik$/.test(at) ? 'nik.not-16-digits' : 'field.pattern', severity: 'error', path: at };
    case 'minLength':
      return { key: 'field.too-short', severity: 'error', path: at };
    case 'maxLength':
      return { key: 'field.too-long', severity: 'error', path: at, params: { limit: p.limit } };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { key: 'field.range', severity: 'error', path: at, params: { comparison: String(p.comparison), limit: p.limit } };
    case 'anyOf':
      return { key: `field.anyof`, severity: 'error', path: at };
    default:
      return { key: 'field.format', severity: 'error', path: at };
  }
}

/** An anyOf reports every branch's errors; one issue saying which forms are accepted reads better. */
function collapseAnyOf(errors: ErrorObject[]): ErrorObject[] {
  const alternatives = errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath);
  return errors.filter((e) => e.keyword === 'anyOf' || !alternatives.some((p) => e.instancePath === p || e.instancePath.startsWith(`${p}/`)));
}

/** `/subject/nik` → `subject.nik`; `/items/0/x` → `items[0].x` */
function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.key}|${i.path ?? ''}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
