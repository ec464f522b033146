import type { Observation } from '@medplum/fhirtypes';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { work } from '../../src/roles/work.js';
import { startFhirServer, type FhirServerHandle } from '../helpers/fhir-server.js';
import { getJson, memoryLogger, sandboxUpstream, startGateway, waitFor } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { keysOf } from '../helpers/store.js';
import { childRecord, postAll, untilAllSynced, type Sent } from '../helpers/satusehat-drain.js';

// The order in which queued records reach an upstream, watched at a real FHIR engine: a newer
// version replaces an older one still queued, one person's records go one at a time and in the
// order they were accepted, and one puskesmas' backlog does not hold up another's.
// The records are queued by a gateway that runs no worker; a worker started afterwards drains them,
// as after an outage. The test FHIR engine searches by scanning every resource, so each push gets
// slower as it fills: the runs here stay small.

const POSYANDU_A = '3201010001-01'; // Puskesmas Cibinong (demo registry)
const POSYANDU_B = '5271010002-01'; // Puskesmas Ampenan
const serial = (n: number) => String(n).padStart(4, '0');

async function stack(t: Test, delivery: Record<string, unknown> = {}) {
  const redis = await startRedis();
  const fhir = await startFhirServer();
  // The test engine runs in this process and its scans can hold the event loop for a second or
  // more: a job lock of 10 s keeps BullMQ from taking such a push for a crashed one.
  const gw = await startGateway({
    redisUrl: redis.url,
    upstreams: [{ name: 'sandbox', ...sandboxUpstream(fhir.baseUrl) }],
    delivery: { runWorker: false, lockDurationMs: 10_000, ...delivery },
  });
  const peek = new Redis(redis.url);
  let worker: { close(): Promise<void> } | undefined;
  t.teardown(async () => {
    peek.disconnect();
    await worker?.close();
    await gw.close();
    await fhir.stop();
    await redis.stop();
  });
  return {
    fhir,
    gw,
    async drain(sent: Sent[]) {
      // Every record is in the queue before the worker starts.
      await waitFor(async () => (await peek.llen(keysOf(gw.config).inbox)) === 0, 10_000, 'the inbox turned into jobs');
      const log = memoryLogger('info');
      worker = await work(gw.config, log.logger);
      await untilAllSynced(gw.url, sent, 30_000, 'sandbox');
      const errors = log.lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
      t.same(errors, [], 'the worker logged no error');
    },
  };
}

/** The transaction POSTs that carried a record: its business identifiers are `order.{recordId}` and `order.{recordId}.{what}`. */
function pushesOf(fhir: FhirServerHandle, recordId: string) {
  return fhir.requests.filter((r) => r.method === 'POST' && r.path === '/' && (r.body.includes(`order.${recordId}"`) || r.body.includes(`order.${recordId}.`)));
}

t.test('a newer version of a record still queued replaces it: only the newer one is sent', async (t) => {
  const { fhir, gw, drain } = await stack(t);
  const [first, again] = await postAll(gw.url, 'order', [childRecord(1, 'SUP-0001', { weightKg: 9.0 }), childRecord(1, 'SUP-0001', { weightKg: 9.6 })]);
  const id = first!.id;
  t.equal(again!.id, id, 'the same record, a new version');
  await drain([first!]);

  const record = (await getJson(`${gw.url}/v1/records/${id}`)).body;
  t.equal(record.version, 2);
  t.equal(record.upstreams.sandbox.version, 2, 'synced at version 2');
  const pushes = pushesOf(fhir, 'SUP-0001');
  t.equal(pushes.length, 2, 'one push: the Bundle in its two parts (the engine takes 8 entries at a time)');
  t.notOk(pushes.some((p) => p.body.includes('"value":9,') || p.body.includes('"value":9}')), 'the old weight (9.0 kg) never left the gateway');
  const weights = await fhir.search<Observation>('Observation', { code: '29463-7' });
  t.same(weights.map((o) => o.valueQuantity?.value), [9.6], 'one weight upstream, the newer one');
  const history = await fhir.repo.readHistory('Observation', weights[0]?.id ?? '');
  t.equal(history.entry?.length, 1, 'written once: the old version was never written and overwritten');
});

