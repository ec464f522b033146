import { request } from 'node:http';
import t from 'tap';
import { recordSchemas } from '../../src/records/schemas/index.js';
import { startGateway, postJson } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { validAncVisit, validAnthropometry, validImmunization, validScreening, withChanges, type RecordLike } from '../fixtures/records.js';

// Inputs built to knock the gateway over: impossible dates, deep nesting, objects with their own
// toString, paging out of range, path tricks, oversized $batch records and requests. None may get
// a 5xx, and every $batch answer ends with its summary.

const RECORD_LIMIT = 8 * 1024;
const REQUEST_LIMIT = 256 * 1024;
const redis = await startRedis();
const gw = await startGateway({ redisUrl: redis.url, server: { batchRecordMaxBytes: RECORD_LIMIT, batchMaxBytes: REQUEST_LIMIT } });
t.teardown(async () => {
  await gw.close();
  await redis.stop();
});

const base: Record<string, RecordLike> = { anthropometry: validAnthropometry, 'anc-visit': validAncVisit, immunization: validImmunization, screening: validScreening };

/** Every path of a date field in a schema (`format: date` or the record date-time), dotted. */
function dateFields(schema: unknown, at: string[] = []): string[][] {
  if (!schema || typeof schema !== 'object') return [];
  const s = schema as { format?: string; properties?: Record<string, unknown> };
  if (s.format === 'date' || s.format === 'gerbang-datetime') return [at];
  return Object.entries(s.properties ?? {}).flatMap(([k, v]) => dateFields(v, [...at, k]));
}

function withValueAt(record: RecordLike, path: string[], value: unknown): RecordLike {
  const copy = structuredClone(record) as Record<string, unknown>;
  let node = copy;
  for (const step of path.slice(0, -1)) node = (node[step] ??= {}) as Record<string, unknown>;
  node[path.at(-1)!] = value;
  return copy;
}

function codes(outcome: { issue: Array<{ details: { coding: Array<{ code: string }> }; expression?: string[] }> }) {
  return outcome.issue.map((i) => `${i.details.coding[0]!.code}@${i.expression?.[0] ?? ''}`);
}

