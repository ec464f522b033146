import t from 'tap';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/load.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import type { Ledger, NewRecord } from '../../src/sync/ledger.js';
import { PgLedger } from '../../src/sync/pg/pg-ledger.js';
import { RedisLedger } from '../../src/sync/store/redis-ledger.js';
import { reportingDay } from '../../src/sync/aggregates.js';
import type { UpstreamState, UpstreamStatus } from '../../src/sync/states.js';
import { validAnthropometry, withChanges, type RecordLike } from '../fixtures/records.js';
import { pgCounts, sortCounts } from '../helpers/pg-counts.js';
import { migratedPool } from '../helpers/ledger-database.js';
import { startRedis } from '../helpers/redis-server.js';
import { testKeys, testPayload } from '../helpers/store.js';
import { seeded } from '../helpers/seeded.js';

// The PostgreSQL ledger against the Redis ledger, move for move: seeded runs of accepts (copies,
// corrections, another posyandu's copy), pushes that start, end in every state (some of an older
// version, some after a newer one was accepted), replays, fairness ranks and outbox takes, each
// answered the same by both, and at the end every record, its states and the counts the same.

const redisServer = await startRedis({ appendonly: false });
const redis = new Redis(redisServer.url);
t.teardown(async () => {
  redis.disconnect();
  await redisServer.stop();
});

const { facilities } = loadConfig({});
const UPSTREAMS = ['satusehat', 'mirror'];
const START = Date.parse('2025-11-06T02:00:00Z');
const RUNS = 4;
const MOVES = 100;
/** what the runs did, so that a run that never reached a case does not pass for one that did */
const seen = new Map<string, number>();
const tally = (what: string) => seen.set(what, (seen.get(what) ?? 0) + 1);


function record(recordId: string, weightKg: number, posyandu: string, subject: string, at: number): NewRecord {
  const r = prepareRecord(withChanges({ recordId, weightKg }, validAnthropometry as unknown as RecordLike), 'app', facilities, new Date(at), undefined);
  if (!r.ok) throw new Error('fixture does not prepare');
  return {
    id: `rec-${recordId}`,
    source: 'app',
    record: r.prepared.record,
    contentHash: `hash-${weightKg}`,
    bundle: r.prepared.bundle,
    indicators: { n: weightKg },
    warnings: [],
    subject,
    posyandu,
    puskesmas: posyandu.endsWith('01') ? 'P3201010101' : 'P3201010102',
    regency: '3201',
    receivedAt: new Date(at),
    upstreams: UPSTREAMS,
  };
}

