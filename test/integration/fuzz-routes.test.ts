import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { hashApiKey } from '../../src/http/auth/api-keys.js';
import { validAncVisit, validAnthropometry, validImmunization, validScreening } from '../fixtures/records.js';
import { startGateway } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';

// Property-based fuzzing (fast-check) of the record routes against a real gateway and Redis:
// canonical records of each kind and adapters' native rows with mutated fields, query strings of
// the list and sync routes, $batch bodies (NDJSON and JSON arrays) mixing good and bad records, and
// $map. For every request: no 5xx; a 4xx is an OperationOutcome whose issues say something; every
// $batch answer ends with its summary; the process answers /healthz afterwards. Bounded: a fixed
// seed (FUZZ_SEED to replay another) and a fixed number of runs per property (FUZZ_RUNS scales
// them), so the file stays well under a minute on a loaded machine.

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const SCALE = Number(process.env.FUZZ_RUNS ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));

const keys = { national: 'gbk_fuzz-national', scoped: 'gbk_fuzz-scoped', monitor: 'gbk_fuzz-monitor', app: 'gbk_fuzz-app' };
const redis = await startRedis();
const gw = await startGateway({
  redisUrl: redis.url,
  apiKeys: [
    // limits far above what the run sends: the fuzz is about inputs, not admission
    { id: 'national', hash: hashApiKey(keys.national), role: 'admin', rateLimitPerMinute: 1_000_000, recordsPerMinute: 10_000_000 },
    { id: 'scoped', hash: hashApiKey(keys.scoped), role: 'submitter', scope: { puskesmas: ['P3201010101'] }, rateLimitPerMinute: 1_000_000, recordsPerMinute: 10_000_000 },
    { id: 'monitor', hash: hashApiKey(keys.monitor), role: 'monitor', scope: { regency: ['3201'] }, rateLimitPerMinute: 1_000_000 },
    // a key bound to an app: its records are read by that app's adapter, whatever ?source= says
    { id: 'app', hash: hashApiKey(keys.app), role: 'submitter', source: 'sim-posyandu', rateLimitPerMinute: 1_000_000, recordsPerMinute: 10_000_000 },
  ],
  server: { host: '127.0.0.1' },
  // production's job lock: the test's 2 s one can lapse on a loaded machine while a 300 KB body is parsed
  delivery: { lockDurationMs: 30_000 },
});
t.teardown(async () => {
  await gw.close();
  await redis.stop();
});

// ---- what is sent ------------------------------------------------------------------------------

// JSON.stringify cannot write every number a client can (1e400, -0, 1e-400): such values travel
// as a marked string and are put into the text raw.
const RAW = '\u0001raw:';
const raw = (text: string) => `${RAW}${text}\u0001`;
function toText(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0001raw:(.*?)\\u0001"/g, (_m, text: string) => text);
}

/** An object with an own property of a name that is special in JavaScript (JSON.parse makes it own). */
const specialKey = (name: string, value: unknown) => JSON.parse(`{${JSON.stringify(name)}: ${JSON.stringify(value)}}`) as unknown;

