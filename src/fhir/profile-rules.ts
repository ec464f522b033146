import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MappingDataError } from '../tables/mapping-data-error.js';

// The rule files under profiles/ (format in profiles/README.md), read and checked once: a rule that
// cannot be evaluated must stop start-up, not be skipped on every record.

const VALUE_FORMATS = ['dateTime', 'date', 'time', 'decimal', 'integer', 'positiveInt', 'string'] as const;
export type ValueFormat = (typeof VALUE_FORMATS)[number];

export interface Condition {
  path: string;
  /** the path split once at load: checking runs on every record */
  steps: string[];
  /** holds when some value at path is one of these; without `in`, when the path has a value */
  in?: string[];
}

export interface Rule {
  path: string;
  steps: string[];
  when?: Condition[];
  min?: number;
  max?: number;
  in?: string[];
  regex?: RegExp;
  pattern?: string;
  format?: ValueFormat;
  after?: string;
  afterSteps?: string[];
  referenceTo?: string[];
  systems?: string[];
  systemsRegex?: RegExp;
  /** SATUSEHAT rule number (kamus validasi), when the rule is the platform's */
  ruleNumber?: number;
  /** the platform's message for the rule, verbatim */
  message?: string;
  /** where the rule comes from, in a few words */
  source: string;
  verified: boolean;
  /**
   * false for a rule whose fact comes from the facility registry, not from the record (a posyandu's
   * supervisor): the sending app cannot fix it, so ingest accepts the record and the upstream that
   * needs the fact parks it for an operator (satusehat.no-practitioner).
   */
  atIngest: boolean;
}

export interface Profile {
  resourceType: string;
  rules: Rule[];
}

const RULE_KEYS = new Set(['rule', 'path', 'when', 'min', 'max', 'in', 'pattern', 'format', 'after', 'referenceTo', 'systems', 'message', 'source', 'why', 'verified', 'note', 'atIngest']);
const CHECK_KEYS = ['min', 'max', 'in', 'pattern', 'format', 'after', 'referenceTo', 'systems'];
const PATH = /^[a-zA-Z][\w]*(\.[a-zA-Z][\w]*)*$/;
const RESOURCE_TYPE = /^[A-Z][A-Za-z]+$/;

export function loadProfiles(dir: string): Map<string, Profile> {
  const out = new Map<string, Profile>();
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const profile = readProfile(join(dir, name));
    if (out.has(profile.resourceType)) throw new MappingDataError(`${join(dir, name)}: resourceType: ${profile.resourceType} has another file`);
    out.set(profile.resourceType, profile);
  }
  return out;
}

