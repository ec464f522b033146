import type pg from 'pg';
import type { AcceptResult, DeliveryStart, Ledger, NewRecord, PendingDelivery, PlaceChanged, StoredRecord, UpstreamCounts } from '../ledger.js';
import type { FailureFilter, FailureItem, PosyanduQuery, ProblemFilter, SentRecord } from '../record-search.js';
import type { Place } from '../../config/scope.js';
import type { UpstreamStatus } from '../states.js';
import type { StoredPayload } from '../stored-payload.js';

// PLACEHOLDER of the pgwire branch: the agreed constructor, so that the roles can be wired to
// PostgreSQL before the ledger itself lands (helper pgcore writes the real file, and the
// integrator takes theirs over this one). Every method but ping refuses; `ledger.store` stays 'redis' by
// default until then.

export class PgLedgerNotImplementedError extends Error {
  override name = 'PgLedgerNotImplementedError';
  constructor(method: string) {
    super(`PgLedger.${method}: not implemented on this branch (pgwire placeholder)`);
  }
}

export class PgLedger implements Ledger {
  constructor(
    readonly pool: pg.Pool,
    readonly payload: StoredPayload,
  ) {}


  accept(_r: NewRecord): Promise<AcceptResult | PlaceChanged> { return Promise.reject(new PgLedgerNotImplementedError('accept')); }
  get(_id: string): Promise<StoredRecord | undefined> { return Promise.reject(new PgLedgerNotImplementedError('get')); }
  stateAt(_id: string, _upstream: string): Promise<{ status: UpstreamStatus; subject: string } | undefined> { return Promise.reject(new PgLedgerNotImplementedError('stateAt')); }
  latestVersion(_id: string): Promise<number | undefined> { return Promise.reject(new PgLedgerNotImplementedError('latestVersion')); }
  beginDelivery(_id: string, _upstream: string, _version: number, _now?: number): Promise<DeliveryStart> { return Promise.reject(new PgLedgerNotImplementedError('beginDelivery')); }
  setState(_id: string, _upstream: string, _status: UpstreamStatus, _now?: number, _settleSubject?: string): Promise<boolean> { return Promise.reject(new PgLedgerNotImplementedError('setState')); }
  requeue(_id: string, _upstream: string, _now?: number): Promise<boolean> { return Promise.reject(new PgLedgerNotImplementedError('requeue')); }
  pendingDeliveries(_max: number): Promise<PendingDelivery[]> { return Promise.reject(new PgLedgerNotImplementedError('pendingDeliveries')); }
  deliveriesQueued(_done: readonly PendingDelivery[]): Promise<void> { return Promise.reject(new PgLedgerNotImplementedError('deliveriesQueued')); }
  queueRanks(_upstream: string, _ids: readonly string[]): Promise<number[]> { return Promise.reject(new PgLedgerNotImplementedError('queueRanks')); }
  dropSyncedPayloads(_syncedBefore: number, _now: number): Promise<number> { return Promise.reject(new PgLedgerNotImplementedError('dropSyncedPayloads')); }
  dropSettledPayloads(_receivedBefore: number, _now: number): Promise<number> { return Promise.reject(new PgLedgerNotImplementedError('dropSettledPayloads')); }
  failures(_f: FailureFilter, _covers: (p: Place) => boolean, _showIdentity: boolean): Promise<{ items: FailureItem[]; more: boolean }> { return Promise.reject(new PgLedgerNotImplementedError('failures')); }
  problemIds(_f: ProblemFilter, _covers: (p: Place) => boolean): Promise<Array<{ id: string; upstream: string }>> { return Promise.reject(new PgLedgerNotImplementedError('problemIds')); }
  byPosyandu(_q: PosyanduQuery): Promise<{ items: SentRecord[]; more: boolean }> { return Promise.reject(new PgLedgerNotImplementedError('byPosyandu')); }
  counts(_upstream: string, _days: readonly string[]): Promise<UpstreamCounts> { return Promise.reject(new PgLedgerNotImplementedError('counts')); }
  oldestUnsynced(_upstream: string, _posyandu: readonly string[]): Promise<Map<string, number>> { return Promise.reject(new PgLedgerNotImplementedError('oldestUnsynced')); }
  backlog(_upstream: string): Promise<{ records: number; oldestAcceptedMs?: number }> { return Promise.reject(new PgLedgerNotImplementedError('backlog')); }

  /** The one method that works here: readiness asks the pool (the real ledger does the same). */
  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }
}