const nested = (depth: number, leaf: unknown, array: boolean): unknown => {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = array ? [v] : { a: v };
  return v;
};

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom<unknown>(
    null, true, false, 0, -1, 1.5, '', ' ', '0', 'NaN', 'Infinity', '-Infinity', 'null', 'undefined', 'true',
    raw('1e400'), raw('-1e400'), raw('-0'), raw('1e-400'), raw('123456789012345678901234567890'), 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 5e-324,
    '2026-11-31', '2026-02-29', '2025-13-01', '2025-00-10', '2025-11-05T24:00:00+07:00', '2025-11-05T23:59:60Z', '0000-01-01', '9999-12-31T23:59:59Z',
    '1900-01-01', '2025-11-05T09:30:00+99:00', '+275760-09-13', '-000001-01-01', '20251105',
    '\u0000', '\ud800', '\udfff', '💉👶🏽', 'ي ب', 'Ａ', '\u202e', '<script>alert(1)</script>', '../../etc/passwd', '%00', '${x}', '{posyandu}',
    '__proto__', 'constructor', 'toString', 'hasOwnProperty', '3201010001-01', '3201015503230004', '5271010002-01',
    {}, [], [null], { toString: 'x' }, { valueOf: 1 }, { toJSON: 'x' },
    // a copy each time: a later mutation may write into a value, and must not change the constant
  ).map((v) => (v && typeof v === 'object' ? structuredClone(v) : v)) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 2, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 2, arbitrary: fc.integer({ min: -1000, max: 1000 }) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'prototype').chain((name) => fc.jsonValue({ maxDepth: 1 }).map((v) => specialKey(name, v))) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 10, max: 3_000 }), fc.boolean()).map(([depth, array]) => nested(depth, 1, array)) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 300_000 }).map((n) => 'x'.repeat(n)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

type Json = Record<string, unknown>;

/** The paths into a value, down to the depth of a record (not into a deep value a mutation put there). */
function paths(v: unknown, at: string[] = []): string[][] {
  if (at.length >= 6) return [at];
  if (v && typeof v === 'object' && !Array.isArray(v)) return [at, ...Object.entries(v).flatMap(([k, c]) => paths(c, [...at, k]))];
  if (Array.isArray(v)) return [at, ...v.flatMap((c, i) => paths(c, [...at, String(i)]))];
  return [at];
}

type Mutation = { op: 'set'; path: number; value: unknown } | { op: 'delete'; path: number } | { op: 'extra'; path: number; name: string; value: unknown };

/** One mutation at a path of the record (the index is taken modulo the record's paths). */
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), path: fc.nat(), value: hostileValue }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), path: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('extra' as const), path: fc.nat(), name: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'toString', 'valueOf', 'kind', '$ref')), value: hostileValue }),
  },
);

function mutate(base: unknown, mutations: Mutation[]): unknown {
  let doc = structuredClone(base);
  for (const m of mutations) {
    const all = paths(doc);
    const path = all[m.path % all.length]!;
    if (path.length === 0) {
      if (m.op === 'set') doc = m.value;
      else if (m.op === 'extra' && doc && typeof doc === 'object') doc = { ...(doc as Json), ...(specialKey(m.name, null) as Json), [m.name]: m.value };
      continue;
    }
    let node = doc as Json;
    for (const step of path.slice(0, -1)) node = node[step] as Json;
    const last = path.at(-1)!;
    if (m.op === 'set') node[last] = m.value;
    else if (m.op === 'delete') {
      if (Array.isArray(node)) node.splice(Number(last), 1);
      else delete node[last];
    } else {
      const target = node[last];
      if (target && typeof target === 'object' && !Array.isArray(target)) Object.defineProperty(target, m.name, { value: m.value, enumerable: true, configurable: true, writable: true });
      else node[last] = m.value;
    }
  }
  return doc;
}

const canonical: Array<{ source: string; record: unknown }> = [validAnthropometry, validAncVisit, validImmunization, validScreening].map((record) => ({ source: 'fuzz', record }));
const native: Array<{ source: string; record: unknown }> = [];
for (const file of readdirSync(new URL('../fixtures/samples/', import.meta.url)).sort()) {
  if (file.includes('INVALID')) continue;
  native.push({ source: file.split('__')[0]!, record: JSON.parse(readFileSync(new URL(`../fixtures/samples/${file}`, import.meta.url), 'utf8')) });
}
const adapterNames = readdirSync(new URL('../../mappings/adapters/', import.meta.url)).filter((f) => f.endsWith('.json') && !f.startsWith('_')).map((f) => f.replace(/\.json$/, ''));

/** A record (canonical, or an adapter's native row) with a fresh id and up to four mutations; sometimes none. */
const mutatedRecord = fc
  .record({
    base: fc.oneof(fc.constantFrom(...canonical), fc.constantFrom(...native)),
    id: fc.nat(),
    // a quarter unmutated, so that the run also goes all the way in (ledger, history, queue)
    mutations: fc.oneof({ weight: 1, arbitrary: fc.constant<Mutation[]>([]) }, { weight: 3, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 4 }) }),
    // ?posyandu= (for adapters whose rows do not name it): mostly a registry code
    posyandu: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('3201010001-01', '3201010001-02', '5271010002-01') },
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.oneof(fc.constant('nope'), fc.string({ maxLength: 70 })) },
    ),
  })
  .map(({ base, id, mutations, posyandu }) => {
    const fresh = base.source === 'fuzz' ? { ...(base.record as Json), recordId: `FZ-${id}` } : base.record;
    return { source: base.source, posyandu, body: mutate(fresh, mutations) };
  });

