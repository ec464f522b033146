import type { Redis } from 'ioredis';
import { reportingDay } from '../aggregates.js';
import type { AcceptResult, DeliveryStart, Ledger, NewRecord, PendingDelivery, PlaceChanged, StoredRecord, UpstreamCounts } from '../ledger.js';
import { PayloadUnreadableError } from '../payload-cipher.js';
import { REPLAYABLE, type UpstreamStatus } from '../states.js';
import type { StoredPayload } from '../stored-payload.js';
import { storedRecord } from '../stored-record.js';
import { placeOf, RECORD_FIELDS, upstreamField, type StoreKeys } from './keys.js';
import { RedisSearch } from './redis-search.js';
import { defineScripts, runScript } from './scripts.js';

// The ledger in Redis, next to the queue: a hash per record, its idempotency index, the inbox of
// deliveries due (the outbox), each person's order of records per upstream, and the counts of
// aggregates.ts, all kept by the scripts in scripts/ (keys and fields in keys.ts).

const F = RECORD_FIELDS;

export class RedisLedger implements Ledger {
  private readonly search: RedisSearch;

  constructor(
    private readonly redis: Redis,
    private readonly keys: StoreKeys,
    private readonly payload: StoredPayload,
  ) {
    defineScripts(redis);
    this.search = new RedisSearch(redis, keys, payload);
  }

  async accept(r: NewRecord): Promise<AcceptResult | PlaceChanged> {
    const now = r.receivedAt.toISOString();
    const fields: Record<string, string | Buffer> = {
      [F.source]: r.source,
      [F.recordId]: r.record.recordId,
      [F.kind]: r.record.kind,
      [F.posyandu]: r.posyandu,
      [F.puskesmas]: r.puskesmas,
      [F.regency]: r.regency,
      [F.subject]: r.subject,
      ...this.payload.seal(r.source, r.record.recordId, { record: r.record, bundle: r.bundle, ...(r.provenance ? { provenance: r.provenance } : {}) }),
      [F.warnings]: JSON.stringify(r.warnings),
      [F.indicators]: JSON.stringify(r.indicators),
      ...(r.historyFrom?.length ? { [F.historyFrom]: JSON.stringify(r.historyFrom) } : {}),
    };
    const { keys } = this;
    const [id, outcome, version, storedPosyandu] = await runScript<[string, AcceptResult['outcome'] | 'place-changed', number, string?]>(
      this.redis,
      'accept',
      [keys.index(r.source, r.record.recordId), keys.received, keys.inbox, keys.purge, keys.byPosyandu(r.posyandu)],
      [keys.prefix, r.id, r.contentHash, now, r.receivedAt.getTime(), r.upstreams.length, ...r.upstreams, ...Object.entries(fields).flat(), reportingDay(r.receivedAt.getTime())],
    );
    if (outcome === 'place-changed') return { id, outcome, version: Number(version), storedPosyandu: storedPosyandu ?? '' };
    return { id, outcome, version: Number(version) };
  }

  async get(id: string): Promise<StoredRecord | undefined> {
    const opened = this.payload.openRecord(await this.redis.hgetallBuffer(this.keys.record(id)));
    return opened.text[F.id] ? storedRecord(opened) : undefined;
  }

  /** A record's state at one upstream, and its person (whose queue it leaves when settled). */
  async stateAt(id: string, upstream: string): Promise<{ status: UpstreamStatus; subject: string } | undefined> {
    const [status, subject] = await this.redis.hmget(this.keys.record(id), upstreamField(upstream), F.subject);
    if (!status) return undefined;
    return { status: this.payload.openStatus(id, upstream, status).status, subject: subject ?? '' };
  }

