import { readdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import t from 'tap';
import { postJson, startGateway, waitFor } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { withChanges } from '../fixtures/records.js';

// A Redis with a small maxmemory (noeviction), as the private one has. Ingest must stop at the
// high-water mark with a fast 503, before the store refuses the writes delivery needs; delivery
// must drain what was accepted; and a store that is full all the same (another program filled it)
// must neither make the workers spin nor fill the log. The gateway keeps its ledger in Redis here,
// so that a few hundred records reach the mark; with the ledger in PostgreSQL the same check holds
// on the jobs alone (a few KiB per record), which takes thousands.

const MAXMEMORY = 24 * 1024 * 1024;
const HIGH_WATER_PERCENT = 50;

const redis = await startRedis({ appendonly: false });
const admin = new Redis(redis.url);
await admin.config('SET', 'maxmemory', String(MAXMEMORY));
const gw = await startGateway({ redisUrl: redis.url, ledgerStore: 'redis', store: { highWaterPercent: HIGH_WATER_PERCENT } });
const outboxDir = (gw.config.upstreams[0] as { directory: string }).directory;
t.teardown(async () => {
  await admin.config('SET', 'maxmemory', '0').catch(() => undefined);
  admin.disconnect();
  await gw.close();
  await redis.stop();
});

let serial = 0;
function batchOf(n: number): unknown[] {
  return Array.from({ length: n }, () => {
    const i = serial++;
    return withChanges({ recordId: `BP-${i}`, subject: { nik: `3201015503${String(230001 + i).padStart(6, '0')}`, name: 'Siti Aminah', sex: 'female', birthDate: '2023-03-15' } });
  });
}

async function usedMemory(): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
}

const delivered = () => readdirSync(outboxDir).filter((f) => f.endsWith('.json')).length;

t.test('ingest answers 503 store.full at the high-water mark, and delivery drains what was accepted', async (t) => {
  const before = gw.logs.length;
  let accepted = 0;
  let full: { code: string } | undefined;
  for (let round = 0; round < 200 && !full; round++) {
    const res = await fetch(`${gw.url}/v1/records/$batch?source=pressure`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batchOf(50)) });
    const answer = (await res.json()) as { results: Array<{ result: string; code?: string }>; summary: { accepted: number } };
    accepted += answer.summary.accepted;
    full = answer.results.find((r) => r.result === 'refused') as { code: string } | undefined;
  }
  t.ok(full, `refused after ${accepted} records`);
  t.equal(full?.code, 'store.full', 'the refusal says the store is full');
  t.ok(accepted > 100, `${accepted} records were accepted first`);

  const started = Date.now();
  const one = await postJson(`${gw.url}/v1/records?source=pressure`, batchOf(1)[0]);
  const tookMs = Date.now() - started;
  t.equal(one.status, 503, 'a single record: 503');
  t.equal(one.body.issue[0].details.coding[0].code, 'store.full');
  t.equal(one.headers.get('retry-after'), '30', 'with Retry-After');
  t.ok(tookMs < 1_000, `answered in ${tookMs} ms`);
  const en = await postJson(`${gw.url}/v1/records?source=pressure`, batchOf(1)[0], { 'accept-language': 'en' });
  t.match(en.body.issue[0].details.text, /full/, 'in words an app can show');

  const used = await usedMemory();
  t.ok(used < MAXMEMORY * 0.9, `the store stopped short of its cap (${(used / 1048576).toFixed(1)} of ${MAXMEMORY / 1048576} MiB)`);

  await waitFor(() => delivered() >= accepted, 120_000, `all ${accepted} accepted records delivered`);
  t.equal(delivered(), accepted, `${accepted} of ${accepted} delivered while ingest was refused`);

  const lines = gw.logs.slice(before);
  t.same(lines.filter((l) => /OOM/.test(l)), [], 'the store never refused a write (no OOM)');
  // once, or a few times if the memory hovers at the mark: one line per crossing, not per record
  const crossings = lines.filter((l) => l.includes('high-water mark: ingest answers 503')).length;
  t.ok(crossings >= 1 && crossings <= 3, `crossing the mark is logged (${crossings} line(s))`);
  t.ok(lines.filter((l) => /"level":(40|50)/.test(l)).length <= 5, 'no stream of warnings or errors');
});

t.test('a store full all the same: the workers wait without spinning, then drain', async (t) => {
  // Room again (the cap raised), then a burst, and another program takes the rest of the memory.
  await admin.config('SET', 'maxmemory', '0');
  await waitFor(async () => (await postJson(`${gw.url}/v1/records?source=pressure`, batchOf(1)[0])).status === 202, 10_000, 'ingest open again');
  const already = delivered();
  let accepted = 1;
  for (let round = 0; round < 6; round++) {
    const res = await fetch(`${gw.url}/v1/records/$batch?source=pressure`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batchOf(100)) });
    accepted += ((await res.json()) as { summary: { accepted: number } }).summary.accepted;
  }
  await admin.config('SET', 'maxmemory', '1');
  const stuckAt = delivered();
  t.ok(stuckAt < already + accepted, `${already + accepted - stuckAt} records were still on their way when the store filled`);

  const logsBefore = gw.logs.length;
  const bytesBefore = gw.logs.reduce((n, l) => n + l.length, 0);
  const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))?.[1]);
  const c0 = await commands();
  await new Promise((r) => setTimeout(r, 5_000));
  const perSecond = ((await commands()) - c0) / 5;
  const lines = gw.logs.slice(logsBefore);
  const bytes = gw.logs.reduce((n, l) => n + l.length, 0) - bytesBefore;
  t.ok(perSecond < 400, `${perSecond.toFixed(0)} Redis commands a second while full (a spinning worker makes thousands)`);
  t.ok(lines.length <= 20, `${lines.length} log lines in 5 s while full`);
  t.ok(bytes < 20_000, `${bytes} bytes of log in 5 s while full`);
  t.same(lines.filter((l) => /Siti Aminah|3201015503/.test(l)), [], 'no name or NIK in them');

  await admin.config('SET', 'maxmemory', String(64 * 1024 * 1024));
  await waitFor(() => delivered() >= already + accepted, 120_000, 'the rest delivered once the store has room');
  t.equal(delivered(), already + accepted, 'every accepted record delivered, none twice');
});