for (let run = 1; run <= RUNS; run++) {
  t.test(`run ${run}: ${MOVES} moves answered the same by both ledgers`, async (t) => {
    const pool = await migratedPool({ max: 2, partitionsFrom: new Date(START) });
    const redisLedger: Ledger = new RedisLedger(redis, testKeys(`differential-${run}`), testPayload());
    const pgLedger: Ledger = new PgLedger(pool, testPayload());
    const rand = seeded(run * 7919);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    let clock = START;
    const recordIds = ['R1', 'R2', 'R3', 'R4', 'R5'];
    // each record has one person; R1-R3 are one person's, so their order matters
    const subjectOf = (rid: string) => (['R1', 'R2', 'R3'].includes(rid) ? 'person-1' : rid === 'R4' ? 'person-4' : '');
    const posyanduOf = (rid: string) => (rid === 'R5' ? '3201010002-01' : '3201010001-01');
    /** pushes begun and not ended: what their workers will write */
    const inFlight: Array<{ id: string; upstream: string; status: UpstreamStatus; subject: string }> = [];
    let mismatches = 0;
    const same = (a: unknown, b: unknown, what: string) => {
      if (JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b))) return;
      mismatches += 1;
      t.same(b, a, what);
    };
    for (let move = 0; move < MOVES; move++) {
      clock += Math.floor(rand() * 20_000);
      const rid = pick(recordIds);
      const id = `rec-${rid}`;
      const upstream = pick(UPSTREAMS);
      const roll = rand();
      if (roll < 0.3) {
        const moved = rand() < 0.1;
        const r = record(rid, pick([9.8, 10.2, 10.6]), moved ? '3201010003-01' : posyanduOf(rid), subjectOf(rid), clock);
        const a = await redisLedger.accept(r);
        same(a, await pgLedger.accept(r), `move ${move}: accept ${rid}`);
        tally(a.outcome);
      } else if (roll < 0.55) {
        const latest = (await redisLedger.latestVersion(id)) ?? 1;
        const version = rand() < 0.2 ? Math.max(1, latest - 1) : latest;
        const a = await redisLedger.beginDelivery(id, upstream, version, clock);
        const b = await pgLedger.beginDelivery(id, upstream, version, clock);
        same(a, b, `move ${move}: beginDelivery ${rid} v${version} at ${upstream}`);
        tally(a.kind);
        if (a.kind === 'go' && rand() < 0.8) {
          const status: UpstreamStatus = { ...a.status, version, attempts: a.status.attempts + 1, state: 'sending', sendingUntil: clock + 30_000, updatedAt: new Date(clock).toISOString() };
          delete status.nextAttemptAt;
          delete status.earlierSending;
          same(await redisLedger.setState(id, upstream, status, clock), await pgLedger.setState(id, upstream, status, clock), `move ${move}: sending ${rid}`);
          inFlight.push({ id, upstream, status, subject: a.subject });
        }
      } else if (roll < 0.8 && inFlight.length > 0) {
        const [push] = inFlight.splice(Math.floor(rand() * inFlight.length), 1);
        const state = pick<UpstreamState>(['synced', 'synced', 'retrying', 'failed', 'waiting-identity']);
        const end: UpstreamStatus = {
          ...push!.status,
          state,
          updatedAt: new Date(clock).toISOString(),
          ...(state === 'synced'
            ? { syncedAt: new Date(clock).toISOString(), resources: [{ fullUrl: 'urn:uuid:e', resourceType: 'Encounter', id: `enc-${move}`, status: '201 Created' }] }
            : { lastError: { code: 'upstream.http-503', message: 'busy', httpStatus: 503, at: new Date(clock).toISOString() } }),
        };
        delete end.sendingUntil;
        const settle = state === 'retrying' ? undefined : push!.subject;
        const written = await redisLedger.setState(push!.id, push!.upstream, end, clock, settle);
        same(written, await pgLedger.setState(push!.id, push!.upstream, end, clock, settle), `move ${move}: ${state} ${push!.id}`);
        tally(written ? `ended ${state}` : 'ended stale');
      } else if (roll < 0.9) {
        // mostly a record a person would replay (failed or waiting), sometimes any
        const replayable: Array<[string, string]> = [];
        for (const r of recordIds) {
          for (const u of UPSTREAMS) {
            const st = (await redisLedger.stateAt(`rec-${r}`, u))?.status.state;
            if (st === 'failed' || st === 'waiting-identity') replayable.push([`rec-${r}`, u]);
          }
        }
        const [which, where] = replayable.length > 0 && rand() < 0.7 ? pick(replayable) : [id, upstream];
        const replayed = await redisLedger.requeue(which, where, clock);
        same(replayed, await pgLedger.requeue(which, where, clock), `move ${move}: requeue ${which} at ${where}`);
        tally(replayed ? 'replayed' : 'not replayed');
      } else if (roll < 0.95) {
        const ids = recordIds.map((r) => `rec-${r}`);
        same(await redisLedger.queueRanks(upstream, ids), await pgLedger.queueRanks(upstream, ids), `move ${move}: queueRanks at ${upstream}`);
      } else {
        const max = 1 + Math.floor(rand() * 3);
        const a = await redisLedger.pendingDeliveries(max);
        const b = await pgLedger.pendingDeliveries(max);
        same(a, b, `move ${move}: pendingDeliveries(${max})`);
        await redisLedger.deliveriesQueued(a);
        await pgLedger.deliveriesQueued(b);
      }
    }
    for (const rid of recordIds) {
      const id = `rec-${rid}`;
      same(await redisLedger.get(id), await pgLedger.get(id), `${rid} as get() shows it`);
      for (const upstream of UPSTREAMS) {
        same(await redisLedger.stateAt(id, upstream), await pgLedger.stateAt(id, upstream), `${rid} at ${upstream}`);
        same(await redisLedger.beginDelivery(id, upstream, 99, clock), await pgLedger.beginDelivery(id, upstream, 99, clock), `${rid}: a job of a later version at ${upstream}`);
      }
    }
    same(await redisLedger.pendingDeliveries(1000), await pgLedger.pendingDeliveries(1000), 'the deliveries still due');
    const days = [...new Set([START, clock].map(reportingDay))];
    for (const upstream of UPSTREAMS) same(sortCounts(await redisLedger.counts(upstream, days)), sortCounts(await pgCounts(pool, upstream, days)), `the counts at ${upstream}`);
    for (const upstream of UPSTREAMS) {
      same(sortCounts(await redisLedger.counts(upstream, days)), sortCounts(await pgLedger.counts(upstream, days)), `PgReads counts at ${upstream}`);
      same(await redisLedger.backlog(upstream), await pgLedger.backlog(upstream), `PgReads backlog at ${upstream}`);
      const pos = ['3201010001-01', '3201010001-02', 'x'];
      same([...(await redisLedger.oldestUnsynced(upstream, pos))], [...(await pgLedger.oldestUnsynced(upstream, pos))], `PgReads oldestUnsynced at ${upstream}`);
    }
    const ff = { upstreams: UPSTREAMS, limit: 1000, offset: 0 };
    const fr = await redisLedger.failures(ff, () => true, false);
    const fp = await pgLedger.failures(ff, () => true, false);
    same(fr.items.map((i) => i.id + i.upstream).sort(), fp.items.map((i) => i.id + i.upstream).sort(), 'PgReads failures (as sets)');
    same(fr, fp, 'PgReads failures (exact)');
    same(await redisLedger.failures(ff, () => true, true), await pgLedger.failures(ff, () => true, true), 'PgReads failures with identity (exact)');
    same(await redisLedger.problemIds({ upstreams: UPSTREAMS }, () => true), await pgLedger.problemIds({ upstreams: UPSTREAMS }, () => true), 'PgReads problemIds');
    const allPos = [...new Set((await pool.query('SELECT DISTINCT posyandu FROM records')).rows.map((r: { posyandu: string }) => r.posyandu))];
    same(await redisLedger.byPosyandu({ posyandu: allPos, limit: 1000, offset: 0, showIdentity: false }), await pgLedger.byPosyandu({ posyandu: allPos, limit: 1000, offset: 0, showIdentity: false }), 'PgReads byPosyandu');
    same(await redisLedger.byPosyandu({ posyandu: allPos, state: 'failed', limit: 1000, offset: 0, showIdentity: true }), await pgLedger.byPosyandu({ posyandu: allPos, state: 'failed', limit: 1000, offset: 0, showIdentity: true }), 'PgReads byPosyandu failed');
    const dropNow = clock + 86_400_000;
    await redisLedger.dropSyncedPayloads(clock, dropNow);
    await pgLedger.dropSyncedPayloads(clock, dropNow);
    await redisLedger.dropSettledPayloads(clock, dropNow);
    await pgLedger.dropSettledPayloads(clock, dropNow);
    for (const rid of recordIds) {
      const id = `rec-${rid}`;
      same(await redisLedger.get(id), await pgLedger.get(id), `${rid} as get() shows it after retention`);
    }
    t.equal(mismatches, 0, 'every answer the same');
  });
}

t.test('the runs reached every case', async (t) => {
  t.comment(JSON.stringify(Object.fromEntries(seen)));
  for (const what of ['created', 'duplicate', 'new-version', 'place-changed', 'go', 'wait', 'settled', 'superseded', 'ended synced', 'ended failed', 'ended retrying', 'ended waiting-identity', 'ended stale', 'replayed', 'not replayed']) {
    t.ok((seen.get(what) ?? 0) > 0, what);
  }
});

/** JSON with object keys in order (jsonb does not keep the order they were written in) */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object' && !(v instanceof Date)) return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, sortKeys(x)]));
  return v;
}
