import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import t from 'tap';
import { importFile } from '../../src/cli/import.js';
import { hashApiKey } from '../../src/http/auth/api-keys.js';
import { withChanges } from '../fixtures/records.js';
import { startGateway } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';

// Admission counts records, not only requests: a single POST and every line of a $batch draw from
// the key's records-per-minute budget (server.recordsPerMinute, or the key's own recordsPerMinute).

const keys = { single: 'gbk_budget-single', batch: 'gbk_budget-batch', refund: 'gbk_budget-refund', roomy: 'gbk_budget-roomy', importer: 'gbk_budget-import' };
const redis = await startRedis();
const gw = await startGateway({
  redisUrl: redis.url,
  apiKeys: [
    { id: 'single', hash: hashApiKey(keys.single), role: 'submitter', recordsPerMinute: 3 },
    { id: 'batch', hash: hashApiKey(keys.batch), role: 'submitter', recordsPerMinute: 10 },
    { id: 'refund', hash: hashApiKey(keys.refund), role: 'submitter', recordsPerMinute: 70 },
    { id: 'roomy', hash: hashApiKey(keys.roomy), role: 'submitter' },
    { id: 'importer', hash: hashApiKey(keys.importer), role: 'submitter', recordsPerMinute: 6 },
  ],
  server: { host: '127.0.0.1', recordsPerMinute: 40 },
});
t.teardown(async () => {
  await gw.close();
  await redis.stop();
});

const record = (id: string) => withChanges({ recordId: id });
const code = (outcome: any) => outcome?.issue?.[0]?.details?.coding?.[0]?.code;

async function post(key: string, body: unknown) {
  const res = await fetch(`${gw.url}/v1/records`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any, retryAfter: res.headers.get('retry-after') };
}

async function batch(key: string, records: unknown[]) {
  const res = await fetch(`${gw.url}/v1/records/$batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' },
    body: records.map((r) => JSON.stringify(r)).join('\n'),
  });
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), lines: res.status === 200 ? text.trim().split('\n').map((l) => JSON.parse(l)) : [], body: res.status === 200 ? undefined : JSON.parse(text) };
}

t.test('single posts: the record beyond the budget is a 429 with Retry-After and words', async (t) => {
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await post(keys.single, record(`BUD-S-${i}`))).status);
  t.same(statuses, [202, 202, 202]);
  const over = await post(keys.single, record('BUD-S-3'));
  t.equal(over.status, 429);
  t.equal(code(over.body), 'request.too-many-records');
  t.equal(over.body.issue[0].code, 'throttled');
  t.match(over.body.issue[0].details.text, /batas 3 catatan per menit/);
  const wait = Number(over.retryAfter);
  t.ok(wait >= 1 && wait <= 60, `Retry-After ${over.retryAfter}`);
  const again = await post(keys.single, record('BUD-S-0'));
  t.equal(again.status, 429, 'a resent duplicate draws from the budget too (it is still work)');
});

t.test('$batch: records beyond the budget are refused one by one, the summary ends the answer and says when to resend', async (t) => {
  const first = await batch(keys.batch, Array.from({ length: 14 }, (_, i) => record(`BUD-B-${i}`)));
  t.equal(first.status, 200);
  const results = first.lines.slice(0, -1);
  const summary = first.lines.at(-1)?.summary;
  t.equal(results.length, 14, 'every record is answered');
  t.same(results.map((r: any) => r.result), [...Array(10).fill('accepted'), ...Array(4).fill('refused')], 'the first 10 go in, the tail is refused');
  for (const r of results.slice(10)) {
    t.equal(r.code, 'request.too-many-records');
    t.match(r.outcome.issue[0].details.text, /batas 10 catatan per menit/);
    t.ok(r.retryAfterSeconds >= 1 && r.retryAfterSeconds <= 60);
  }
  t.match(summary, { received: 14, accepted: 10, refused: 4, overBudget: 4 });
  t.ok(summary.retryAfterSeconds >= 1 && summary.retryAfterSeconds <= 60);
  t.match(summary.budgetOutcome.issue[0].details.text, /4 catatan terakhir tidak diterima/);

  // The budget used up: the next batch is refused before a record is read.
  const next = await batch(keys.batch, [record('BUD-B-20')]);
  t.equal(next.status, 429);
  t.equal(code(next.body), 'request.too-many-records');
  t.ok(Number(next.retryAfter) >= 1, `Retry-After ${next.retryAfter}`);
  t.equal((await post(keys.batch, record('BUD-B-21'))).status, 429, 'single posts draw from the same budget');
  t.equal((await post(keys.roomy, record('BUD-R-1'))).status, 202, 'another key has its own budget (the configured default)');
});

t.test('a batch pays for the records it had, not for the chunk it took', async (t) => {
  const small = await batch(keys.refund, [record('BUD-F-1'), record('BUD-F-2'), record('BUD-F-3')]);
  t.match(small.lines.at(-1)?.summary, { accepted: 3, refused: 0 });
  const rest = await batch(keys.refund, Array.from({ length: 67 }, (_, i) => record(`BUD-F-${10 + i}`)));
  t.match(rest.lines.at(-1)?.summary, { received: 67, accepted: 67, refused: 0 }, '3 + 67 = the 70 of the budget');
  t.notOk('overBudget' in rest.lines.at(-1).summary);
  t.equal((await post(keys.refund, record('BUD-F-99'))).status, 429, 'and then it is used up');
});

t.test('gerbang import waits out the budget and sends the held-back records again', async (t) => {
  const admin = new Redis(redis.url);
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-budget-import-'));
  t.teardown(() => {
    admin.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'backlog.ndjson');
  writeFileSync(file, `${Array.from({ length: 13 }, (_, i) => JSON.stringify(record(`BUD-I-${i}`))).join('\n')}\n`);
  const waits: number[] = [];
  // The minute is not waited out here: the wait ends the key's window in Redis, as the minute would.
  const wait = async (ms: number) => {
    waits.push(ms);
    await admin.del('g:rb:importer');
  };
  const screen: string[] = [];
  const out = new Writable({ write: (c: Buffer, _e, cb) => { screen.push(c.toString()); cb(); } });
  // a budget of 6, chunks of 4: the second chunk's tail is held back, the fourth chunk refused whole
  const result = await importFile(file, { url: gw.url, apiKey: keys.importer, chunk: 4, out, wait });
  t.match(result, { finished: true, linesDone: 13, accepted: 13, duplicate: 0, refused: 0 }, 'every record went in once');
  t.equal(waits.length, 2, 'one wait for the tail of a chunk, one for a chunk refused before it was read');
  for (const ms of waits) t.ok(ms >= 1_000 && ms <= 60_000, `waited ${ms} ms as the gateway said`);
  t.match(screen.join(''), /batas catatan per menit tercapai: 2 catatan dikirim lagi/);
});
