import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { Bundle, Resource } from '@medplum/fhirtypes';

// Compares a resource Gerbang produced with one of SATUSEHAT's official worked examples (the DTO
// Postman request bodies in ../shared/reference/satusehat-examples/). What is compared is what the
// platform validates and counts: resource types, code systems and codes, units, value types,
// categories, interpretations, identifier systems, what each reference points at, performer
// functions and the form of every date-time. Free text, displays and ids are not compared.

/**
 * The official examples: GERBANG_SATUSEHAT_EXAMPLES, else shared/reference/satusehat-examples found
 * by walking up from this checkout, else from the checkout it was cloned from (a fresh clone in a
 * temporary directory has no shared/ beside it). Not found: the conformance tests fail, loudly.
 */
export const examplesDir = findExamples(dirname(new URL(import.meta.url).pathname));

function findExamples(from: string): string {
  const named = process.env.GERBANG_SATUSEHAT_EXAMPLES;
  if (named) {
    if (existsSync(named)) return named;
    throw new Error(`GERBANG_SATUSEHAT_EXAMPLES=${named}: no such folder`);
  }
  const origin = clonedFrom(from);
  for (const start of [from, ...(origin ? [origin] : [])]) {
    for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
      const candidate = join(dir, 'shared', 'reference', 'satusehat-examples');
      if (existsSync(candidate)) return candidate;
    }
  }
  throw new Error(`shared/reference/satusehat-examples not found above ${from}${origin ? ` nor above ${origin}` : ''}: the conformance tests need it beside the checkout (or GERBANG_SATUSEHAT_EXAMPLES)`);
}

/** The folder this checkout was cloned from, when its origin is a path on this machine. */
function clonedFrom(dir: string): string | undefined {
  const run = spawnSync('git', ['-C', dir, 'config', '--get', 'remote.origin.url'], { encoding: 'utf8' });
  const url = run.status === 0 ? run.stdout.trim().replace(/^file:\/\//, '') : '';
  return isAbsolute(url) && existsSync(url) ? url : undefined;
}

/** The example with this tag (`P14__045`), with Postman variables kept as strings. */
export function loadExample(tag: string): Resource {
  const folder = readdirSync(examplesDir).find((d) => d.startsWith(`${tag.split('__')[0]}-`));
  if (!folder) throw new Error(`no example folder for ${tag}`);
  const file = readdirSync(join(examplesDir, folder)).find((f) => f.startsWith(`${tag}__`));
  if (!file) throw new Error(`no example ${tag} in ${folder}`);
  const text = readFileSync(join(examplesDir, folder, file), 'utf8');
  // Three bodies carry unquoted variables (`"value": {{IMT_calc}}`): a number stands in for them.
  return JSON.parse(text.replace(/(?<!")\{\{[^}]+\}\}(?!")/g, '0')) as Resource;
}

/** Resource type of a reference, from the Bundle for urn:uuid, from the text for `Type/id`. */
export type ReferenceResolver = (reference: string) => string | undefined;

export function bundleResolver(bundle: Bundle): ReferenceResolver {
  const types = new Map((bundle.entry ?? []).map((e) => [e.fullUrl ?? '', e.resource?.resourceType ?? '?']));
  return (reference) => types.get(reference);
}

const STRING_FACTS = new Set(['resourceType', 'status', 'intent', 'use', 'mode', 'priority', 'questionnaire', 'url']);
const SKIPPED = new Set(['display', 'text', 'div', 'id', 'fullUrl', 'request', 'meta', 'name', 'linkId']);
const DATE = /^\d{4}(-\d{2}(-\d{2})?)?(T.*)?$/;

function dateForm(value: string): string {
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$/.test(value)) return 'date-time+offset';
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(value)) return 'date-time Z';
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return 'date';
  return `other ${value.length}`;
}

/** A faskes id, a Postman variable or a uuid inside an identifier system becomes `{id}`. */
export function normalSystem(system: string): string {
  return system.replace(/\/(\{\{[^}]+\}\}|\d{3,}|[0-9a-f]{8}-[0-9a-f-]{27})(?=$|\/)/g, '/{id}');
}

function referenceType(reference: string, resolve: ReferenceResolver): string {
  const local = resolve(reference);
  if (local) return local;
  const typed = /^([A-Z][A-Za-z]+)\//.exec(reference);
  return typed?.[1] ?? '?';
}

