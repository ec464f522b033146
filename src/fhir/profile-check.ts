import type { Bundle, Resource } from '@medplum/fhirtypes';
import { defineTable } from '../tables/registry.js';
import { loadProfiles, type Condition, type Profile, type Rule } from './profile-rules.js';

export interface ProfileViolation {
  /** FHIRPath of the element in the Bundle, e.g. Bundle.entry[3].resource.performer[1] */
  expression: string;
  profile: string;
  /** what is wrong, and the rule's source */
  rule: string;
  /** the SATUSEHAT rule number and the platform's message, when the rule is the platform's */
  ruleNumber?: number;
  message?: string;
  verified?: boolean;
}

/** The profiles/ folder, read and checked at start-up (src/tables/registry.ts). */
const profiles = defineTable<ReadonlyMap<string, Profile>>('profiles/', (dirs) => loadProfiles(dirs.profiles));

/** The resource type each fullUrl of the Bundle stands for, so that urn:uuid references can be typed. */
type Targets = Map<string, string>;

/** Checks every resource of a Bundle against its profile; a resource type without one is refused. */
export function checkBundle(bundle: Bundle, using: ReadonlyMap<string, Profile> = profiles()): ProfileViolation[] {
  const targets: Targets = new Map();
  for (const e of bundle.entry ?? []) if (e.fullUrl && e.resource) targets.set(e.fullUrl, e.resource.resourceType);
  const out: ProfileViolation[] = [];
  (bundle.entry ?? []).forEach((entry, i) => {
    if (entry.resource) out.push(...checkResource(entry.resource, `Bundle.entry[${i}].resource`, targets, using));
  });
  return out;
}

function checkResource(resource: Resource, at: string, targets: Targets = new Map(), using: ReadonlyMap<string, Profile> = profiles()): ProfileViolation[] {
  const profile = using.get(resource.resourceType);
  if (!profile) return [{ expression: at, profile: resource.resourceType, rule: 'no profile for this resource type' }];
  const out: ProfileViolation[] = [];
  for (const rule of profile.rules) {
    if (!rule.atIngest) continue;
    if (rule.when && !rule.when.every((c) => holds(resource, c))) continue;
    for (const [where, problem] of problems(rule, resource, targets)) {
      out.push({
        expression: `${at}.${where}`,
        profile: profile.resourceType,
        rule: `${problem} (${rule.ruleNumber ? `SATUSEHAT ${rule.ruleNumber}${rule.verified ? '' : ', as Gerbang reads it'}; ` : ''}${rule.source})`,
        ...(rule.ruleNumber ? { ruleNumber: rule.ruleNumber, message: rule.message, verified: rule.verified } : {}),
      });
    }
  }
  return out;
}

function holds(resource: Resource, c: Condition): boolean {
  const values = valuesAt(resource, c.steps).map((v) => v.value);
  return c.in ? values.some((v) => c.in?.includes(String(v))) : values.length > 0;
}

/** [FHIRPath below the resource, what is wrong] for every way the resource breaks the rule. */
function problems(rule: Rule, resource: Resource, targets: Targets): Array<[string, string]> {
  const found = valuesAt(resource, rule.steps);
  if (found.length < (rule.min ?? 0)) return [[rule.path, `needs at least ${rule.min}`]];
  if (rule.max !== undefined && found.length > rule.max) return [[rule.path, `allows at most ${rule.max}`]];
  const out: Array<[string, string]> = [];
  for (const { value, path } of found) {
    const problem = valueProblem(rule, value, resource, targets);
    if (problem) out.push([path, problem]);
  }
  return out;
}

function valueProblem(rule: Rule, value: unknown, resource: Resource, targets: Targets): string | undefined {
  if (rule.in && !rule.in.includes(String(value))) return `must be one of ${rule.in.join(', ')}`;
  if (rule.regex && !rule.regex.test(String(value))) return `must match ${rule.pattern}`;
  if (rule.format && !hasFormat(rule.format, value)) return `must be a ${formatWords[rule.format]}`;
  if (rule.after && rule.afterSteps) {
    const other = valuesAt(resource, rule.afterSteps)[0]?.value;
    if (other !== undefined && !isLater(value, other)) return `must be later than ${rule.after} (${String(other)})`;
  }
  if (rule.referenceTo) {
    const type = referencedType(value, targets, resource);
    if (!type || !rule.referenceTo.includes(type)) return `must refer to ${rule.referenceTo.join(' or ')}${type ? `, not ${type}` : ''}`;
  }
  if (rule.systemsRegex) {
    const bad = systemsOf(value).find((s) => !s || !rule.systemsRegex?.test(s));
    if (bad !== undefined) return `code system ${bad || '(none)'} is not one of ${rule.systems?.join(', ')}`;
  }
  return undefined;
}