  /** The start of a push of `version` at the upstream: go (with what to send), wait for the person's earlier record, or nothing to do. */
  async beginDelivery(id: string, upstream: string, version: number, now = Date.now()): Promise<DeliveryStart> {
    // As Buffers: the Bundle is stored compressed, and a binary reply must not be decoded as text.
    const r = await runScript<Buffer[]>(this.redis, 'begin-delivery', [this.keys.record(id)], [this.keys.prefix, upstream, version, now], { buffers: true });
    switch (r[0]?.toString()) {
      case 'go': {
        const status = this.payload.openStatus(id, upstream, r[2]!.toString()).status;
        const common = { status, receivedAt: r[3]!.toString(), subject: r[4]?.toString() ?? '' };
        try {
          return { kind: 'go', bundle: this.payload.openBundle(r[5]!.toString(), r[6]!.toString(), r[1]!), ...common };
        } catch (error) {
          if (!(error instanceof PayloadUnreadableError)) throw error;
          return { kind: 'unreadable', error, ...common };
        }
      }
      case 'settled':
        return { kind: 'settled', state: r[1]!.toString() as UpstreamStatus['state'] };
      case 'wait':
        return { kind: 'wait' };
      case 'superseded':
        return { kind: 'superseded' };
      default:
        return { kind: 'missing' };
    }
  }

  /** The record's latest accepted version (undefined for an unknown record). */
  async latestVersion(id: string): Promise<number | undefined> {
    const v = await this.redis.hget(this.keys.record(id), F.version);
    return v === null ? undefined : Number(v);
  }

  /** Writes the record's state at the upstream; `settleSubject` also lets the person's next record go. */
  async setState(id: string, upstream: string, status: UpstreamStatus, now = Date.parse(status.updatedAt), settleSubject?: string): Promise<boolean> {
    const at = Number.isNaN(now) ? Date.now() : now;
    const keys = [this.keys.record(id), ...(settleSubject ? [this.keys.order(settleSubject, upstream)] : [])];
    const args = [this.keys.prefix, upstream, this.payload.sealStatus(id, upstream, status), at, reportingDay(at), new Date(at).toISOString()];
    return (await runScript<number>(this.redis, 'set-state', keys, args)) === 1;
  }

  async renewSending(id: string, upstream: string, version: number, untilMs: number): Promise<void> {
    await runScript<number>(this.redis, 'renew-sending', [this.keys.record(id)], [upstream, version, untilMs]);
  }

  /** Replays the record at one upstream if it is failed or waiting; false when there was nothing to replay. */
  async requeue(id: string, upstream: string, now = Date.now()): Promise<boolean> {
    const args = [this.keys.prefix, upstream, now, reportingDay(now), new Date(now).toISOString(), ...REPLAYABLE];
    return (await runScript<number>(this.redis, 'requeue', [this.keys.record(id), this.keys.inbox], args)) === 1;
  }

  // The inbox: "<id> <version>" for every upstream, "<id> <version> <upstream> <replay>" for one.

  async pendingDeliveries(max: number): Promise<PendingDelivery[]> {
    const items = await this.redis.lrange(this.keys.inbox, 0, max - 1);
    return items.map((item) => {
      const [recordId = '', version = '0', upstream, replay] = item.split(' ');
      return { recordId, version: Number(version), ...(upstream ? { replay: { upstream, count: Number(replay) } } : {}) };
    });
  }

  async deliveriesQueued(done: readonly PendingDelivery[]): Promise<void> {
    if (done.length > 0) await this.redis.ltrim(this.keys.inbox, done.length, -1);
  }

  async queueRanks(upstream: string, ids: readonly string[]): Promise<number[]> {
    return runScript<number[]>(this.redis, 'queue-ranks', ids.map((id) => this.keys.record(id)), [this.keys.prefix, upstream, ...ids]);
  }

  failures(...args: Parameters<RedisSearch['failures']>) {
    return this.search.failures(...args);
  }

  problemIds(...args: Parameters<RedisSearch['problemIds']>) {
    return this.search.problemIds(...args);
  }

  byPosyandu(...args: Parameters<RedisSearch['byPosyandu']>) {
    return this.search.byPosyandu(...args);
  }

