import { Redis } from 'ioredis';
import t from 'tap';
import { getJson, memoryLogger, postJson, waitFor } from '../helpers/gateway.js';
import { startStack } from '../helpers/stack.js';
import { withChanges } from '../fixtures/records.js';
import { RetentionSweeper } from '../../src/sync/retention.js';
import { RECORD_FIELDS, upstreamField } from '../../src/sync/store/keys.js';
import { RedisLedger } from '../../src/sync/store/redis-ledger.js';
import { keysOf, payloadOf } from '../helpers/store.js';

// A record that never got through holds names and NIKs as long as a synced one: its payload goes
// too, retention.unsyncedPayloadDays after it was received, once delivery has stopped trying.
// This file reads the Redis ledger's hashes, so its gateway keeps `ledger.store: "redis"`; the
// PostgreSQL ledger's retention gives the same answers in pg-reads.test.ts and
// pg-ledger-differential.test.ts.

const { redis, fhir, gw } = await startStack(t, {}, { ledgerStore: 'redis' });
const peek = new Redis(redis.url);
const keys = keysOf(gw.config);
t.teardown(() => peek.disconnect());
const state = async (id: string) => (await getJson(`${gw.url}/v1/records/${id}`)).body;

t.test('failed records lose their payload after unsyncedPayloadDays; records still on their way keep it', async (t) => {
  const outcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: 'refused' }] };
  fhir.failNext(3, 422, { body: outcome });
  // three records of one $batch: the same time received, which the sweep's cursor must get past
  const batch = await fetch(`${gw.url}/v1/records/$batch?source=ret`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([1, 2, 3].map((i) => withChanges({ recordId: `RU-${i}`, subject: { nik: `320101550323001${i}`, name: 'Dewi Lestari', sex: 'female', birthDate: '2023-03-15' } }))),
  });
  const ids = ((await batch.json()) as { results: Array<{ id: string }> }).results.map((r) => r.id);
  t.equal(ids.length, 3);
  for (const id of ids) await waitFor(async () => (await state(id)).upstreams?.sandbox?.state === 'failed', 20_000, `${id} failed`);
  const synced = await postJson(`${gw.url}/v1/records?source=ret`, withChanges({ recordId: 'RU-ok', subject: { nik: '3201015503230020', name: 'Dewi Lestari', sex: 'female', birthDate: '2023-03-15' } }));
  await waitFor(async () => (await state(synced.body.id)).upstreams?.sandbox?.state === 'synced', 20_000, 'synced');
  // one failed record replayed, and on its way again when the sweep comes
  const replayed = ids[2]!;
  await peek.hset(keys.record(replayed), upstreamField('sandbox'), JSON.stringify({ ...JSON.parse((await peek.hget(keys.record(replayed), upstreamField('sandbox')))!), state: 'retrying' }));

  const { logger, lines } = memoryLogger('info');
  const sweeper = new RetentionSweeper({ ledger: new RedisLedger(peek, keys, payloadOf(gw.config)), retention: gw.config.retention, logger });
  t.equal(gw.config.retention.unsyncedPayloadDays, 90, 'the default');
  t.equal(await sweeper.sweep(Date.now() + 89 * 86_400_000), 1, 'after 89 days only the synced record\'s payload went (payloadDays 30)');
  t.equal(await peek.hexists(keys.record(ids[0]!), RECORD_FIELDS.record), 1, 'a failed one still has its payload');
  t.equal(await sweeper.sweep(Date.now() + 91 * 86_400_000), 2, 'after 91 days the two failed records lose theirs');
  for (const id of ids.slice(0, 2)) {
    t.equal(await peek.hexists(keys.record(id), RECORD_FIELDS.record), 0, 'the failed record has no payload');
    t.equal(await peek.hexists(keys.record(id), RECORD_FIELDS.bundle), 0, 'nor its Bundle');
    const rec = await state(id);
    t.ok(rec.payloadDroppedAt, 'GET says when it was dropped');
    t.equal(rec.upstreams.sandbox.state, 'failed', 'the state stays');
    t.equal(rec.upstreams.sandbox.lastError.code, 'upstream.http-422', 'and its code');
    t.equal(rec.upstreams.sandbox.outcome, undefined, "the upstream's words (which may quote the person) went with the payload");
  }
  t.equal(await peek.hexists(keys.record(replayed), RECORD_FIELDS.record), 1, 'a record on its way again keeps its payload');
  t.match(lines.join('\n'), /dropped the payloads of records that failed to get through/);
  t.equal(await sweeper.sweep(Date.now() + 92 * 86_400_000), 0, 'each record is looked at once');

  const replay = await postJson(`${gw.url}/v1/records/${ids[0]}/$retry`, {});
  t.equal(replay.status, 409, 'a record without payload has nothing to replay');
});
