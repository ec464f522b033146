import type { Bundle } from '@medplum/fhirtypes';
import type { Issue } from '../errors/gerbang-error.js';
import type { People } from '../log/identity-mask.js';
import type { CanonicalRecord } from '../records/schemas/index.js';
import type { Place } from '../config/scope.js';
import type { PayloadUnreadableError } from './payload-cipher.js';
import type { RecordSearch } from './record-search.js';
import type { UpstreamState, UpstreamStatus } from './states.js';
import type { Unreadable } from './stored-payload.js';

/**
 * The ledger: every accepted record, its versions, and its state at each upstream. The rest of
 * Gerbang (routes, ingest, dispatcher, worker, replays, status API, retention) talks to it only
 * through this interface; how records are stored is the implementation's: PostgreSQL by default
 * (pg/pg-ledger.ts), Redis for a 0.4 ledger not yet imported (store/redis-ledger.ts). Both fulfil this contract, as
 * test/integration/ledger-corrections.test.ts and pg-ledger-differential.test.ts check:
 *
 * - `accept` is one atomic step, durable when it returns: (source, recordId) names a record; the
 *   same content again is a duplicate (nothing changes), changed content the next version (every
 *   upstream back to queued, keeping the upstream ids of the last synced version as `held` and an
 *   earlier push still writing as `earlierSending`), a copy for another posyandu `place-changed`
 *   (nothing written). In the same step the version's delivery becomes due (`pendingDeliveries`):
 *   a record is never stored without it, nor due without being stored (an outbox).
 * - States change only forward in versions (`setState` of an older version keeps what it wrote
 *   as `held` but does not overwrite), and the counts change in the same step as the states.
 * - A person's records reach each upstream one at a time, in the order accepted: `beginDelivery`
 *   answers `wait` while an earlier one is not settled there, or an earlier version's push may
 *   still write; settling (`setState` with the subject) lets the next go.
 * - The counts answer from what is kept as records move, never by reading every record.
 */
export interface Ledger extends RecordSearch, LedgerCounts {
  accept(r: NewRecord): Promise<AcceptResult | PlaceChanged>;
  /** The record as the API shows it (undefined: unknown). */
  get(id: string): Promise<StoredRecord | undefined>;
  /** A record's state at one upstream, and its person (whose queue it leaves when settled). */
  stateAt(id: string, upstream: string): Promise<{ status: UpstreamStatus; subject: string } | undefined>;
  /** The record's latest accepted version (undefined for an unknown record). */
  latestVersion(id: string): Promise<number | undefined>;
  /** The start of a push of `version` at the upstream: go (with what to send), wait for the person's earlier record, or nothing to do. */
  beginDelivery(id: string, upstream: string, version: number, now?: number): Promise<DeliveryStart>;
  /** Writes the record's state at the upstream (false: a newer version's state stays); `settleSubject` also lets the person's next record go. */
  setState(id: string, upstream: string, status: UpstreamStatus, now?: number, settleSubject?: string): Promise<boolean>;
  /**
   * A push of `version` still running keeps its lease until `untilMs` (its worker renews it as
   * BullMQ renews the job's lock): the state's sendingUntil while the state is that push's, else
   * the newer version's earlierSending, so a correction never starts while that push may still write.
   */
  renewSending(id: string, upstream: string, version: number, untilMs: number): Promise<void>;
  /** Replays the record at one upstream if it is failed or waiting and still has its payload; false when there was nothing to replay. */
  requeue(id: string, upstream: string, now?: number): Promise<boolean>;

  /** Deliveries due (accepted versions, replays), oldest first, until `deliveriesQueued` says they are jobs. */
  pendingDeliveries(max: number): Promise<PendingDelivery[]>;
  /**
   * These deliveries (the first ones `pendingDeliveries` gave) are jobs now: they are no longer
   * due. One dispatcher at a time takes them (its lock), so they are still the first.
   */
  deliveriesQueued(done: readonly PendingDelivery[]): Promise<void>;
  /**
   * A ledger kept apart from the queues (PostgreSQL) outlives a Redis that lost its data, and with it
   * the jobs: every state not settled and unchanged for `quietMs` is made due again, with the job id
   * it had (a job still queued is not doubled; one already done finds its state settled). How many.
   * Absent where the ledger and the queues live and die together (Redis).
   */
  dueAgain?(quietMs: number, now?: number): Promise<number>;
  /** Each record's place in its puskesmas' queue at the upstream, from 1: its job's priority (fairness). */
  queueRanks(upstream: string, ids: readonly string[]): Promise<number[]>;