const sourceParam = fc.oneof(
  { weight: 12, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.constantFrom(...adapterNames) },
  { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 50 }), fc.constantFrom('_common', '__proto__', 'constructor', 'Fuzz', '../x', 'a'.repeat(41))) },
);

const language = fc.constantFrom(undefined, 'en', 'id', 'en-US,en;q=0.9', '*', 'xx', ';;;', 'en;q=abc');
const key = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(keys.national, keys.scoped) }, { weight: 1, arbitrary: fc.constant(keys.app) });

function query(params: Array<[string, string] | undefined>): string {
  const parts = params.filter((p): p is [string, string] => p !== undefined).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

const garbage = fc.oneof(
  fc.constantFrom('', '-1', '0', '1', '1e20', '1e400', 'NaN', 'Infinity', '-0', '0x10', '1.5', '9007199254740993', '99999999999999999999', 'null', '[]', '{}', 'true', ' 5', '5 '),
  fc.constantFrom('2025-11-31T00:00:00Z', '2025-11-05', '2025-11-05T09:30:00+07:00', '2025-13-01T00:00:00Z', '0000-01-01T00:00:00Z', '+275760-09-13T00:00:00Z', 'yesterday'),
  fc.constantFrom('3201010001-01', '5271010002-01', 'P3201010101', 'outbox', 'queued', 'failed', 'anthropometry', 'rejected', 'upstream.http-422'),
  fc.string({ maxLength: 80 }),
  fc.integer().map(String),
  fc.double().map(String),
);

/** A GET of a list or sync route with some of its parameters (and some it does not have), each garbage or right. */
const listQuery = fc.record({
  route: fc.constantFrom('/v1/records', '/v1/sync/summary', '/v1/sync/failures'),
  params: fc.array(fc.tuple(fc.constantFrom('posyandu', 'puskesmas', 'state', 'from', 'to', 'limit', 'offset', 'upstream', 'days', 'kind', 'reason', 'x', '__proto__'), garbage), { maxLength: 6 }),
  key: fc.constantFrom(keys.national, keys.monitor),
  language,
});

type BatchLine = { kind: 'good'; id: number } | { kind: 'mutated'; body: unknown } | { kind: 'text'; text: string };
const batchLine: fc.Arbitrary<BatchLine> = fc.oneof(
  { weight: 3, arbitrary: fc.nat().map((id) => ({ kind: 'good' as const, id })) },
  { weight: 4, arbitrary: mutatedRecord.map((m) => ({ kind: 'mutated' as const, body: m.body })) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.constantFrom('', ' ', '{', '}', '[', ']', ',', '{"a":', 'null', '1', '"x"', '{}', '[]', '\u0000', '{"__proto__":{}}', '{"toString":1}', '"]"', '"\\\\"', '"\\""', '[[1],[2]]', '{"a":"]"}', '{"a":"\\u005d"}', '\r', '\ufeff{}'),
        fc.string({ maxLength: 40 }),
        // the characters the batch splitter tracks (strings, escapes, nesting, separators), in any order
        fc.array(fc.constantFrom('{', '}', '[', ']', '"', '\\', ',', ':', '1', 'a', ' ', '\n', '\r'), { maxLength: 30 }).map((cs) => cs.join('')),
      )
      .map((text) => ({ kind: 'text' as const, text })),
  },
);

const batchRequest = fc.record({
  lines: fc.array(batchLine, { minLength: 0, maxLength: 25 }),
  ndjson: fc.boolean(),
  brokenEnd: fc.boolean(),
  crlf: fc.boolean(),
  source: sourceParam,
  posyandu: fc.option(fc.constantFrom('3201010001-01', '3201010001-02', 'nope'), { nil: undefined }),
  deviceTime: fc.option(garbage, { nil: undefined }),
  key,
  language,
});

// ---- what is checked ---------------------------------------------------------------------------

interface Answer {
  status: number;
  text: string;
}

const problems: string[] = [];
/** ids of records the run got in, for the properties that read records back */
const acceptedIds: string[] = [];

function acceptedIn(text: string): string[] {
  try {
    const body = JSON.parse(text) as { id?: string; records?: Array<{ id?: string }> };
    return [body.id, ...(body.records ?? []).map((r) => r.id)].filter((id): id is string => typeof id === 'string');
  } catch {
    return [];
  }
}

function note(label: string, problem: string): void {
  if (problems.length < 50) problems.push(`${label}: ${problem}`);
}