/** The comparable facts of a resource, one line each: `path: fact`, array positions left out. */
export function factsOf(resource: unknown, resolve: ReferenceResolver = () => undefined): string[] {
  const out = new Set<string>();
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item, path);
      return;
    }
    if (node === null || typeof node !== 'object') {
      if (typeof node === 'number' || typeof node === 'boolean') out.add(`${path} = ${node}`);
      else if (typeof node === 'string' && DATE.test(node) && /\d{4}-\d{2}/.test(node)) out.add(`${path}: ${dateForm(node)}`);
      return;
    }
    const o = node as Record<string, unknown>;
    // A Coding or a coded Quantity: its system and code are the fact.
    if (typeof o.code === 'string' && typeof o.system === 'string') out.add(`${path}: ${normalSystem(o.system)}|${o.code}`);
    // An Identifier: its system is the fact; values are the faskes' own.
    else if (typeof o.system === 'string' && o.value !== undefined) out.add(`${path}.system: ${normalSystem(o.system)}`);
    if (typeof o.reference === 'string') out.add(`${path}: -> ${referenceType(o.reference, resolve)}`);
    // A logical reference (by identifier, resolved by the upstream client) counts as its type.
    else if (typeof o.type === 'string' && o.identifier && typeof o.identifier === 'object') out.add(`${path}: -> ${o.type}`);
    for (const [key, value] of Object.entries(o)) {
      if (SKIPPED.has(key) || key === 'reference' || key === 'system') continue;
      const at = path ? `${path}.${key}` : key;
      if (key === 'code' && typeof value === 'string') continue;
      if (key === 'value' && typeof o.system === 'string' && typeof value === 'string') continue;
      if (STRING_FACTS.has(key) && typeof value === 'string') {
        out.add(`${at} = ${key === 'url' || key === 'questionnaire' ? normalSystem(value) : value}`);
        continue;
      }
      if (key === 'type' && typeof value === 'string') continue;
      walk(value, at);
    }
  };
  walk(resource, '');
  return [...out].sort();
}

export interface IntendedDifference {
  /** `- fact` the example has and Gerbang does not, `+ fact` Gerbang has and the example does not */
  fact: string;
  reason: string;
}

/**
 * The differences between a produced resource and an example, as `- fact` / `+ fact` lines. A
 * conformance test asserts they are exactly its reviewed list of intended differences.
 */
export function differences(produced: Resource, resolve: ReferenceResolver, example: Resource, ignore: (fact: string) => boolean = () => false): string[] {
  const ours = new Set(factsOf(produced, resolve).filter((f) => !ignore(f)));
  const theirs = new Set(factsOf(example).filter((f) => !ignore(f)));
  return [...[...theirs].filter((f) => !ours.has(f)).map((f) => `- ${f}`), ...[...ours].filter((f) => !theirs.has(f)).map((f) => `+ ${f}`)].sort();
}

/** Numbers are record values (the record need not repeat every example figure): leave them out. */
export const ignoreNumbers = (fact: string): boolean => / = -?\d/.test(fact) && !/\.rank = |multipleBirth/.test(fact);

/** The first entry of this type whose code (or vaccineCode) carries this code. */
export function entryWithCode(bundle: Bundle, resourceType: string, code?: string): Resource {
  const found = (bundle.entry ?? []).find((e) => {
    const r = e.resource as (Resource & { code?: { coding?: { code?: string }[] }; vaccineCode?: { coding?: { code?: string }[] } }) | undefined;
    if (r?.resourceType !== resourceType) return false;
    if (code === undefined) return true;
    return [...(r.code?.coding ?? []), ...(r.vaccineCode?.coding ?? [])].some((c) => c.code === code);
  })?.resource;
  if (!found) throw new Error(`no ${resourceType}${code ? ` with code ${code}` : ''} in the Bundle`);
  return found;
}

/** Every file tag of one collection (`H06` → `H06__001` … `H06__104`), from its index. */
export function exampleTags(collection: string): string[] {
  const index = readFileSync(join(examplesDir, '_index', `idx-${collection}.tsv`), 'utf8');
  return index.split('\n').filter(Boolean).map((line) => line.split('__').slice(0, 2).join('__'));
}
