import type { Bundle } from '@medplum/fhirtypes';
import type { DeliveryCodeName } from '../errors/codes.js';

/** How one push ended, as the upstream code reads the answer; sync/retry-policy.ts decides what follows. */
export type PushOutcome =
  | { kind: 'delivered' }
  | { kind: 'http'; status: number; retryAfter?: string }
  /** unreachable, too slow, too long, or a 2xx that cannot be used (`bad-answer`); `detail` in words for a person */
  | { kind: 'network'; code: string; detail?: string }
  /** the patient or health worker is not (yet) known upstream; `reason` is words, never a NIK or a name */
  | { kind: 'waiting-identity'; reason: string }
  /**
   * Gerbang stopped before the upstream saw the Bundle: no credentials for the puskesmas
   * (permanent), or no token during the platform's penalty (transient, with its wait in seconds).
   */
  | { kind: 'not-sent'; code: DeliveryCodeName; message: string; transient: boolean; retryAfter?: string };

export interface WrittenResource {
  /** the entry's fullUrl in the Bundle we sent (urn:uuid:…) */
  fullUrl: string;
  resourceType: string;
  id: string;
  /** the upstream's answer for the entry, e.g. "201 Created" or "200 OK" */
  status: string;
  /** a resource an earlier version wrote that this version no longer has, marked entered-in-error there */
  retracted?: boolean;
}

export interface PushResult {
  outcome: PushOutcome;
  /** ids the upstream gave the resources, read from its transaction-response */
  resources?: WrittenResource[];
  /** the upstream's OperationOutcome (or a short excerpt of whatever it answered) */
  body?: unknown;
  durationMs: number;
}

export interface PushContext {
  recordId: string;
  version: number;
  /**
   * What this upstream holds for the record from the latest earlier version synced there (by the
   * fullUrl each entry had): a correction updates these and retracts the ones it no longer has.
   */
  held?: readonly WrittenResource[];
  /**
   * Whether a newer version of the record was accepted since this push began. A push that is to
   * overwrite what the upstream holds asks first, so an old version's late write never replaces
   * the values of the version that corrected it.
   */
  superseded?: () => Promise<boolean>;
  /**
   * How the last push of this version ended, as the ledger kept it (absent: none was begun); kept
   * apart from the upstream's own marks, which live in Redis and may go with it. `ended` false: the
   * process died while it was sending.
   */
  previousPush?: { ended: boolean; code?: string; httpStatus?: number };
}

/** The target of one job: `fhir` (any FHIR R4 server), `outbox` (files); `satusehat` (the national platform). */
export interface Upstream {
  readonly name: string;
  readonly kind: string;
  push(bundle: Bundle, ctx: PushContext): Promise<PushResult>;
  /** asks the upstream's own validator ($validate) about a Bundle, for the $map dry run */
  validate?(bundle: Bundle): Promise<{ httpStatus: number; outcome: unknown } | { error: string }>;
  /** whether the upstream is known and configured; for /readyz (it does not call the upstream) */
  describe(): { name: string; kind: string; target: string };
  close(): Promise<void>;
}
