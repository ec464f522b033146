import type { Redis } from 'ioredis';
import type { Place } from '../../config/scope.js';
import { matches, pageOf, type FailureFilter, type FailureItem, type PosyanduQuery, type ProblemFilter, type RecordSearch, type SentRecord } from '../record-search.js';
import { failureItemOf, sentRecordOf } from '../search-items.js';
import { hashOf, type OpenedRecord, type StoredPayload } from '../stored-payload.js';
import { RECORD_FIELDS as F, upstreamField, type StoreKeys } from './keys.js';

// The lists of record-search.ts from the Redis ledger: they walk the small indexes the scripts
// keep (problems per upstream, byPosyandu), never every record.

const CHUNK = 500;
const FIELDS = [F.id, F.source, F.recordId, F.kind, F.regency, F.puskesmas, F.posyandu, F.receivedAt, F.record] as const;

export class RedisSearch implements RecordSearch {
  constructor(
    private readonly redis: Redis,
    private readonly keys: StoreKeys,
    private readonly payload: StoredPayload,
  ) {}

  failures(filter: FailureFilter, covers: (p: Place) => boolean, showIdentity: boolean): Promise<{ items: FailureItem[]; more: boolean }> {
    return pageOf(this.failureWalk(filter, covers, showIdentity), filter.offset, filter.limit);
  }

  /** The matching failures, upstream by upstream, newest first, read CHUNK at a time. */
  private async *failureWalk(filter: FailureFilter, covers: (p: Place) => boolean, showIdentity: boolean): AsyncGenerator<FailureItem> {
    for (const upstream of filter.upstreams) {
      const key = this.keys.problems(upstream);
      for (let start = 0; ; start += CHUNK) {
        const ids = await this.redis.zrange(key, filter.to ?? '+inf', filter.from ?? '-inf', 'BYSCORE', 'REV', 'LIMIT', start, CHUNK);
        if (ids.length === 0) break;
        const pipe = this.redis.pipeline();
        for (const id of ids) pipe.hmgetBuffer(this.keys.record(id), ...FIELDS, upstreamField(upstream));
        const rows = (await pipe.exec()) ?? [];
        for (const [err, value] of rows) {
          if (err || !Array.isArray(value)) continue;
          const item = failureItemOf(this.open(value as Array<Buffer | null>, upstream), upstream, showIdentity);
          if (item && covers(item) && matches(item, filter)) yield item;
        }
        if (ids.length < CHUNK) break;
      }
    }
  }

  private open(values: Array<Buffer | null>, upstream: string): OpenedRecord {
    return this.payload.openRecord(hashOf([...FIELDS, upstreamField(upstream)], values));
  }

  async problemIds(filter: ProblemFilter, covers: (p: Place) => boolean): Promise<Array<{ id: string; upstream: string }>> {
    const out: Array<{ id: string; upstream: string; at: number }> = [];
    for (const upstream of filter.upstreams) {
      for (let start = 0; ; start += CHUNK) {
        const flat = await this.redis.zrange(this.keys.problems(upstream), filter.from ?? '-inf', filter.to ?? '+inf', 'BYSCORE', 'LIMIT', start, CHUNK, 'WITHSCORES');
        if (flat.length === 0) break;
        const pipe = this.redis.pipeline();
        for (let i = 0; i < flat.length; i += 2) pipe.hmgetBuffer(this.keys.record(flat[i]!), ...FIELDS, upstreamField(upstream));
        const rows = (await pipe.exec()) ?? [];
        rows.forEach(([err, value], i) => {
          if (err || !Array.isArray(value)) return;
          const item = failureItemOf(this.open(value as Array<Buffer | null>, upstream), upstream, false);
          if (!item || !covers(item) || !matches(item, filter) || (filter.state && item.state !== filter.state)) return;
          out.push({ id: item.id, upstream, at: Number(flat[i * 2 + 1]) });
        });
        if (flat.length < CHUNK * 2) break;
      }
    }
    return out.sort((a, b) => a.at - b.at).map(({ id, upstream }) => ({ id, upstream }));
  }

  async byPosyandu(q: PosyanduQuery): Promise<{ items: SentRecord[]; more: boolean }> {
    const candidates: Array<{ id: string; at: number }> = [];
    // Enough of each posyandu's newest to fill the page after filtering; a state filter reads more.
    const want = q.offset + q.limit + 1;
    for (const p of q.posyandu) {
      const flat = await this.redis.zrange(this.keys.byPosyandu(p), q.to ?? '+inf', q.from ?? '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, q.state ? want * 20 : want, 'WITHSCORES');
      for (let i = 0; i < flat.length; i += 2) candidates.push({ id: flat[i]!, at: Number(flat[i + 1]) });
    }
    candidates.sort((a, b) => b.at - a.at);
    const rows: OpenedRecord[] = [];
    for (let i = 0; i < candidates.length && rows.length < want; i += CHUNK) {
      const pipe = this.redis.pipeline();
      for (const c of candidates.slice(i, i + CHUNK)) pipe.hgetallBuffer(this.keys.record(c.id));
      for (const [err, h] of (await pipe.exec()) ?? []) {
        if (err || !h) continue;
        const opened = this.payload.openRecord(h as Record<string, Buffer>);
        if (q.state && !Object.values(opened.upstreams).some((s) => s.state === q.state)) continue;
        rows.push(opened);
      }
    }
    return { more: rows.length > q.offset + q.limit, items: rows.slice(q.offset, q.offset + q.limit).map((r) => sentRecordOf(r, q.showIdentity)) };
  }
}