async function batch(body: string, contentType = 'application/json') {
  const res = await fetch(`${gw.url}/v1/records/$batch?source=hostile`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await res.text();
  return { status: res.status, text };
}

t.test('an impossible calendar date is a 422 naming the field, for every date field of every kind', async (t) => {
  let checked = 0;
  for (const [kind, schema] of Object.entries(recordSchemas)) {
    const fields = dateFields(schema);
    t.ok(fields.some((f) => f.join('.') === 'occurredAt'), `${kind}: occurredAt is among its date fields`);
    for (const field of fields) {
      for (const impossible of field[0] === 'occurredAt' ? ['2025-11-31', '2025-02-29T10:00:00+07:00', '2025-11-05T24:10:00+07:00'] : ['2023-02-30', '2025-04-31']) {
        const res = await postJson(`${gw.url}/v1/records?source=hostile`, withValueAt(base[kind]!, field, impossible), { 'accept-language': 'en' });
        const path = field.join('.');
        t.equal(res.status, 422, `${kind} ${path}=${impossible}: 422`);
        t.ok(codes(res.body).includes(`field.impossible-date@${path}`), `${kind} ${path}=${impossible}: field.impossible-date at ${path}`);
        checked += 1;
      }
    }
  }
  t.ok(checked >= 20, `${checked} impossible dates refused`);
  // a real leap day is a date
  const leap = await postJson(`${gw.url}/v1/records?source=hostile`, withChanges({ recordId: 'H-leap', occurredAt: '2024-02-29T09:00:00+07:00', subject: { ...validAnthropometry.subject, birthDate: '2023-03-15' } }));
  t.equal(leap.status, 202, '2024-02-29 is accepted');
});

let deep = '1';
for (let i = 0; i < 2000; i++) deep = `{"a":${deep}}`;

t.test('nesting 2,000 objects deep is a 400 naming where, on every JSON route', async (t) => {
  for (const path of ['/v1/records?source=hostile', '/v1/$map?source=hostile', '/v1/records/$retry']) {
    const res = await postJson(`${gw.url}${path}`, `{"kind":"anthropometry","x":${deep}}`);
    t.equal(res.status, 400, `${path}: 400`);
    t.match(codes(res.body)[0], /^request\.too-deep@x(\.a)+$/, `${path}: request.too-deep at x.a.a…`);
  }
  // 200 levels: under the batch's record byte limit, over the depth limit
  const res = await batch(`[{"kind":"anthropometry","x":${'{"a":'.repeat(200)}1${'}'.repeat(200)}}, ${JSON.stringify(withChanges({ recordId: 'H-after-deep' }))}]`);
  const body = JSON.parse(res.text);
  t.same(body.results.map((r: { result: string; code?: string }) => `${r.result}:${r.code ?? ''}`), ['refused:request.too-deep', 'accepted:']);
  t.same(body.summary, { received: 2, accepted: 1, duplicate: 0, refused: 1 });
});

t.test('objects with their own toString/valueOf are refused, never a 500', async (t) => {
  const hostile = [
    { toString: 'x', valueOf: 1, kind: { toString: 1 } },
    { kind: { toString: 1, valueOf: 2 } },
    { ...validAnthropometry, subject: { ...validAnthropometry.subject, toString: {}, nik: { valueOf: 2 } } },
    JSON.parse('{"kind": "anthropometry", "__proto__": {"isAdmin": true}}'),
    { ...validAnthropometry, constructor: { prototype: 1 } },
  ];
  for (const body of hostile) {
    const res = await postJson(`${gw.url}/v1/records?source=hostile`, body);
    t.equal(res.status, 400, `${JSON.stringify(body).slice(0, 50)}: 400`);
    t.match(codes(res.body)[0], /^request\.reserved-key@/);
  }
  // through an adapter too
  const adapted = await postJson(`${gw.url}/v1/records?source=posyandu-ilp-vrynd&posyandu=3201010001-02`, { nama: { toString: 1 } });
  t.equal(adapted.status, 400, 'adapter path: 400');
  const res = await batch(JSON.stringify(hostile));
  const answer = JSON.parse(res.text);
  t.equal(answer.results.length, hostile.length, 'every hostile record answered in its place');
  t.ok(answer.results.every((r: { code: string }) => r.code === 'request.reserved-key'));
  t.equal(answer.summary.refused, hostile.length, 'the batch ends with its summary');
  // a kind that is not one, shown without converting it
  const kind = await postJson(`${gw.url}/v1/records?source=hostile`, { kind: ['anthropometry'] });
  t.equal(kind.status, 422);
});

t.test('paging out of range is a 400, not a 500', async (t) => {
  for (const q of ['/v1/records?offset=1e20', '/v1/records?limit=-1', '/v1/records?offset=-1', '/v1/records?limit=1e20', '/v1/sync/failures?offset=1e20', '/v1/sync/failures?limit=0']) {
    const res = await fetch(`${gw.url}${q}`);
    t.equal(res.status, 400, `${q}: 400`);
    t.match(codes((await res.json()) as never)[0], /^request\.invalid-parameter@(offset|limit)$/);
  }
});

t.test('path tricks on the dashboard files are 4xx OperationOutcomes', async (t) => {
  for (const path of ['/dashboard/..%2f..', '/dashboard/..%2f..%2fpackage.json', '/dashboard/%00', '/dashboard/a%00.js', '/dashboard/%2e%2e/%2e%2e/package.json', '/dashboard/%E0%A4%A', '/dashboard/..%5c..%5cpackage.json', '/%00']) {
    const res = await fetch(`${gw.url}${path}`);
    t.ok(res.status >= 400 && res.status < 500, `${path}: ${res.status}`);
    t.equal(((await res.json()) as { resourceType: string }).resourceType, 'OperationOutcome', `${path}: an OperationOutcome`);
  }
  t.equal((await fetch(`${gw.url}/dashboard/`)).status, 200, 'the page itself is still served');
});

t.test('$batch: a record over its limit is refused alone, as JSON array and as NDJSON', async (t) => {
  const big = JSON.stringify({ ...validAnthropometry, recordId: 'H-big', pad: 'x'.repeat(RECORD_LIMIT) });
  const ok = (id: string) => JSON.stringify(withChanges({ recordId: id }));
  const array = JSON.parse((await batch(`[${ok('H-a1')},${big},${ok('H-a2')}]`)).text);
  t.same(array.results.map((r: { result: string; code?: string }) => `${r.result}:${r.code ?? ''}`), ['accepted:', 'refused:batch.record-too-large', 'accepted:']);
  t.equal(array.results[1].outcome.issue[0].code, 'too-long');
  t.same(array.summary, { received: 3, accepted: 2, duplicate: 0, refused: 1 });
  const lines = (await batch(`${ok('H-n1')}\n${big}\n${ok('H-n2')}\n`, 'application/x-ndjson')).text.trim().split('\n').map((l) => JSON.parse(l));
  t.same(lines.slice(0, 3).map((r: { result: string; code?: string }) => `${r.result}:${r.code ?? ''}`), ['accepted:', 'refused:batch.record-too-large', 'accepted:']);
  t.same(lines.at(-1).summary, { received: 3, accepted: 2, duplicate: 0, refused: 1 });
  // a record made of many-byte characters is measured in bytes, and characters split across chunks stay whole
  const wide = JSON.stringify(withChanges({ recordId: 'H-wide', performer: { role: 'kader', name: 'Ñ'.repeat(100) } }));
  const wideAnswer = JSON.parse((await batch(`[${wide}]`)).text);
  t.equal(wideAnswer.results[0].result, 'accepted', 'a record with two-byte characters is read whole');
});

/** Streams `total` bytes of one JSON string record as a chunked body; resolves with the answer and the peak heap seen. */
function streamHuge(base: string, total: number, contentType: string, prefix: string, suffix: string): Promise<{ status: number; text: string; peakHeapMiB: number; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${base}/v1/records/$batch?source=hostile`);
    const start = process.memoryUsage().heapUsed;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed - start)), 5);
    const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers: { 'content-type': contentType } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        clearInterval(sampler);
        resolve({ status: res.statusCode ?? 0, text, peakHeapMiB: peak / 2 ** 20, closed });
      });
    });
    const began = Date.now();
    // when the connection is gone (the server closed it, or the client's body was all sent)
    const closed = new Promise<number>((done) => req.once('close', () => done(Date.now() - began)));
    req.on('error', (err) => {
      clearInterval(sampler);
      reject(err);
    });
    const chunk = 'x'.repeat(64 * 1024);
    let sent = 0;
    req.write(prefix);
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end(suffix);
    };
    pump();
  });
}

t.test('$batch: one huge record streams past without being held (the heap stays flat)', async (t) => {
  // A gateway whose request limit is far above the record limit: a 64 MiB record is skipped as it
  // arrives, and the record after it is still taken.
  const roomy = await startGateway({ redisUrl: redis.url, server: { batchRecordMaxBytes: RECORD_LIMIT, batchMaxBytes: 128 * 1024 * 1024 } });
  t.teardown(() => roomy.close());
  const res = await streamHuge(roomy.url, 64 * 1024 * 1024, 'application/json', '[{"pad":"', `"},${JSON.stringify(withChanges({ recordId: 'H-after-huge' }))}]`);
  const body = JSON.parse(res.text);
  t.same(body.results.map((r: { result: string; code?: string }) => `${r.result}:${r.code ?? ''}`), ['refused:batch.record-too-large', 'accepted:'], res.text.slice(0, 300));
  t.equal(body.summary.received, 2);
  t.ok(res.peakHeapMiB < 48, `heap grew at most ${res.peakHeapMiB.toFixed(1)} MiB while a 64 MiB record went past`);
});