t.test('one child’s records go one at a time, in the order they were accepted, while others go in parallel', async (t) => {
  const { fhir, gw, drain } = await stack(t, { concurrency: 8 });
  fhir.setDelay(40); // long enough that two pushes for one child would overlap if they were let
  const months = ['2025-08-05', '2025-09-05', '2025-10-05', '2025-11-05'];
  const mine = months.map((_, i) => `ORD-7000-${i + 1}`);
  const records = months.flatMap((month, i) => [
    childRecord(7000, mine[i], { occurredAt: `${month}T09:30:00+07:00`, weightKg: 8 + i / 2 }),
    // Other children's records in between, which the worker may send alongside.
    ...[0, 1].map((k) => childRecord(7100 + i * 2 + k, `ORD-${7100 + i * 2 + k}-1`)),
  ]);
  await drain(await postAll(gw.url, 'order', records));

  const windows = mine.map((recordId) => {
    const parts = pushesOf(fhir, recordId);
    return { recordId, from: Math.min(...parts.map((p) => p.at)), to: Math.max(...parts.map((p) => p.answeredAt)), parts: parts.length };
  });
  t.ok(windows.every((w) => w.parts > 0), 'every record of the child reached the server');
  const sorted = [...windows].sort((a, b) => a.from - b.from);
  t.same(sorted.map((w) => w.recordId), mine, 'in the order they were accepted');
  for (let i = 1; i < sorted.length; i++) {
    t.ok(sorted[i]!.from >= sorted[i - 1]!.to, `${sorted[i]!.recordId} began after ${sorted[i - 1]!.recordId} was answered`);
  }
  // The worker did run pushes side by side: the one-at-a-time above is per child, not global.
  const all = fhir.requests.filter((r) => r.method === 'POST' && r.path === '/');
  const overlapping = all.some((a) => all.some((b) => a !== b && b.at > a.at && b.at < a.answeredAt));
  t.ok(overlapping, 'pushes of different children overlapped');
});

t.test('fairness: a puskesmas that sends a large backlog does not hold up another one', async (t) => {
  const { fhir, gw, drain } = await stack(t, { concurrency: 1 });
  const records = [
    ...Array.from({ length: 12 }, (_, i) => childRecord(8001 + i, `FAIR-A-${serial(i + 1)}`, { posyandu: POSYANDU_A })),
    ...Array.from({ length: 3 }, (_, i) => childRecord(8101 + i, `FAIR-B-${serial(i + 1)}`, { posyandu: POSYANDU_B })),
  ];
  await drain(await postAll(gw.url, 'order', records));

  // The order records were first sent in, read from the server's own request log.
  const order: string[] = [];
  for (const r of fhir.requests) {
    const m = /order\.(FAIR-[AB]-\d{4})"/.exec(r.body);
    if (m && !order.includes(m[1]!)) order.push(m[1]!);
  }
  t.equal(order.length, 15, 'every record reached the server');
  // In arrival order they would be numbers 13 to 15; taking turns, B's third goes 6th.
  const lastB = Math.max(...order.map((id, i) => (id.startsWith('FAIR-B') ? i : -1)));
  t.ok(lastB < 8, `the 3 records of the second puskesmas were among the first 8 sent (the last was number ${lastB + 1}), not behind the first one's 12`);
  t.same(order.filter((id) => id.startsWith('FAIR-A')), Array.from({ length: 12 }, (_, i) => `FAIR-A-${serial(i + 1)}`), 'each puskesmas in the order it sent');
  t.same(order.filter((id) => id.startsWith('FAIR-B')), ['FAIR-B-0001', 'FAIR-B-0002', 'FAIR-B-0003']);
});
