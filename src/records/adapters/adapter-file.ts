import { findNodeAtLocation, parse, parseTree, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { Ajv, type ErrorObject } from 'ajv';
import { conditionPaths, type Condition } from './conditions.js';
import { timeZoneNames, type Adapter } from './adapter-format.js';
import { parsePath } from './paths.js';
import { templatePlaceholders } from './template.js';

// Checks one adapter file as a person writes it: every problem with its place (JSON pointer, line
// and column), so that a broken file is refused in words while the other adapters keep working.

export type ValueMaps = Record<string, Record<string, unknown>>;

/** One problem of an adapter file, and where it is. */
export interface FileProblem {
  file: string;
  /** JSON pointer into the file ("" for the whole file) */
  pointer: string;
  line: number;
  column: number;
  message: string;
}

export type FileCheck<T> = { ok: true; value: T } | { ok: false; problems: FileProblem[] };

const fieldProperties = {
  path: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
  const: {},
  context: { enum: ['posyandu'] },
  template: { type: 'string' },
  as: { enum: ['string', 'number', 'integer', 'boolean', 'date', 'datetime', 'nik', 'systolic', 'diastolic', 'year-month', 'gravida', 'para', 'abortus'] },
  map: { anyOf: [{ type: 'string' }, { type: 'object' }] },
  unit: { enum: ['g', 'mm', 'g/L'] },
  missing: { type: 'array' },
  unmapped: { enum: ['refuse', 'keep', 'missing'] },
  optional: { type: 'boolean' },
  derive: { enum: ['sex-from-nik', 'birth-date-from-nik', 'position-from-age'] },
  timeZone: { enum: Object.keys(timeZoneNames) },
} as const;

const relationsSchema = { type: 'object', additionalProperties: { type: 'array', minItems: 1, items: { type: 'string' } } } as const;

const adapterFileSchema = {
  type: 'object',
  required: ['name', 'app', 'records'],
  $defs: {
    condition: {
      type: 'object',
      properties: {
        anyOf: { type: 'array', minItems: 1, items: { $ref: '#/$defs/condition' } },
        allOf: { type: 'array', minItems: 1, items: { $ref: '#/$defs/condition' } },
      },
      // a path's values are words or numbers: a misspelt "anyof" is refused, not read as a path
      additionalProperties: { type: 'array', minItems: 1, items: { type: ['string', 'number', 'boolean', 'null'] } },
    },
  },
  // A misspelt key ("timezone") is refused rather than silently ignored; "_" keys are notes.
  additionalProperties: false,
  patternProperties: { '^_': {} },
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,39}$' },
    app: { type: 'string' },
    description: { type: 'string' },
    relations: relationsSchema,
    timeZone: { enum: Object.keys(timeZoneNames) },
    valueMaps: { type: 'object', additionalProperties: { type: 'object' } },
    records: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['kind', 'fields'],
        additionalProperties: false,
        patternProperties: { '^_': {} },
        properties: {
          description: { type: 'string' },
          kind: { enum: ['anthropometry', 'anc-visit', 'immunization', 'screening'] },
          when: { $ref: '#/$defs/condition' },
          each: {
            type: 'object',
            additionalProperties: false,
            required: ['path', 'as'],
            properties: { path: { type: 'string' }, as: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }, jsonText: { type: 'boolean' } },
          },
          relations: relationsSchema,
          jsonText: { type: 'array', minItems: 1, items: { type: 'string' } },
          fields: {
            type: 'object',
            additionalProperties: {
              type: 'object',
              additionalProperties: false,
              properties: {
                ...fieldProperties,
                cases: {
                  type: 'array',
                  minItems: 1,
                  items: { type: 'object', additionalProperties: false, properties: { ...fieldProperties, when: { $ref: '#/$defs/condition' } } },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

const validateFile = new Ajv({ allErrors: true, strict: false }).compile(adapterFileSchema);
const validateCommon = new Ajv({ strict: false }).compile({
  type: 'object',
  required: ['valueMaps'],
  properties: { valueMaps: { type: 'object', additionalProperties: { type: 'object' } } },
});

/** Line and column (from 1) of a character offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

/** The JSON text parsed strictly (no comments, no trailing commas), or where it breaks. */
function parseJson(text: string, file: string): FileCheck<unknown> {
  const errors: ParseError[] = [];
  const value: unknown = parse(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (errors.length === 0) return { ok: true, value };
  return {
    ok: false,
    // the first error only: the ones after it follow from it
    problems: errors.slice(0, 1).map((e) => ({ file, pointer: '', ...lineColumn(text, e.offset), message: `not JSON: ${printParseErrorCode(e.error)}` })),
  };
}

/** Where a JSON pointer is in the text: the node itself, or the nearest parent that is there. */
function place(text: string, pointer: string): { line: number; column: number } {
  const root = parseTree(text);
  const steps = pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  for (let n = steps.length; n >= 0 && root; n -= 1) {
    const node = findNodeAtLocation(root, steps.slice(0, n).map((s) => (/^\d+$/.test(s) ? Number(s) : s)));
    // A property's place is its key, where a person looks for it.
    if (node) return lineColumn(text, node.parent?.type === 'property' ? node.parent.offset : node.offset);
  }
  return { line: 1, column: 1 };
}

function schemaMessage(e: ErrorObject): { pointer: string; message: string } {
  const extra = (e.params as { additionalProperty?: string }).additionalProperty;
  const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
  const pointer = extra ? `${e.instancePath}/${extra.replace(/~/g, '~0').replace(/\//g, '~1')}` : e.instancePath;
  const message = extra ? `"${extra}" is not a key the adapter format knows` : `${e.message ?? 'is not valid'}${allowed ? `: ${allowed.map((a) => JSON.stringify(a)).join(', ')}` : ''}`;
  return { pointer, message };
}

/**
 * One adapter file: valid JSON, the format (adapter-format.ts), and what the format cannot say
 * (value maps that exist, paths that can be read). Named value maps are resolved here, so that a
 * loaded adapter carries every map it uses.
 */
export function checkAdapterText(text: string, file: string, common: ValueMaps): FileCheck<Adapter> {
  const json = parseJson(text, file);
  if (!json.ok) return json;
  if (!validateFile(json.value)) {
    // anyOf and $ref errors repeat what the errors under them say
    const errors = (validateFile.errors ?? []).filter((e) => e.keyword !== 'anyOf' && e.keyword !== '$ref');
    const seen = new Map<string, string>();
    for (const e of errors.length > 0 ? errors : (validateFile.errors ?? [])) {
      const { pointer, message } = schemaMessage(e);
      if (!seen.has(pointer)) seen.set(pointer, message);
    }
    return { ok: false, problems: [...seen].slice(0, 10).map(([pointer, message]) => ({ file, pointer, ...place(text, pointer), message })) };
  }
  const adapter = json.value as Adapter;
  const problems = referenceProblems(adapter, common);
  if (problems.length > 0) return { ok: false, problems: problems.map((p) => ({ file, ...p, ...place(text, p.pointer) })) };
  return { ok: true, value: { ...adapter, valueMaps: { ...common, ...adapter.valueMaps } } };
}

/** A `_common.json`: value maps every adapter may use by name. */
export function checkCommonText(text: string, file: string): FileCheck<ValueMaps> {
  const json = parseJson(text, file);
  if (!json.ok) return json;
  if (!validateCommon(json.value)) return { ok: false, problems: [{ file, pointer: '/valueMaps', ...place(text, '/valueMaps'), message: 'must be an object of value maps' }] };
  return { ok: true, value: (json.value as { valueMaps: ValueMaps }).valueMaps };
}

/** What the file schema cannot see: value maps that do not exist, paths that cannot be read. */
function referenceProblems(adapter: Adapter, common: ValueMaps): Array<{ pointer: string; message: string }> {
  const out: Array<{ pointer: string; message: string }> = [];
  const badPath = (pointer: string, p: string) => {
    if (!parsePath(p)) out.push({ pointer, message: `"${p}" is not a path (steps joined by ".", [n] or [key=value])` });
  };
  const condition = (pointer: string, c: Condition | undefined) => {
    for (const p of conditionPaths(c)) badPath(pointer, p);
  };
  for (const [name, places] of Object.entries(adapter.relations ?? {})) places.forEach((p, i) => badPath(`/relations/${name}/${i}`, p));
  for (const [i, r] of adapter.records.entries()) {
    condition(`/records/${i}/when`, r.when);
    if (r.each) badPath(`/records/${i}/each/path`, r.each.path);
    (r.jsonText ?? []).forEach((p, j) => badPath(`/records/${i}/jsonText/${j}`, p));
    for (const [name, places] of Object.entries(r.relations ?? {})) places.forEach((p, j) => badPath(`/records/${i}/relations/${name}/${j}`, p));
    for (const [field, spec] of Object.entries(r.fields)) {
      const base = `/records/${i}/fields/${field}`;
      for (const [j, fs] of [spec, ...(spec.cases ?? [])].entries()) {
        const here = j === 0 ? base : `${base}/cases/${j - 1}`;
        if (typeof fs.map === 'string' && !adapter.valueMaps?.[fs.map] && !common[fs.map]) out.push({ pointer: `${here}/map`, message: `no value map "${fs.map}"` });
        for (const p of [fs.path ?? []].flat()) badPath(`${here}/path`, p);
        for (const placeholder of templatePlaceholders(fs.template)) {
          const where = `${here}/template`;
          if (placeholder.index && !r.each) out.push({ pointer: where, message: '"{#index}" is the position of an element: only in an entry with "each"' });
          if (placeholder.filter !== undefined && placeholder.filter !== 'slug') out.push({ pointer: where, message: `"#${placeholder.filter}" is not a template filter (only "#slug", or "{#index}")` });
          for (const alt of placeholder.alternatives) badPath(where, alt);
        }
        if ('when' in fs) condition(`${here}/when`, (fs as { when?: Condition }).when);
      }
    }
  }
  return out;
}