t.test('$batch: a request over its limit is cut there, answered with its summary, and the connection closed', async (t) => {
  const sampleHeap = process.memoryUsage().heapUsed;
  // 64 MiB: 256 times the request limit; the gateway stops reading at the limit
  const res = await streamHuge(gw.url, 64 * 1024 * 1024, 'application/x-ndjson', `${JSON.stringify(withChanges({ recordId: 'H-before-cut' }))}\n{"pad":"`, '"}\n').catch((err: Error) => ({ status: -1, text: String(err), peakHeapMiB: 0, closed: Promise.resolve(-1) }));
  t.equal(res.status, 200, `streamed answer (${res.text.slice(0, 80)})`);
  const lines = res.text.trim().split('\n').map((l) => JSON.parse(l));
  t.equal(lines[0].result, 'accepted', 'the record before the cut is taken');
  const summary = lines.at(-1).summary;
  t.equal(summary.truncatedAtBytes, REQUEST_LIMIT, 'the summary says where reading stopped');
  t.equal(summary.outcome.issue[0].details.coding[0].code, 'batch.request-too-large');
  t.ok(res.peakHeapMiB < 48, `heap grew at most ${res.peakHeapMiB.toFixed(1)} MiB (from ${(sampleHeap / 2 ** 20).toFixed(0)} MiB)`);
  const closedAfter = await res.closed;
  t.ok(closedAfter >= 0 && closedAfter < 10_000, `the connection was closed ${closedAfter} ms after the request began, not read to its 64 MiB end`);
});

t.test('$batch: a Content-Length over the limit is a 413 before a byte is read', async (t) => {
  const declared = await new Promise<{ status: number; connection: string | undefined; text: string }>((resolve, reject) => {
    const url = new URL(`${gw.url}/v1/records/$batch?source=hostile`);
    const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(REQUEST_LIMIT + 1) } }, (r) => {
      let text = '';
      r.on('data', (d: Buffer) => (text += d.toString()));
      r.on('end', () => {
        resolve({ status: r.statusCode ?? 0, connection: r.headers.connection, text });
        req.destroy();
      });
    });
    req.on('error', reject);
    req.write('[');
  });
  t.equal(declared.status, 413, 'Content-Length over the limit: 413 at once');
  t.equal(declared.connection, 'close', 'and the connection is closed rather than the body awaited');
  t.match(declared.text, /batch\.declared-too-large/, 'in words for a batch');
});

t.test('the process is alive and answering after all of it', async (t) => {
  const res = await fetch(`${gw.url}/healthz`);
  t.equal(res.status, 200);
  t.same(gw.logs.filter((l) => /"level":50/.test(l) && /unexpected error/.test(l)), [], 'no unexpected error was logged');
});
