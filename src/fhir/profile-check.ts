import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { profilesDir } from '../config/paths.js';
import { MappingDataError } from './mapping-data-error.js';

interface Rule {
  path: string;
  min?: number;
  max?: number;
  in?: string[];
  pattern?: string;
  when?: string;
  why: string;
}

interface Profile {
  resourceType: string;
  rules: Array<Rule & { regex?: RegExp; steps?: string[]; whenSteps?: string[] }>;
}

export interface ProfileViolation {
  /** FHIRPath of the element in the Bundle, e.g. Bundle.entry[3].resource.valueQuantity.system */
  expression: string;
  profile: string;
  rule: string;
}

const profiles = loadProfiles();

function loadProfiles(): Map<string, Profile> {
  const out = new Map<string, Profile>();
  for (const name of readdirSync(profilesDir).filter((f) => f.endsWith('.json')).sort()) {
    const file = join(profilesDir, name);
    const fail = (at: string, problem: string): never => {
      throw new MappingDataError(`${file}: ${at}: ${problem}`);
    };
    let profile: Profile;
    try {
      profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    } catch (err) {
      throw new MappingDataError(`${file}: cannot be read as JSON (${(err as Error).message})`);
    }
    if (typeof profile.resourceType !== 'string') fail('resourceType', 'is required');
    if (!Array.isArray(profile.rules)) fail('rules', 'must be a list');
    profile.rules.forEach((rule, i) => {
      if (typeof rule.path !== 'string' || !/^[a-zA-Z][\w.]*$/.test(rule.path)) fail(`rules[${i}].path`, 'must be a dotted path');
      if (typeof rule.why !== 'string') fail(`rules[${i}].why`, 'say where the rule comes from');
      // Paths are split once here: checking runs on every record.
      rule.steps = rule.path.split('.');
      if (rule.when !== undefined) rule.whenSteps = rule.when.split('.');
      if (rule.pattern !== undefined) {
        try {
          rule.regex = new RegExp(rule.pattern);
        } catch {
          fail(`rules[${i}].pattern`, 'is not a valid regular expression');
        }
      }
    });
    out.set(profile.resourceType, profile);
  }
  return out;
}

/** Checks every resource of a Bundle against its profile; a resource type without one is refused. */
export function checkBundle(bundle: Bundle): ProfileViolation[] {
  const out: ProfileViolation[] = [];
  (bundle.entry ?? []).forEach((entry, i) => {
    if (entry.resource) out.push(...checkResource(entry.resource, `Bundle.entry[${i}].resource`));
  });
  return out;
}

export function checkResource(resource: Resource, at: string): ProfileViolation[] {
  const profile = profiles.get(resource.resourceType);
  if (!profile) return [{ expression: at, profile: resource.resourceType, rule: 'no profile for this resource type' }];
  const out: ProfileViolation[] = [];
  for (const rule of profile.rules) {
    if (rule.whenSteps && valuesAt(resource, rule.whenSteps).length === 0) continue;
    const problem = ruleProblem(rule, valuesAt(resource, rule.steps ?? []));
    if (problem) out.push({ expression: `${at}.${rule.path}`, profile: profile.resourceType, rule: `${problem} (${rule.why})` });
  }
  return out;
}

function ruleProblem(rule: Profile['rules'][number], values: unknown[]): string | undefined {
  if (values.length < (rule.min ?? 0)) return `needs at least ${rule.min}`;
  if (rule.max !== undefined && values.length > rule.max) return `allows at most ${rule.max}`;
  if (rule.in && values.some((v) => !rule.in?.includes(String(v)))) return `must be one of ${rule.in.join(', ')}`;
  if (rule.regex && values.some((v) => !rule.regex?.test(String(v)))) return `must match ${rule.pattern}`;
  return undefined;
}

function valuesAt(node: unknown, steps: string[]): unknown[] {
  let current: unknown[] = [node];
  for (const step of steps) {
    const next: unknown[] = [];
    for (const n of current) {
      const v = n !== null && typeof n === 'object' ? (n as Record<string, unknown>)[step] : undefined;
      if (v === undefined || v === null) continue;
      if (Array.isArray(v)) for (const item of v) next.push(item);
      else next.push(v);
    }
    current = next;
  }
  return current;
}