  /** Retention: drops the payloads (names, NIKs, Bundle) of records synced everywhere before `syncedBefore`; how many. */
  dropSyncedPayloads(syncedBefore: number, now: number): Promise<number>;
  /** Retention: drops the payloads of records received before `receivedBefore` that every upstream has settled (synced or failed); how many. */
  dropSettledPayloads(receivedBefore: number, now: number): Promise<number>;

  /** Whether the store answers (readiness). */
  ping(): Promise<void>;
}

/** What the status API and /metrics read: counts kept as records move. */
export interface LedgerCounts {
  /** Per place at one upstream: records per state now, the last sync, latencies, and per reporting day (`days`) what happened. */
  counts(upstream: string, days: readonly string[]): Promise<UpstreamCounts>;
  /** The oldest unsynced record's acceptance time (ms), per posyandu that has one. */
  oldestUnsynced(upstream: string, posyandu: readonly string[]): Promise<Map<string, number>>;
  /** Records not yet synced at the upstream, and the oldest one's acceptance time (ms). */
  backlog(upstream: string): Promise<{ records: number; oldestAcceptedMs?: number }>;
}

export interface UpstreamCounts {
  states: Array<{ place: Place; state: UpstreamState; records: number }>;
  lastSynced: Array<{ place: Place; at: string }>;
  /** `bucket`: index into LATENCY_BUCKETS (aggregates.ts) */
  latency: Array<{ place: Place; bucket: number; records: number }>;
  /** one list per day asked for, in that order */
  days: Array<Array<{ place: Place; event: 'accepted' | 'synced' | 'failed'; records: number }>>;
}

/** A delivery due: a version for every upstream, or a replay for one. */
export interface PendingDelivery {
  recordId: string;
  version: number;
  /** a replay: this upstream only, with the replay's count (part of its job id) */
  replay?: { upstream: string; count: number };
}

export interface NewRecord {
  id: string;
  source: string;
  record: CanonicalRecord;
  contentHash: string;
  bundle: Bundle;
  indicators: Record<string, unknown>;
  warnings: Issue[];
  /** where the history behind the history-derived indicators was recorded (absent: none used) */
  historyFrom?: string[];
  /** what the app sent and the rules applied, when a source adapter read it */
  provenance?: unknown[];
  /** a hash of the person's identity: their records reach each upstream in order */
  subject: string;
  posyandu: string;
  puskesmas: string;
  regency: string;
  receivedAt: Date;
  upstreams: string[];
}

export type DeliveryStart =
  | { kind: 'go'; bundle: Bundle; status: UpstreamStatus; receivedAt: string; subject: string }
  /** the Bundle is sealed with a key this process does not have, or was changed */
  | { kind: 'unreadable'; error: PayloadUnreadableError; status: UpstreamStatus; receivedAt: string; subject: string }
  | { kind: 'settled'; state: UpstreamStatus['state'] }
  | { kind: 'wait' }
  | { kind: 'superseded' }
  | { kind: 'missing' };

export interface AcceptResult {
  id: string;
  outcome: 'created' | 'new-version' | 'duplicate';
  version: number;
}

/** The (source, recordId) is already a record of another posyandu (`storedPosyandu`): nothing was written. */
export interface PlaceChanged {
  id: string;
  outcome: 'place-changed';
  version: number;
  storedPosyandu: string;
}

export interface StoredRecord {
  id: string;
  source: string;
  recordId: string;
  kind: string;
  posyandu: string;
  puskesmas: string;
  regency: string;
  version: number;
  receivedAt: string;
  updatedAt: string;
  warnings: Issue[];
  indicators: Record<string, unknown>;
  /** where the history behind the history-derived indicators was recorded (none for records of 0.4 and before) */
  historyFrom: string[];
  provenance?: unknown[];
  /** the names and NIKs the record carries (none once its payload is dropped), to mask them where a key may not see them */
  people: People;
  /** when retention dropped the record's payload (names, NIKs, Bundle) */
  payloadDroppedAt?: string;
  /** the sealed payload cannot be read (its key is not configured, or it was changed): names, NIKs and provenance are left out */
  payloadUnreadable?: Unreadable;
  upstreams: Record<string, UpstreamStatus>;
}