const formatWords: Record<NonNullable<Rule['format']>, string> = {
  dateTime: 'full date-time with offset (YYYY-MM-DDThh:mm:ss+hh:mm)',
  date: 'date (YYYY-MM-DD)',
  time: 'time (hh:mm:ss)',
  decimal: 'number',
  integer: 'whole number',
  positiveInt: 'whole number above 0',
  string: 'non-empty text',
};

// The platform's form: seconds and an explicit offset (its texts say +00:00); fractions allowed.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?[+-]\d{2}:\d{2}$/;

function hasFormat(format: NonNullable<Rule['format']>, v: unknown): boolean {
  switch (format) {
    case 'dateTime':
      return typeof v === 'string' && DATE_TIME.test(v) && isCalendarDate(v.slice(0, 10)) && !Number.isNaN(Date.parse(v));
    case 'date':
      return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) && isCalendarDate(v);
    case 'time':
      return typeof v === 'string' && /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/.test(v);
    case 'decimal':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return Number.isInteger(v);
    case 'positiveInt':
      return Number.isInteger(v) && (v as number) > 0;
    case 'string':
      return typeof v === 'string' && v.trim().length > 0;
  }
}

/** Date.parse takes 2025-02-30 for 2 March: the day must exist. */
function isCalendarDate(ymd: string): boolean {
  const d = new Date(`${ymd}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === ymd;
}

/**
 * "Later than": two date-times compare as instants. When either is a date only, the dates are
 * compared and the same day counts as later (a vaccine that expires today is still good today).
 */
function isLater(value: unknown, other: unknown): boolean {
  const a = String(value);
  const b = String(other);
  if (a.length === 10 || b.length === 10) return localDate(a) >= localDate(b);
  return Date.parse(a) > Date.parse(b);
}

const localDate = (v: string) => v.slice(0, 10);

/**
 * Type/id, an absolute URL ending in Type/id, a urn:uuid of the Bundle, #id of a contained
 * resource, or a logical reference's `type`.
 */
function referencedType(value: unknown, targets: Targets, resource: Resource): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const ref = (value as { reference?: unknown }).reference;
  if (typeof ref === 'string') {
    if (targets.has(ref)) return targets.get(ref);
    if (ref.startsWith('#')) return (resource as { contained?: Resource[] }).contained?.find((c) => c.id === ref.slice(1))?.resourceType;
    return /(?:^|\/)([A-Z][A-Za-z]+)\/[^/]+(?:\/_history\/[^/]+)?$/.exec(ref)?.[1];
  }
  const type = (value as { type?: unknown }).type;
  return typeof type === 'string' ? type : undefined;
}

/**
 * The code systems a CodeableConcept, Coding, Identifier or Quantity uses ('' for one without a
 * system); a CodeableConcept with text only uses none.
 */
function systemsOf(value: unknown): string[] {
  if (value === null || typeof value !== 'object') return [];
  const v = value as { coding?: unknown; system?: unknown; code?: unknown; value?: unknown };
  const systemOf = (x: unknown) => (typeof (x as { system?: unknown })?.system === 'string' ? (x as { system: string }).system : '');
  if (Array.isArray(v.coding)) return v.coding.map(systemOf);
  return v.system !== undefined || v.code !== undefined || v.value !== undefined ? [systemOf(v)] : [];
}

/** Every value at a dotted path, arrays walked through, each with its FHIRPath (indexes included). */
function valuesAt(node: unknown, steps: string[]): Array<{ value: unknown; path: string }> {
  let current: Array<{ value: unknown; path: string }> = [{ value: node, path: '' }];
  for (const step of steps) {
    const next: Array<{ value: unknown; path: string }> = [];
    for (const n of current) {
      const v = n.value !== null && typeof n.value === 'object' ? (n.value as Record<string, unknown>)[step] : undefined;
      if (v === undefined || v === null) continue;
      const here = n.path ? `${n.path}.${step}` : step;
      if (Array.isArray(v)) v.forEach((item, i) => next.push({ value: item, path: `${here}[${i}]` }));
      else next.push({ value: v, path: here });
    }
    current = next;
  }
  return current;
}
