import type { Place } from '../config/scope.js';
import { deliveryCodeInfo } from '../errors/codes.js';
import type { UpstreamError, UpstreamState, UpstreamStatus } from './states.js';
import type { Unreadable } from './stored-payload.js';

// Lists for people and apps: records that need a person (failed, waiting for identity), and what
// one posyandu sent. Part of the ledger's contract (ledger.ts); the Redis ledger walks small
// indexes for them (store/redis-search.ts), never every record.

export type ReasonCategory = 'rejected' | 'gave-up' | 'identity' | 'other';

export interface FailureFilter {
  upstreams: string[];
  posyandu?: string;
  puskesmas?: string;
  kind?: string;
  /** a category (rejected, gave-up, identity) or a code such as upstream.http-422 */
  reason?: string;
  from?: number;
  to?: number;
  limit: number;
  /** how many matching items to skip (the `next` link carries it) */
  offset: number;
}

export interface FailureItem extends Place {
  id: string;
  source: string;
  recordId: string;
  kind: string;
  upstream: string;
  state: UpstreamState;
  receivedAt: string;
  attempts: number;
  reason: { category: ReasonCategory; code: string; detail?: string };
  lastError?: UpstreamStatus['lastError'];
  outcome?: unknown;
  subject?: { name?: string; nik?: string; birthDate?: string };
  /** the sealed payload cannot be read with the configured keys (docs/at-rest.md) */
  payloadUnreadable?: Unreadable;
}

export function reasonOf(status: UpstreamStatus): FailureItem['reason'] {
  const code = status.lastError?.code ?? status.state;
  if (status.state === 'waiting-identity') return { category: 'identity', code };
  const group = deliveryCodeInfo(code)?.group;
  if (group === 'rejected' && status.state === 'failed') {
    const detail = firstDiagnostics(status.outcome);
    return { category: 'rejected', code, ...(detail ? { detail } : {}) };
  }
  if (group === 'gave-up') return { category: 'gave-up', code };
  return { category: 'other', code };
}

function firstDiagnostics(outcome: unknown): string | undefined {
  const issues = (outcome as { issue?: Array<{ diagnostics?: string; details?: { text?: string } }> } | undefined)?.issue;
  const first = Array.isArray(issues) ? issues[0] : undefined;
  const text = first?.diagnostics ?? first?.details?.text;
  return typeof text === 'string' ? text.slice(0, 300) : undefined;
}

export type ProblemFilter = Omit<FailureFilter, 'limit' | 'offset'> & { state?: UpstreamState };

export interface PosyanduQuery {
  posyandu: string[];
  state?: UpstreamState;
  from?: number;
  to?: number;
  limit: number;
  offset: number;
  /** names and NIKs in the upstream's words; masked without */
  showIdentity: boolean;
}

/** One record a posyandu sent, with its state at each upstream. */
export interface SentRecord {
  id: string;
  source: string;
  recordId: string;
  kind: string;
  posyandu: string;
  version: number;
  receivedAt: string;
  upstreams: Record<string, { state: UpstreamState; attempts: number; lastError?: UpstreamError }>;
}

export interface RecordSearch {
  /**
   * Failed and waiting records, newest received first, in the places `covers` allows. Without
   * `showIdentity`, names and NIKs are kept out, also from the upstream's own words.
   */
  failures(filter: FailureFilter, covers: (p: Place) => boolean, showIdentity: boolean): Promise<{ items: FailureItem[]; more: boolean }>;
  /** Ids of the failed or waiting records that match, oldest received first: what a bulk replay sends again. */
  problemIds(filter: ProblemFilter, covers: (p: Place) => boolean): Promise<Array<{ id: string; upstream: string }>>;
  /** What posyandu sent, newest first, optionally in one state at some upstream. */
  byPosyandu(q: PosyanduQuery): Promise<{ items: SentRecord[]; more: boolean }>;
}

/** Whether a failure matches the filter's place, kind and reason. */
export function matches(item: FailureItem, f: Omit<FailureFilter, 'limit' | 'offset' | 'upstreams'>): boolean {
  if (f.posyandu && item.posyandu !== f.posyandu) return false;
  if (f.puskesmas && item.puskesmas !== f.puskesmas) return false;
  if (f.kind && item.kind !== f.kind) return false;
  if (f.reason && item.reason.category !== f.reason && item.reason.code !== f.reason) return false;
  return true;
}

/**
 * One page of a list walked in order: `offset` matches skipped, then at most `limit` kept, and
 * whether any is left after them. The walk stops at the first one past the page.
 */
export async function pageOf<T>(walk: AsyncIterable<T>, offset: number, limit: number): Promise<{ items: T[]; more: boolean }> {
  const items: T[] = [];
  let skipped = 0;
  for await (const item of walk) {
    if (skipped < offset) {
      skipped += 1;
      continue;
    }
    if (items.length === limit) return { items, more: true };
    items.push(item);
  }
  return { items, more: false };
}