  async counts(upstream: string, days: readonly string[]): Promise<UpstreamCounts> {
    const { keys } = this;
    const pipe = this.redis.pipeline();
    pipe.hgetall(keys.states(upstream));
    pipe.hgetall(keys.lastSynced(upstream));
    pipe.hgetall(keys.latency(upstream));
    for (const d of days) pipe.hgetall(keys.day(upstream, d));
    const [states = {}, last = {}, latency = {}, ...dayMaps] = ((await pipe.exec()) ?? []).map(([err, value]) => {
      if (err) throw err;
      return value as Record<string, string>;
    });
    return {
      states: Object.entries(states).map(([field, n]) => ({ place: placeOf(field).place, state: placeOf(field).rest as UpstreamStatus['state'], records: Number(n) })),
      lastSynced: Object.entries(last).map(([field, at]) => ({ place: placeOf(field).place, at })),
      latency: Object.entries(latency).map(([field, n]) => ({ place: placeOf(field).place, bucket: Number(placeOf(field).rest) - 1, records: Number(n) })),
      days: days.map((_, i) =>
        Object.entries(dayMaps[i] ?? {}).map(([field, n]) => ({ place: placeOf(field).place, event: placeOf(field).rest as 'accepted' | 'synced' | 'failed', records: Number(n) })),
      ),
    };
  }

  async oldestUnsynced(upstream: string, posyandu: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (posyandu.length === 0) return out;
    const pipe = this.redis.pipeline();
    for (const p of posyandu) pipe.zrange(this.keys.pending(upstream, p), 0, 0, 'WITHSCORES');
    ((await pipe.exec()) ?? []).forEach(([err, value], i) => {
      const score = !err && Array.isArray(value) ? Number(value[1]) : NaN;
      if (!Number.isNaN(score)) out.set(posyandu[i]!, score);
    });
    return out;
  }

  async backlog(upstream: string): Promise<{ records: number; oldestAcceptedMs?: number }> {
    const [records, [, score]] = await Promise.all([this.redis.zcard(this.keys.backlog(upstream)), this.redis.zrange(this.keys.backlog(upstream), 0, 0, 'WITHSCORES')]);
    return { records, ...(score ? { oldestAcceptedMs: Number(score) } : {}) };
  }

  async dropSyncedPayloads(syncedBefore: number, now: number): Promise<number> {
    const { keys } = this;
    let dropped = 0;
    for (;;) {
      const ids = await this.redis.zrange(keys.purge, '-inf', syncedBefore, 'BYSCORE', 'LIMIT', 0, RETENTION_BATCH);
      if (ids.length === 0) return dropped;
      // each leaves the purge list, dropped or not (a new version came in since it was listed)
      for (const id of ids) dropped += await runScript<number>(this.redis, 'drop-payload', [keys.record(id), keys.purge], [id, new Date(now).toISOString()]);
    }
  }

  async dropSettledPayloads(receivedBefore: number, now: number): Promise<number> {
    const { keys } = this;
    // The sweep's cursor is "<score> <records seen at that score>" (a $batch gives thousands of
    // records the same time), so each record is looked at once.
    const [savedScore = '-inf', savedSeen = '0'] = ((await this.redis.get(keys.unsyncedCursor)) ?? '').split(' ').filter(Boolean);
    let score = savedScore;
    let seen = Number(savedSeen);
    let dropped = 0;
    for (;;) {
      const page = await this.redis.zrange(keys.received, score, receivedBefore, 'BYSCORE', 'LIMIT', seen, RETENTION_BATCH, 'WITHSCORES');
      if (page.length === 0) return dropped;
      for (let i = 0; i < page.length; i += 2) {
        dropped += await runScript<number>(this.redis, 'drop-unsynced', [keys.record(page[i]!)], [new Date(now).toISOString()]);
        const s = page[i + 1]!;
        seen = s === score ? seen + 1 : 1;
        score = s;
      }
      // the next page starts at the last score, past the records already seen there
      await this.redis.set(keys.unsyncedCursor, `${score} ${seen}`);
    }
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}

const RETENTION_BATCH = 500;


