import type pg from 'pg';
import type { Place } from '../../config/scope.js';
import type { LedgerCounts, UpstreamCounts } from '../ledger.js';
import type { FailureFilter, FailureItem, PosyanduQuery, ProblemFilter, RecordSearch, SentRecord } from '../record-search.js';
import type { StoredPayload } from '../stored-payload.js';

// Placeholder on the pgcore branch: the searches, counts and retention of the PostgreSQL ledger
// are written on the pgreads branch, whose file replaces this one at integration.

const notHere = () => new Error('PgReads: not implemented on this branch');

export class PgReads implements RecordSearch, LedgerCounts {
  constructor(
    readonly pool: pg.Pool,
    readonly payload: StoredPayload,
  ) {}

  failures(_filter: FailureFilter, _covers: (p: Place) => boolean, _showIdentity: boolean): Promise<{ items: FailureItem[]; more: boolean }> {
    return Promise.reject(notHere());
  }

  problemIds(_filter: ProblemFilter, _covers: (p: Place) => boolean): Promise<Array<{ id: string; upstream: string }>> {
    return Promise.reject(notHere());
  }

  byPosyandu(_q: PosyanduQuery): Promise<{ items: SentRecord[]; more: boolean }> {
    return Promise.reject(notHere());
  }

  counts(_upstream: string, _days: readonly string[]): Promise<UpstreamCounts> {
    return Promise.reject(notHere());
  }

  oldestUnsynced(_upstream: string, _posyandu: readonly string[]): Promise<Map<string, number>> {
    return Promise.reject(notHere());
  }

  backlog(_upstream: string): Promise<{ records: number; oldestAcceptedMs?: number }> {
    return Promise.reject(notHere());
  }

  dropSyncedPayloads(_syncedBefore: number, _now: number): Promise<number> {
    return Promise.reject(notHere());
  }

  dropSettledPayloads(_receivedBefore: number, _now: number): Promise<number> {
    return Promise.reject(notHere());
  }
}
