import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/load.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import type { Ledger, NewRecord } from '../../src/sync/ledger.js';
import { PgLedger } from '../../src/sync/pg/pg-ledger.js';
import { RedisLedger } from '../../src/sync/store/redis-ledger.js';
import type { UpstreamStatus } from '../../src/sync/states.js';
import type { WrittenResource } from '../../src/upstream/upstream.js';
import { validAnthropometry, withChanges, type RecordLike } from '../fixtures/records.js';
import { migratedPool } from '../helpers/ledger-database.js';
import { startRedis } from '../helpers/redis-server.js';
import { testKeys, testPayload } from '../helpers/store.js';

// What the ledger keeps for corrections: the upstream ids of the last synced version travel with
// every later version until one of those is synced, an old push that ends late hands over what it
// wrote, and a correction does not start while an older push may still write. The same assertions
// run on each store: the Redis ledger on a real redis-server, the PostgreSQL ledger (issue 15) on
// a real PostgreSQL.

const stores: Array<{ name: string; open: (t: Test) => Promise<Ledger> }> = [
  {
    name: 'redis',
    open: async (t) => {
      const redisServer = await startRedis({ appendonly: false });
      const redis = new Redis(redisServer.url);
      t.teardown(async () => {
        redis.disconnect();
        await redisServer.stop();
      });
      return new RedisLedger(redis, testKeys('ledger-corrections'), testPayload());
    },
  },
  {
    name: 'postgres',
    open: async () => new PgLedger(await migratedPool({ partitionsFrom: new Date(clock) }), testPayload()),
  },
];

const { facilities } = loadConfig({});
const U = 'satusehat';
let clock = Date.parse('2025-11-06T02:00:00Z');

function record(id: string, weightKg: number): NewRecord {
  const r = prepareRecord(withChanges({ recordId: id, weightKg }, validAnthropometry as unknown as RecordLike), 'app', facilities, new Date(clock), undefined);
  if (!r.ok) throw new Error('fixture does not prepare');
  return {
    id: `rec-${id}`,
    source: 'app',
    record: r.prepared.record,
    contentHash: `hash-${weightKg}`,
    bundle: r.prepared.bundle,
    indicators: {},
    warnings: [],
    subject: `subject-${id}`,
    posyandu: '3201010001-01',
    puskesmas: 'P3201010101',
    regency: '3201',
    receivedAt: new Date(clock),
    upstreams: [U],
  };
}

