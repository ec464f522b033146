import type { Redis } from 'ioredis';
import type { Place } from '../../config/scope.js';
import { maskIdentity, peopleOf } from '../../log/identity-mask.js';
import { matches, reasonOf, type FailureFilter, type FailureItem, type PosyanduQuery, type ProblemFilter, type RecordSearch, type SentRecord } from '../record-search.js';
import type { UpstreamStatus } from '../states.js';
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

  async failures(filter: FailureFilter, covers: (p: Place) => boolean, showIdentity: boolean): Promise<{ items: FailureItem[]; more: boolean }> {
    const items: FailureItem[] = [];
    let skipped = 0;
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
          const item = this.failureItem(this.open(value as Array<Buffer | null>, upstream), upstream, showIdentity);
          if (!item || !covers(item) || !matches(item, filter)) continue;
          if (skipped < filter.offset) {
            skipped += 1;
            continue;
          }
          if (items.length === filter.limit) return { items, more: true };
          items.push(item);
        }
        if (ids.length < CHUNK) break;
      }
    }
    return { items, more: false };
  }

  private open(values: Array<Buffer | null>, upstream: string): OpenedRecord {
    return this.payload.openRecord(hashOf([...FIELDS, upstreamField(upstream)], values));
  }

  private failureItem(opened: OpenedRecord, upstream: string, showIdentity: boolean): FailureItem | undefined {
    const { [F.id]: id, [F.source]: source, [F.recordId]: recordId, [F.kind]: kind, [F.regency]: regency, [F.puskesmas]: puskesmas, [F.posyandu]: posyandu, [F.receivedAt]: receivedAt } = opened.text;
    const status = opened.upstreams[upstream];
    if (!id || !status) return undefined;
    if (status.state !== 'failed' && status.state !== 'waiting-identity') return undefined;
    const payload = opened.record as { subject?: { name?: string; nik?: string; birthDate?: string } } | undefined;
    const subject = payload?.subject;
    const reason = reasonOf(status);
    const people = peopleOf(payload);
    const hide = <T>(x: T): T => (showIdentity ? x : maskIdentity(x, people));
    return {
      id,
      source: source ?? '',
      recordId: recordId ?? '',
      kind: kind ?? '',
      regency: regency ?? '',
      puskesmas: puskesmas ?? '',
      posyandu: posyandu ?? '',
      upstream,
      state: status.state,
      receivedAt: receivedAt ?? '',
      attempts: status.attempts,
      reason: hide(reason),
      ...(status.lastError ? { lastError: hide(status.lastError) } : {}),
      ...(status.outcome !== undefined ? { outcome: hide(status.outcome) } : {}),
      ...(showIdentity && subject ? { subject: { name: subject.name, nik: subject.nik, birthDate: subject.birthDate } } : {}),
      ...(opened.unreadable ? { payloadUnreadable: opened.unreadable } : {}),
    };
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
          const item = this.failureItem(this.open(value as Array<Buffer | null>, upstream), upstream, false);
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
    const rows: Array<{ id: string; states: Record<string, UpstreamStatus>; fields: Record<string, string>; record: unknown }> = [];
    for (let i = 0; i < candidates.length && rows.length < want; i += CHUNK) {
      const pipe = this.redis.pipeline();
      for (const c of candidates.slice(i, i + CHUNK)) pipe.hgetallBuffer(this.keys.record(c.id));
      for (const [err, h] of (await pipe.exec()) ?? []) {
        if (err || !h) continue;
        const opened = this.payload.openRecord(h as Record<string, Buffer>);
        const states = opened.upstreams;
        if (q.state && !Object.values(states).some((s) => s.state === q.state)) continue;
        rows.push({ id: opened.text[F.id] ?? '', states, fields: opened.text, record: opened.record });
      }
    }
    const page = rows.slice(q.offset, q.offset + q.limit);
    return {
      more: rows.length > q.offset + q.limit,
      items: page.map((r) => {
        const people = peopleOf(r.record);
        const words = (e: UpstreamStatus['lastError']) => (q.showIdentity ? e : maskIdentity(e, people));
        return {
          id: r.id,
          source: r.fields[F.source] ?? '',
          recordId: r.fields[F.recordId] ?? '',
          kind: r.fields[F.kind] ?? '',
          posyandu: r.fields[F.posyandu] ?? '',
          version: Number(r.fields[F.version]),
          receivedAt: r.fields[F.receivedAt] ?? '',
          upstreams: Object.fromEntries(Object.entries(r.states).map(([u, s]) => [u, { state: s.state, attempts: s.attempts, ...(s.lastError ? { lastError: words(s.lastError) } : {}) }])),
        };
      }),
    };
  }
}