async function send(method: string, path: string, opts: { key: string; body?: string; contentType?: string; language?: string | undefined }): Promise<Answer> {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${opts.key}`,
      ...(opts.body !== undefined ? { 'content-type': opts.contentType ?? 'application/json' } : {}),
      ...(opts.language ? { 'accept-language': opts.language } : {}),
    },
    ...(opts.body !== undefined ? { body: opts.body } : {}),
  });
  return { status: res.status, text: await res.text() };
}

/** An OperationOutcome with at least one issue, and words in every issue. */
function outcomeProblem(value: unknown): string | undefined {
  const o = value as { resourceType?: unknown; issue?: Array<{ details?: { text?: unknown } }> } | null;
  if (o?.resourceType !== 'OperationOutcome') return 'not an OperationOutcome';
  if (!Array.isArray(o.issue) || o.issue.length === 0) return 'an OperationOutcome without issues';
  if (o.issue.some((i) => typeof i.details?.text !== 'string' || i.details.text.trim() === '')) return 'an issue without details.text';
  return undefined;
}

/** Answers by status, per route, so a run shows it reached acceptance and not only refusals. */
const statuses = new Map<string, Map<number, number>>();
const refusalCodes = new Map<string, number>();

/** The checks every answer gets: no 5xx; a 4xx that says what is wrong. */
function checkAnswer(label: string, a: Answer): boolean {
  const route = label.replace(/\?.*$/, '').replace(/\/v1\/records\/(?!\$batch).*/, '/v1/records/{id}').replace(/ \(.*$/, '');
  const counts = statuses.get(route) ?? new Map<number, number>();
  counts.set(a.status, (counts.get(a.status) ?? 0) + 1);
  statuses.set(route, counts);
  if (a.status >= 500) {
    note(label, `${a.status} ${a.text.slice(0, 300)}`);
    return false;
  }
  if (a.status >= 400) {
    let body: unknown;
    try {
      body = JSON.parse(a.text);
    } catch {
      note(label, `${a.status} with a body that is not JSON: ${a.text.slice(0, 200)}`);
      return false;
    }
    const code = (body as { issue?: Array<{ details?: { coding?: Array<{ code?: string }> } }> }).issue?.[0]?.details?.coding?.[0]?.code ?? '?';
    refusalCodes.set(code, (refusalCodes.get(code) ?? 0) + 1);
    const problem = outcomeProblem(body);
    if (problem) {
      note(label, `${a.status}: ${problem}: ${a.text.slice(0, 300)}`);
      return false;
    }
  }
  return true;
}

/** A $batch answer: each result in place, refusals with words, and the summary last. */
function checkBatch(label: string, a: Answer, ndjson: boolean): boolean {
  if (!checkAnswer(label, a)) return false;
  if (a.status !== 200) return true;
  let results: unknown[];
  let summary: { received?: unknown } | undefined;
  try {
    if (ndjson) {
      const lines = a.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      summary = lines.at(-1)?.summary as typeof summary;
      results = lines.slice(0, -1);
    } else {
      const whole = JSON.parse(a.text) as { results: unknown[]; summary?: typeof summary };
      results = whole.results;
      summary = whole.summary;
    }
  } catch (err) {
    note(label, `a $batch answer that does not parse (${(err as Error).message}): …${a.text.slice(-300)}`);
    return false;
  }
  if (typeof summary?.received !== 'number') {
    note(label, `a $batch answer that does not end with its summary: …${a.text.slice(-300)}`);
    return false;
  }
  for (const r of results as Array<{ result?: string; code?: string; outcome?: unknown; records?: Array<{ result?: string; outcome?: unknown }> }>) {
    if (r.code === 'internal') {
      note(label, `a record refused as internal: ${JSON.stringify(r).slice(0, 300)}`);
      return false;
    }
    const refusals = [...(r.result === 'refused' ? [r] : []), ...(r.records ?? []).filter((p) => p.result === 'refused')];
    for (const refused of refusals) {
      const problem = outcomeProblem(refused.outcome);
      if (problem) {
        note(label, `a refused record whose outcome is ${problem}: ${JSON.stringify(r).slice(0, 300)}`);
        return false;
      }
    }
  }
  return true;
}

async function property<T>(t: Test, name: string, arb: fc.Arbitrary<T>, numRuns: number, check: (value: T) => Promise<boolean>): Promise<void> {
  const before = problems.length;
  const result = await fc.check(fc.asyncProperty(arb, check), { seed: SEED, numRuns, endOnFailure: true });
  if (result.failed) {
    t.fail(`${name}: failed with FUZZ_SEED=${SEED} (path ${result.counterexamplePath ?? '?'}) after ${result.numRuns} runs: ${problems.slice(before).join('\n') || String(result.errorInstance)}`);
    t.comment(`replay: FUZZ_SEED=${SEED} npx tap test/integration/fuzz-routes.test.ts`);
  } else t.equal(result.numRuns, numRuns, `${name}: all ${numRuns} runs of seed ${SEED} held (none skipped or cut short)`);
}

// ---- the properties ------------------------------------------------------------------------------

// What the fuzzer found, kept as plain cases: each was a 5xx before its fix.
t.test('found by the fuzzer', async (t) => {
  // FUZZ_SEED=13: Ajv coerces "Infinity" (and "1e400") to Infinity, calls it an integer and skips
  // the range check; the sync summary built an array of `days` entries (500).
  for (const path of ['/v1/sync/summary?days=Infinity', '/v1/sync/summary?days=1e400', '/v1/records?limit=Infinity', '/v1/records?offset=1e400', '/v1/sync/failures?limit=-Infinity&offset=Infinity']) {
    const answer = await send('GET', path, { key: keys.national });
    t.equal(answer.status, 400, path);
    const issue = JSON.parse(answer.text).issue[0];
    t.equal(issue.details.coding[0].code, 'request.invalid-parameter');
    t.match(issue.details.text, /days|limit|offset/, `${path}: the parameter is named`);
  }
  t.equal((await send('GET', '/v1/sync/summary?days=366', { key: keys.national })).status, 200, 'a finite number in range still passes');
});

t.test('POST /v1/records: mutated canonical records and native rows', async (t) => {
  const contentTypes = fc.oneof(
    { weight: 12, arbitrary: fc.constant('application/json') },
    { weight: 1, arbitrary: fc.constantFrom('application/json; charset=latin1', 'application/fhir+json', 'text/plain', 'application/x-ndjson', 'application/json;;', 'multipart/form-data; boundary=x') },
  );
  await property(t, 'POST /v1/records', fc.tuple(mutatedRecord, sourceParam, key, language, contentTypes), runs(220), async ([m, source, k, lang, contentType]) => {
    // the row's own adapter, else (sometimes) another source: a canonical record read by an adapter, a row as canonical
    const src = source ?? (m.source !== 'fuzz' ? m.source : undefined);
    const path = `/v1/records${query([src !== undefined ? ['source', src] : undefined, m.posyandu !== undefined ? ['posyandu', m.posyandu] : undefined])}`;
    const answer = await send('POST', path, { key: k, body: toText(m.body), language: lang, contentType });
    if (answer.status === 202) acceptedIds.push(...acceptedIn(answer.text));
    return checkAnswer(`POST ${path}`, answer);
  });
});

t.test('POST /v1/$map: the same mutants as a dry run', async (t) => {
  await property(t, 'POST /v1/$map', fc.tuple(mutatedRecord, key, language, fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('outbox', 'nope', '') })), runs(100), async ([m, k, lang, validate]) => {
    const path = `/v1/$map${query([m.source !== 'fuzz' ? ['source', m.source] : undefined, m.posyandu !== undefined ? ['posyandu', m.posyandu] : undefined, validate !== undefined ? ['validate', validate] : undefined])}`;
    return checkAnswer(`POST ${path}`, await send('POST', path, { key: k, body: toText(m.body), language: lang }));
  });
});

t.test('POST /v1/records/$batch: NDJSON and JSON arrays mixing good and bad records', async (t) => {
  await property(t, 'POST $batch', batchRequest, runs(40), async (b) => {
    const texts = b.lines.map((l) => {
      if (l.kind === 'good') return toText({ ...validAnthropometry, recordId: `FZB-${l.id}` });
      if (l.kind === 'mutated') return toText(l.body);
      return l.text;
    });
    const body = b.ndjson ? texts.map((x) => x.replace(/\n/g, ' ')).join(b.crlf ? '\r\n' : '\n') : `[${texts.join(',')}${b.brokenEnd ? '' : ']'}`;
    const path = `/v1/records/$batch${query([b.source !== undefined ? ['source', b.source] : undefined, b.posyandu !== undefined ? ['posyandu', b.posyandu] : undefined, b.deviceTime !== undefined ? ['deviceTime', b.deviceTime] : undefined])}`;
    const answer = await send('POST', path, { key: b.key, body, contentType: b.ndjson ? 'application/x-ndjson' : 'application/json', language: b.language });
    return checkBatch(`POST ${path} (${b.ndjson ? 'NDJSON' : 'JSON array'} of ${b.lines.length})`, answer, b.ndjson);
  });
});

t.test('concurrent posts and batches of the same records (versions, duplicates and places racing)', async (t) => {
  const variant = fc.record({ posyandu: fc.constantFrom('3201010001-01', '3201010001-02', '5271010002-01'), weightKg: fc.constantFrom(9.8, 9.9, 10.1), batch: fc.boolean(), key });
  await property(t, 'concurrent', fc.tuple(fc.nat(), fc.array(variant, { minLength: 2, maxLength: 6 })), runs(25), async ([id, variants]) => {
    const answers = await Promise.all(
      variants.map(async (v) => {
        const body = toText({ ...validAnthropometry, recordId: `FZC-${id}`, posyandu: v.posyandu, weightKg: v.weightKg });
        if (!v.batch) return { label: 'POST /v1/records (concurrent)', ndjson: false, batch: false, answer: await send('POST', '/v1/records', { key: v.key, body }) };
        return { label: 'POST /v1/records/$batch (concurrent)', ndjson: true, batch: true, answer: await send('POST', '/v1/records/$batch', { key: v.key, body: `${body}\n${body}`, contentType: 'application/x-ndjson' }) };
      }),
    );
    return answers.every((a) => (a.batch ? checkBatch(a.label, a.answer, a.ndjson) : checkAnswer(a.label, a.answer)));
  });
});

t.test('GET /v1/records, /v1/sync/summary, /v1/sync/failures: garbage query strings', async (t) => {
  await property(t, 'GET lists', listQuery, runs(150), async (q) => {
    const path = `${q.route}${query(q.params)}`;
    return checkAnswer(`GET ${path}`, await send('GET', path, { key: q.key, language: q.language }));
  });
});

t.test('GET /v1/records/{id} and $retry with garbage ids', async (t) => {
  const known = acceptedIds.length > 0 ? [fc.constantFrom(...acceptedIds)] : [];
  const id = fc.oneof(...known, ...known, fc.string({ maxLength: 80 }), fc.uuid(), fc.constantFrom('..', '%2e%2e', '__proto__', 'constructor', 'a'.repeat(65)));
  const reader = fc.constantFrom(keys.national, keys.monitor, keys.scoped);
  const upstream = fc.option(fc.constantFrom('outbox', 'nope', '', '__proto__'), { nil: undefined });
  await property(t, 'GET record', fc.tuple(id, fc.boolean(), reader, upstream), runs(80), async ([raw, retry, k, up]) => {
    const path = `/v1/records/${encodeURIComponent(raw)}${retry ? `/$retry${query([up !== undefined ? ['upstream', up] : undefined])}` : ''}`;
    return checkAnswer(`${retry ? 'POST' : 'GET'} ${path}`, await send(retry ? 'POST' : 'GET', path, { key: k }));
  });
});

t.test('the process is alive and logged no unexpected error', async (t) => {
  for (const [route, counts] of statuses) t.comment(`${route}: ${[...counts].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ')}`);
  t.comment(`most frequent refusals: ${[...refusalCodes].sort(([, a], [, b]) => b - a).slice(0, 8).map(([c, n]) => `${c}×${n}`).join(' ')}`);
  const count = (route: string, ok: (status: number) => boolean) => [...(statuses.get(route) ?? [])].filter(([s]) => ok(s)).reduce((n, [, c]) => n + c, 0);
  t.ok(count('POST /v1/records', (s) => s === 202) > 0 && count('POST /v1/records', (s) => s >= 400) > 0, 'the mutants reach both acceptance and refusal');
  t.ok(count('POST /v1/$map', (s) => s === 200) > 0, 'some dry runs are valid');
  t.same(problems, [], 'no request broke a rule');
  t.equal((await fetch(`${gw.url}/healthz`)).status, 200, '/healthz answers');
  t.same(gw.logs.filter((l) => l.includes('unexpected error') || l.includes('"level":50')).slice(0, 5), [], 'no error logged');
});
