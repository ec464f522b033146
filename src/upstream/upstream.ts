import type { Bundle } from '@medplum/fhirtypes';
import type { PushOutcome } from '../sync/retry-policy.js';
import type { WrittenResource } from '../sync/states.js';

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
