import { Redis } from 'ioredis';
import t from 'tap';
import { postJson, startGateway, waitFor } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { keysOf, payloadOf } from '../helpers/store.js';
import { RedisLedger } from '../../src/sync/store/redis-ledger.js';
import { withChanges } from '../fixtures/records.js';

// With a retention that lets delivered payloads go at once, a store at its high-water mark does
// not wait for the hourly sweep: what delivery settled is dropped, and ingest opens again. Only a
// ledger kept in Redis frees Redis memory so (`ledger.store: "redis"`); with the ledger in
// PostgreSQL, Redis holds the jobs alone.

const redis = await startRedis({ appendonly: false });
const admin = new Redis(redis.url);
await admin.config('SET', 'maxmemory', String(24 * 1024 * 1024));
const gw = await startGateway({ redisUrl: redis.url, ledgerStore: 'redis', store: { highWaterPercent: 50 }, retention: { payloadDays: 0, sweepIntervalMinutes: 60 } });
t.teardown(async () => {
  admin.disconnect();
  await gw.close();
  await redis.stop();
});

let serial = 0;
const record = () => {
  const i = serial++;
  return withChanges({ recordId: `BR-${i}`, subject: { nik: `3201015503${String(230001 + i).padStart(6, '0')}`, name: 'Siti Aminah', sex: 'female', birthDate: '2023-03-15' } });
};

t.test('at the mark, the payloads of delivered records are dropped early and ingest opens again', async (t) => {
  let refused: string | undefined;
  let first = '';
  for (let round = 0; round < 200 && !refused; round++) {
    const res = await fetch(`${gw.url}/v1/records/$batch?source=pressure`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(Array.from({ length: 50 }, record)) });
    const answer = (await res.json()) as { results: Array<{ id?: string; result: string; code?: string }> };
    first ||= answer.results[0]?.id ?? '';
    refused = answer.results.find((r) => r.result === 'refused')?.code;
  }
  t.equal(refused, 'store.full', 'the store reached its mark');
  const reopened = await waitFor(async () => {
    const res = await postJson(`${gw.url}/v1/records?source=pressure`, record());
    return res.status === 202 ? res : (await new Promise((r) => setTimeout(r, 500)), undefined);
  }, 60_000, 'ingest open again');
  t.equal(reopened.status, 202, 'ingest accepts records again without waiting for the hourly sweep');
  t.ok((await new RedisLedger(admin, keysOf(gw.config), payloadOf(gw.config)).get(first))?.payloadDroppedAt, 'a delivered record lost its payload (payloadDays 0)');
});