function readProfile(file: string): Profile {
  const fail = (at: string, problem: string): never => {
    throw new MappingDataError(`${file}: ${at}: ${problem}`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new MappingDataError(`${file}: cannot be read as JSON (${(err as Error).message})`);
  }
  const data = isObject(raw) ? raw : fail('/', 'must be an object');
  const resourceType = typeof data.resourceType === 'string' && RESOURCE_TYPE.test(data.resourceType) ? data.resourceType : fail('resourceType', 'is required (a FHIR resource type)');
  const rules = Array.isArray(data.rules) ? data.rules : fail('rules', 'must be a list');
  return { resourceType, rules: rules.map((r, i) => readRule(r, (at, problem) => fail(`rules[${i}]${at ? `.${at}` : ''}`, problem))) };
}

function readRule(raw: unknown, fail: (at: string, problem: string) => never): Rule {
  const r = isObject(raw) ? raw : fail('', 'must be an object');
  for (const key of Object.keys(r)) if (!RULE_KEYS.has(key)) fail(key, 'is not a rule field (see profiles/README.md)');
  const path = typeof r.path === 'string' && PATH.test(r.path) ? r.path : fail('path', 'must be a dotted path');
  if (!CHECK_KEYS.some((k) => k in r)) fail('', `says nothing to check (one of ${CHECK_KEYS.join(', ')})`);

  const rule: Rule = { path, steps: path.split('.'), source: '', verified: r.verified === undefined ? true : r.verified === true, atIngest: r.atIngest !== false };
  if (r.atIngest !== undefined && typeof r.atIngest !== 'boolean') fail('atIngest', 'must be true or false');
  if (r.verified !== undefined && typeof r.verified !== 'boolean') fail('verified', 'must be true or false');
  if (r.rule !== undefined) {
    rule.ruleNumber = Number.isInteger(r.rule) && (r.rule as number) > 0 ? (r.rule as number) : fail('rule', 'must be the SATUSEHAT rule number');
    rule.message = typeof r.message === 'string' && r.message.trim() ? r.message : fail('message', "a SATUSEHAT rule carries the platform's message");
    rule.source = typeof r.source === 'string' && r.source.trim() ? r.source : fail('source', 'say where the rule comes from');
  } else {
    if (r.message !== undefined) fail('message', 'only a SATUSEHAT rule (with "rule") has a platform message');
    rule.source = typeof r.why === 'string' && r.why.trim() ? r.why : fail('why', 'say where the rule comes from');
  }
  if (r.when !== undefined) rule.when = readConditions(r.when, fail);
  if (r.min !== undefined) rule.min = count(r.min) ?? fail('min', 'must be a whole number >= 0');
  if (r.max !== undefined) rule.max = count(r.max) ?? fail('max', 'must be a whole number >= 0');
  if (r.in !== undefined) rule.in = strings(r.in) ?? fail('in', 'must be a non-empty list of strings');
  if (r.pattern !== undefined) {
    rule.pattern = typeof r.pattern === 'string' ? r.pattern : fail('pattern', 'must be a string');
    rule.regex = compile(rule.pattern) ?? fail('pattern', 'is not a valid regular expression');
  }
  if (r.format !== undefined) {
    rule.format = VALUE_FORMATS.includes(r.format as ValueFormat) ? (r.format as ValueFormat) : fail('format', `must be one of ${VALUE_FORMATS.join(', ')}`);
  }
  if (r.after !== undefined) {
    rule.after = typeof r.after === 'string' && PATH.test(r.after) ? r.after : fail('after', 'must be a dotted path');
    rule.afterSteps = rule.after.split('.');
  }
  if (r.referenceTo !== undefined) {
    rule.referenceTo = strings(r.referenceTo)?.every((t) => RESOURCE_TYPE.test(t)) ? (r.referenceTo as string[]) : fail('referenceTo', 'must be a non-empty list of resource types');
  }
  if (r.systems !== undefined) {
    rule.systems = strings(r.systems) ?? fail('systems', 'must be a non-empty list of system URIs');
    rule.systemsRegex = systemsRegex(rule.systems);
  }
  return rule;
}

function readConditions(raw: unknown, fail: (at: string, problem: string) => never): Condition[] {
  // A string is the short form of "this path has a value".
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((c, i): Condition => {
    const at = Array.isArray(raw) ? `when[${i}]` : 'when';
    if (typeof c === 'string') return PATH.test(c) ? { path: c, steps: c.split('.') } : fail(at, 'must be a dotted path');
    if (!isObject(c)) return fail(at, 'must be a path or {"path", "in"}');
    for (const key of Object.keys(c)) if (key !== 'path' && key !== 'in') fail(`${at}.${key}`, 'is not a condition field');
    const path = typeof c.path === 'string' && PATH.test(c.path) ? c.path : fail(`${at}.path`, 'must be a dotted path');
    if (c.in === undefined) return { path, steps: path.split('.') };
    return { path, steps: path.split('.'), in: strings(c.in) ?? fail(`${at}.in`, 'must be a non-empty list of strings') };
  });
}

/**
 * `{org}` stands for one path segment (the faskes' Organization id, as the rule dictionary's
 * `{{org-id}}`); a trailing `*` allows anything after it (a terminology server's CodeSystems).
 */
function systemsRegex(systems: string[]): RegExp {
  const alternatives = systems.map((s) => {
    const prefix = s.endsWith('*');
    const escaped = (prefix ? s.slice(0, -1) : s).replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\{org\\\}/g, '[^/]+');
    return prefix ? `${escaped}.*` : escaped;
  });
  return new RegExp(`^(?:${alternatives.join('|')})$`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function count(v: unknown): number | undefined {
  return Number.isInteger(v) && (v as number) >= 0 ? (v as number) : undefined;
}

function strings(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string' && s.length > 0) ? (v as string[]) : undefined;
}

function compile(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern);
  } catch {
    return undefined;
  }
}
