import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { satusehatRules } from './satusehat-rule-table.js';

// How the test double applies the platform's validation rules to a resource it receives. Written
// apart from Gerbang's src/fhir/profile-check.ts so that a mistake there is not repeated here: the
// double is the platform's stand-in, and judges only what arrives on the wire.

interface Guard {
  /** FHIRPath from the resource type, e.g. Immunization.performer.function.coding.code */
  at: string;
  /** the guard holds when a value there is one of these (without oneOf: when there is a value) */
  oneOf?: string[];
}

export type RuleCheck = { at: string; onlyIf?: Guard[] } & (
  | { is: 'present' }
  | { is: 'code'; codes: string[] }
  | { is: 'matching'; regex: string }
  | { is: 'dateTime' | 'date' | 'time' | 'decimal' | 'integer' | 'positiveInt' | 'string' }
  | { is: 'laterThan'; than: string }
  | { is: 'referenceTo'; types: string[] }
  | { is: 'codedIn'; systems: string[] }
);

export type RuleTable = Record<number, { message: string; checks: RuleCheck[] }>;

interface Found {
  value: unknown;
  /** FHIRPath below the resource, with indexes */
  where: string;
}

/** The rules a resource breaks, as the platform words them: one issue per rule and element. */
export function ruleIssues(resource: Resource, at: string, table: RuleTable = satusehatRules): OperationOutcomeIssue[] {
  const out: OperationOutcomeIssue[] = [];
  for (const [number, { message, checks }] of Object.entries(table)) {
    const broken = new Set<string>();
    for (const check of checks) {
      const [type, ...steps] = check.at.split('.');
      if (type !== resource.resourceType) continue;
      if (check.onlyIf && !check.onlyIf.every((g) => guardHolds(resource, g))) continue;
      for (const where of failures(check, resource, steps)) broken.add(where);
    }
    for (const where of broken) {
      out.push({
        severity: 'error',
        code: 'invalid',
        details: { text: `${message} (RuleNumber: ${number})` },
        expression: [where ? `${at}.${where}` : at],
      });
    }
  }
  return out;
}

function guardHolds(resource: Resource, g: Guard): boolean {
  const found = walk(resource, g.at.split('.').slice(1));
  return g.oneOf ? found.some((f) => g.oneOf!.includes(String(f.value))) : found.length > 0;
}

/** Where (below the resource) the check fails. */
function failures(check: RuleCheck, resource: Resource, steps: string[]): string[] {
  const found = walk(resource, steps);
  if (check.is === 'present') return found.length === 0 ? [steps.join('.')] : [];
  return found.filter((f) => !passes(check, f.value, resource)).map((f) => f.where);
}

const OFFSET_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?([+-])(\d{2}):(\d{2})$/;

function passes(check: RuleCheck, v: unknown, resource: Resource): boolean {
  switch (check.is) {
    case 'present':
      return true;
    case 'code':
      return typeof v === 'string' && check.codes.includes(v);
    case 'matching':
      return typeof v === 'string' && new RegExp(check.regex).test(v);
    case 'dateTime': {
      const m = typeof v === 'string' ? OFFSET_DATE_TIME.exec(v) : null;
      return !!m && dayExists(Number(m[1]), Number(m[2]), Number(m[3])) && Number(m[4]) < 24 && Number(m[5]) < 60 && Number(m[6]) < 60;
    }
    case 'date': {
      const m = typeof v === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(v) : null;
      return !!m && dayExists(Number(m[1]), Number(m[2]), Number(m[3]));
    }
    case 'time':
      return typeof v === 'string' && /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/.test(v);
    case 'decimal':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'positiveInt':
      return typeof v === 'number' && Number.isInteger(v) && v >= 1;
    case 'string':
      return typeof v === 'string' && v.trim() !== '';
    case 'laterThan': {
      const other = walk(resource, check.than.split('.').slice(1))[0]?.value;
      if (typeof other !== 'string' || typeof v !== 'string') return true;
      // A date against a date-time: compared by day, the same day being good enough.
      if (v.length === 10 || other.length === 10) return v.slice(0, 10) >= other.slice(0, 10);
      return new Date(v).getTime() > new Date(other).getTime();
    }
    case 'referenceTo': {
      const type = targetType(v, resource);
      return type !== undefined && check.types.includes(type);
    }
    case 'codedIn':
      return codeSystems(v).every((s) => check.systems.some((allowed) => systemMatches(allowed, s)));
  }
}

function dayExists(year: number, month: number, day: number): boolean {
  // Day 0 of the next month is the last day of this one.
  return month >= 1 && month <= 12 && day >= 1 && day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The double resolves a Bundle's internal references before judging, so Type/id is what arrives here. */
function targetType(v: unknown, resource: Resource): string | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const { reference, type } = v as { reference?: string; type?: string };
  if (typeof reference === 'string') {
    if (reference.startsWith('#')) {
      return ((resource as { contained?: Resource[] }).contained ?? []).find((c) => `#${c.id}` === reference)?.resourceType;
    }
    const parts = reference.split('/').filter((p) => p !== '');
    const history = parts.indexOf('_history');
    const typed = history > 0 ? parts.slice(0, history) : parts;
    const candidate = typed[typed.length - 2];
    return candidate && /^[A-Z][A-Za-z]+$/.test(candidate) ? candidate : undefined;
  }
  return typeof type === 'string' ? type : undefined;
}

/** Systems used by a CodeableConcept (its codings), or by a Coding, Identifier or Quantity. */
function codeSystems(v: unknown): string[] {
  if (!v || typeof v !== 'object') return [];
  const o = v as Record<string, unknown>;
  if (Array.isArray(o.coding)) return o.coding.map((c) => String((c as Record<string, unknown>)?.system ?? ''));
  if ('system' in o || 'code' in o || 'value' in o) return [String(o.system ?? '')];
  return [];
}

/** `{org}` is one path segment; a trailing `*` is any continuation. */
function systemMatches(allowed: string, system: string): boolean {
  if (allowed.endsWith('*')) return system.startsWith(allowed.slice(0, -1));
  const [before, after] = allowed.split('{org}');
  if (after === undefined) return system === allowed;
  if (!system.startsWith(before!) || !system.endsWith(after)) return false;
  const segment = system.slice(before!.length, system.length - after.length);
  return segment.length > 0 && !segment.includes('/');
}

function walk(node: unknown, steps: string[], where = ''): Found[] {
  if (steps.length === 0) return [{ value: node, where }];
  if (!node || typeof node !== 'object') return [];
  const [step, ...rest] = steps as [string, ...string[]];
  const child = (node as Record<string, unknown>)[step];
  if (child === undefined || child === null) return [];
  const here = where ? `${where}.${step}` : step;
  if (!Array.isArray(child)) return walk(child, rest, here);
  return child.flatMap((item, i) => walk(item, rest, `${here}[${i}]`));
}
