import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Observation } from '@medplum/fhirtypes';
import { getJson, postJson, startGateway, waitFor } from '../helpers/gateway.js';
import { startFhirServer } from '../helpers/fhir-server.js';
import { startRedis } from '../helpers/redis-server.js';
import { withChanges } from '../fixtures/records.js';

// Upstreams that answer but misbehave: a hostile HTTP server in front of the real FHIR engine
// plays a trick on the next request(s), then passes requests through, so every record must end
// synced once, whatever the trick did on the way.

type Trick = (req: IncomingMessage, res: ServerResponse) => void;

const redis = await startRedis();
const fhir = await startFhirServer();
const engine = new URL(fhir.baseUrl);
const tricks: Trick[] = [];
const tricked: Array<{ path: string; closedAfterMs?: number; bytes: number }> = [];
let hangValidation = false;

const front = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.url?.endsWith('/Bundle/$validate') && hangValidation) return; // answers nothing, ever
    const trick = req.url?.endsWith('/Bundle/$validate') ? undefined : tricks.shift();
    if (trick) {
      const seen = { path: req.url ?? '', bytes: 0 };
      const started = Date.now();
      tricked.push(seen);
      const write = res.write.bind(res);
      res.write = ((chunk: string | Buffer, ...rest: never[]) => {
        seen.bytes += Buffer.byteLength(chunk);
        return write(chunk, ...rest);
      }) as typeof res.write;
      res.on('close', () => Object.assign(seen, { closedAfterMs: Date.now() - started }));
      return trick(req, res);
    }
    void passThrough(req, Buffer.concat(chunks), res);
  });
});

async function passThrough(req: IncomingMessage, body: Buffer, res: ServerResponse) {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
  const answer = await fetch(`${engine.origin}${req.url}`, { method: req.method ?? 'GET', headers, ...(body.length ? { body: body.toString('utf8') } : {}) });
  res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
  res.end(Buffer.from(await answer.arrayBuffer()));
}

await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
const frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}${engine.pathname}`;

const TOTAL_MS = 1_500;
const gw = await startGateway({
  redisUrl: redis.url,
  upstreams: [
    {
      name: 'sandbox',
      kind: 'fhir',
      baseUrl: frontUrl,
      maxEntriesPerTransaction: 8,
      timeouts: { connectMs: 500, headersMs: 1_000, bodyMs: 1_000, totalMs: TOTAL_MS },
      maxAnswerBytes: 64 * 1024,
    },
  ],
  // A retry waits 200 ms to 2 s: long enough for the test to see the record retrying.
  delivery: { maxRetryAfterSeconds: 2, baseDelayMs: 2_000, maxDelayMs: 2_000 },
});
t.teardown(async () => {
  await gw.close();
  front.closeAllConnections();
  await new Promise((r) => front.close(r));
  await fhir.stop();
  await redis.stop();
});

const state = async (id: string) => (await getJson(`${gw.url}/v1/records/${id}`)).body.upstreams?.sandbox;
const until = (id: string, wanted: string, ms = 20_000) =>
  waitFor(async () => {
    const s = await state(id);
    return s?.state === wanted ? s : undefined;
  }, ms, `record ${id} ${wanted}`);

/** Posts a record while the tricks wait for its first push; returns its state once retrying, then once synced. */
async function throughTricks(recordId: string, ...ts: Trick[]) {
  tricks.push(...ts);
  const res = await postJson(`${gw.url}/v1/records?source=hostile`, withChanges({ recordId }));
  t.equal(res.status, 202);
  const retrying = await until(res.body.id, 'retrying');
  const synced = await until(res.body.id, 'synced');
  const obs = await fhir.search<Observation>('Observation', { identifier: `http://sys-ids.kemkes.go.id/observation/10000004|hostile.${recordId}.weight` });
  t.equal(obs.length, 1, `${recordId}: in the engine once`);
  return { retrying, synced };
}

const answer = (status: number, body: string, type = 'application/fhir+json', headers: Record<string, string> = {}): Trick => (_req, res) => {
  res.writeHead(status, { 'content-type': type, ...headers });
  res.end(body);
};

t.test('a 2xx that is not a transaction-response is not synced: upstream.bad-answer, retried', async (t) => {
  const html = await throughTricks('H-html', answer(200, '<html><body>Welcome to our proxy</body></html>', 'text/html'));
  t.equal(html.retrying.lastError.code, 'upstream.bad-answer');
  t.match(html.retrying.lastError.message, /not JSON/);
  t.ok(html.synced.resources.length > 0, 'the ids come from the real transaction-response');

  const other = await throughTricks('H-json', answer(200, JSON.stringify({ resourceType: 'OperationOutcome', issue: [] })));
  t.equal(other.retrying.lastError.code, 'upstream.bad-answer');
  t.match(other.retrying.lastError.message, /not a transaction-response Bundle/);

  const short = await throughTricks('H-short', answer(200, JSON.stringify({ resourceType: 'Bundle', type: 'transaction-response', entry: [{ response: { status: '201 Created' } }] })));
  t.equal(short.retrying.lastError.code, 'upstream.bad-answer');
  t.match(short.retrying.lastError.message, /1 entries for the \d+ sent/);

  const failedEntry = (req: IncomingMessage, res: ServerResponse) => {
    // One entry per entry sent, but one of them did not go through.
    const sent = 8;
    const entry = Array.from({ length: sent }, (_, i) => ({ response: { status: i === 3 ? '400 Bad Request' : '201 Created', location: `Observation/x${i}` } }));
    answer(200, JSON.stringify({ resourceType: 'Bundle', type: 'transaction-response', entry }))(req, res);
  };
  const entryFailed = await throughTricks('H-entry', failedEntry);
  t.equal(entryFailed.retrying.lastError.code, 'upstream.bad-answer');
});

