import type { WrittenResource } from '../upstream/upstream.js';

// The states of a record at one upstream, as GET /v1/records/{id} shows them.
//   queued ──▶ sending ──▶ synced
//                 │  ▲
//                 ▼  │
//              retrying ──▶ failed (a person reads the reason and replays: back to queued)
//                 │
//                 ▼
//          waiting-identity (the person is not known upstream yet; retried on a slow schedule)
export type UpstreamState = 'queued' | 'sending' | 'retrying' | 'waiting-identity' | 'synced' | 'failed';

export const UPSTREAM_STATES: readonly UpstreamState[] = ['queued', 'sending', 'retrying', 'waiting-identity', 'synced', 'failed'];

/** States a person can replay from; a retrying record is already on its way. */
export const REPLAYABLE: readonly UpstreamState[] = ['failed', 'waiting-identity'];

export interface UpstreamError {
  /** a delivery code (deliveryCodes in src/errors/codes.ts), e.g. upstream.http-503, upstream.timeout */
  code: string;
  /** words for a person; never holds the payload */
  message: string;
  httpStatus?: number;
  at: string;
}

export interface UpstreamStatus {
  state: UpstreamState;
  /** the record version this state is about */
  version: number;
  attempts: number;
  nextAttemptAt?: string;
  lastError?: UpstreamError;
  /** the upstream's OperationOutcome, kept for a person to read when a record is failed */
  outcome?: unknown;
  resources?: WrittenResource[];
  /**
   * Until this version is synced: what the upstream holds for the record, written by the latest
   * earlier version synced there (heldVersion). A correction updates these resources in place.
   */
  held?: WrittenResource[];
  heldVersion?: number;
  /** while sending: until when this push may still write (the worker's lock); a later version waits for it */
  sendingUntil?: number;
  /** an earlier version's push that was in flight when this version was accepted, and until when it may write */
  earlierSending?: { version: number; untilMs: number };
  syncedAt?: string;
  /** pushes that ended waiting for the person to be known upstream (not counted against maxAttempts) */
  identityWaits?: number;
  /** how many times a person replayed it; part of the replay's job id */
  replays?: number;
  updatedAt: string;
}