const written = (n: number): WrittenResource[] => [
  { fullUrl: 'urn:uuid:e', resourceType: 'Encounter', id: `enc-${n}`, status: '201 Created' },
  { fullUrl: 'urn:uuid:o', resourceType: 'Observation', id: `obs-${n}`, status: '201 Created' },
];
const at = () => new Date(clock).toISOString();
for (const store of stores) {
  t.test(store.name, async (t) => {
    const ledger = await store.open(t);
    const state = async (id: string) => (await ledger.stateAt(id, U))!.status;
    async function push(id: string, version: number, end: Partial<UpstreamStatus>): Promise<void> {
      const begun = await ledger.beginDelivery(id, U, version, clock);
      if (begun.kind !== 'go') throw new Error(`version ${version} did not start: ${begun.kind}`);
      await ledger.setState(id, U, { ...begun.status, state: 'sending', attempts: 1, sendingUntil: clock + 30_000, updatedAt: at() });
      if (end.state) await ledger.setState(id, U, { ...begun.status, attempts: 1, ...end, version, updatedAt: at() } as UpstreamStatus);
    }

    t.test('the ids of the synced version travel with later versions until one of them is synced', async (t) => {
      const v1 = await ledger.accept(record('A', 9.8));
      await push(v1.id, 1, { state: 'synced', resources: written(1) });
      const v2 = await ledger.accept(record('A', 10.2));
      t.equal(v2.version, 2);
      t.match(await state(v1.id), { state: 'queued', version: 2, held: written(1), heldVersion: 1 });
      t.notOk((await state(v1.id)).resources, 'the new version has written nothing yet');

      // Version 2 fails; version 3 still knows what version 1 wrote.
      await push(v1.id, 2, { state: 'failed' });
      await ledger.accept(record('A', 10.4));
      t.match(await state(v1.id), { state: 'queued', version: 3, held: written(1), heldVersion: 1 });

      const begun = await ledger.beginDelivery(v1.id, U, 3, clock);
      t.match(begun, { kind: 'go', status: { held: written(1) } }, 'the worker is handed the ids');
    });

    t.test('a correction accepted while the earlier version is being pushed waits for it, and gets what it wrote', async (t) => {
      const v1 = await ledger.accept(record('B', 9.8));
      await push(v1.id, 1, {}); // sending, not finished
      await ledger.accept(record('B', 10.2));
      t.match(await state(v1.id), { state: 'queued', version: 2, earlierSending: { version: 1 } });
      t.same(await ledger.beginDelivery(v1.id, U, 2, clock), { kind: 'wait' }, 'version 2 waits while version 1 may still write');

      // Version 1's push ends: its state write is refused (older), but what it wrote is kept.
      const stale = await ledger.setState(v1.id, U, { state: 'synced', version: 1, attempts: 1, resources: written(1), updatedAt: at() });
      t.equal(stale, false, 'the older version does not overwrite the newer state');
      const now = await state(v1.id);
      t.match(now, { state: 'queued', version: 2, held: written(1), heldVersion: 1 });
      t.notOk(now.earlierSending, 'nothing to wait for any more');
      t.equal((await ledger.beginDelivery(v1.id, U, 2, clock)).kind, 'go');
    });

    t.test('a push that crashed holds a correction back only until its lock would have run out', async (t) => {
      const v1 = await ledger.accept(record('C', 9.8));
      await push(v1.id, 1, {}); // its worker dies here
      await ledger.accept(record('C', 10.2));
      t.same(await ledger.beginDelivery(v1.id, U, 2, clock + 29_000), { kind: 'wait' });
      t.equal((await ledger.beginDelivery(v1.id, U, 2, clock + 31_000)).kind, 'go');
      t.notOk((await state(v1.id)).held, 'nothing was synced, so no ids to update: the correction creates (or finds by identifier)');
      t.equal(await ledger.latestVersion(v1.id), 2);
      t.equal(await ledger.latestVersion('no-such-record'), undefined);
      clock += 60_000;
    });

    t.test('a push still running renews its lease: its own state while it is the latest, the wait of the correction after', async (t) => {
      const v1 = await ledger.accept(record('D', 9.8));
      await push(v1.id, 1, {}); // sending until clock + 30 s
      await ledger.renewSending(v1.id, U, 1, clock + 50_000);
      t.equal((await state(v1.id)).sendingUntil, clock + 50_000, "the push's own lease grows");
      await ledger.accept(record('D', 10.2));
      t.match(await state(v1.id), { state: 'queued', version: 2, earlierSending: { version: 1, untilMs: clock + 50_000 } }, 'the correction takes over the renewed lease');
      await ledger.renewSending(v1.id, U, 1, clock + 70_000);
      t.same(await ledger.beginDelivery(v1.id, U, 2, clock + 60_000), { kind: 'wait' }, 'and waits while the push of version 1 is renewed');
      await ledger.renewSending(v1.id, U, 1, clock + 40_000);
      t.match(await state(v1.id), { earlierSending: { untilMs: clock + 70_000 } }, 'a lease never shrinks');
      t.equal((await ledger.beginDelivery(v1.id, U, 2, clock + 71_000)).kind, 'go', 'a push no longer renewed holds it back no more');
      await ledger.setState(v1.id, U, { state: 'synced', version: 2, attempts: 1, resources: written(2), updatedAt: at() });
      await ledger.renewSending(v1.id, U, 2, clock + 90_000);
      t.match(await state(v1.id), { state: 'synced', version: 2 }, 'a settled state stays');
      t.notOk((await state(v1.id)).sendingUntil, 'with no lease');
      await ledger.renewSending('no-such-record', U, 1, clock + 90_000);
      clock += 100_000;
    });
  });
}