t.test('a dripping answer is cut at timeouts.totalMs, not read for ever', async (t) => {
  const drip: Trick = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/fhir+json' });
    // A byte every 200 ms: the body timeout (1 s of silence) never fires.
    const timer = setInterval(() => res.write(' '), 200);
    res.on('close', () => clearInterval(timer));
  };
  const started = Date.now();
  const { retrying } = await throughTricks('D-drip', drip);
  t.equal(retrying.lastError.code, 'upstream.timeout');
  const cut = tricked.find((x) => x.closedAfterMs !== undefined && x.bytes > 0 && x.bytes < 100);
  t.ok(cut, 'the dripping connection was closed');
  t.ok(cut!.closedAfterMs! >= TOTAL_MS - 100 && cut!.closedAfterMs! < TOTAL_MS + 1_000, `closed after ${cut!.closedAfterMs} ms`);
  t.ok(Date.now() - started < 15_000, 'and the record went through soon after');
});

t.test('an endless answer is cut at maxAnswerBytes', async (t) => {
  const before = tricked.length;
  const endless: Trick = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/fhir+json' });
    const block = Buffer.alloc(16 * 1024, 0x20);
    let open = true;
    res.on('close', () => (open = false));
    const pump = () => {
      while (open && res.write(block));
      if (open) res.once('drain', pump);
    };
    pump();
  };
  const { retrying } = await throughTricks('E-endless', endless);
  t.equal(retrying.lastError.code, 'upstream.answer-too-large');
  const seen = tricked[before]!;
  await waitFor(() => seen.closedAfterMs !== undefined, 5_000, 'the endless connection closed');
  t.ok(seen.bytes < 16 * 1024 * 1024, `${seen.bytes} bytes written before the gateway hung up`);
  t.ok(seen.closedAfterMs! < TOTAL_MS, `cut on size (${seen.closedAfterMs} ms), not by the deadline`);
});

t.test('a Retry-After of 999999999 s pauses the queue for at most delivery.maxRetryAfterSeconds', async (t) => {
  const started = Date.now();
  const { retrying, synced } = await throughTricks('R-forever', answer(429, JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'throttled' }] }), 'application/fhir+json', { 'retry-after': '999999999' }));
  t.equal(retrying.lastError.httpStatus, 429);
  const wait = Date.parse(retrying.nextAttemptAt) - Date.parse(retrying.updatedAt);
  t.ok(wait <= 2_000, `the record waits ${wait} ms, not 31 years`);
  t.ok(Date.parse(synced.syncedAt) - started < 10_000, 'and goes through within seconds');
});

t.test('$map?validate cannot take the delivery connections', async (t) => {
  hangValidation = true;
  t.teardown(() => {
    hangValidation = false;
  });
  const started = Date.now();
  const dryRuns = Array.from({ length: 24 }, (_, i) =>
    postJson(`${gw.url}/v1/$map?source=hostile&validate=sandbox`, withChanges({ recordId: `V-${i}` })).then((r) => ({ ...r, ms: Date.now() - started })),
  );
  // While the dry runs that got a connection hang, a record is still delivered.
  const res = await postJson(`${gw.url}/v1/records?source=hostile`, withChanges({ recordId: 'V-record' }));
  const synced = await until(res.body.id, 'synced', 20_000);
  const syncedMs = Date.parse(synced.syncedAt) - started;
  const answers = await Promise.all(dryRuns);
  t.ok(answers.every((a) => a.status === 200), 'every dry run answered 200');
  const waited = answers.filter((a) => a.body.upstreamValidation?.error === 'timeout');
  const busy = answers.filter((a) => a.body.upstreamValidation?.error === 'validator-busy');
  t.equal(waited.length, 2, 'two dry runs had a connection (validation.connections, 2 by default), each until validation.totalMs');
  t.equal(busy.length, 22, 'the others were told the validator is busy');
  t.ok(waited.every((a) => a.ms > syncedMs), `the record was synced (${syncedMs} ms) while they still hung`);
  t.ok(waited.every((a) => a.ms >= 14_500 && a.ms < 25_000), `cut at their deadline, 15 s by default (${waited.map((a) => a.ms).join(', ')} ms)`);
});
