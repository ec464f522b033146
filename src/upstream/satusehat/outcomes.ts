import type { PushOutcome } from '../../sync/retry-policy.js';

// SATUSEHAT adds two answers the generic FHIR upstream never gives, so the retry policy can treat
// them apart from an HTTP status.

/**
 * The patient or health worker is not (yet) known to SATUSEHAT: sending again only helps once the
 * person is registered, so the record waits on a slow schedule instead of burning its attempts.
 * `reason` is words for a person and never holds a NIK or a name.
 */
export interface WaitingIdentity {
  kind: 'waiting-identity';
  reason: string;
}

/**
 * Gerbang decided before the Bundle reached SATUSEHAT's FHIR API: no credentials for the
 * puskesmas (permanent), or no token during the platform's penalty (transient, with its wait).
 */
export interface NotSent {
  kind: 'not-sent';
  code: string;
  message: string;
  transient: boolean;
  /** seconds, as a Retry-After header would say it */
  retryAfter?: string;
}

export type SatusehatOutcome = PushOutcome | WaitingIdentity | NotSent;

/**
 * The one place that narrows to the shared type: until retry-policy.ts lists the two kinds above,
 * the worker sees them as unknown kinds (and fails the record rather than retrying it blindly).
 */
export function asPushOutcome(outcome: SatusehatOutcome): PushOutcome {
  return outcome as PushOutcome;
}

/** Ends a push from deep inside identity resolution or a lookup, with the outcome to report. */
export class PushStopped extends Error {
  override readonly name = 'PushStopped';
  constructor(
    readonly outcome: SatusehatOutcome,
    readonly body?: unknown,
  ) {
    super(outcome.kind);
  }
}

export function waitingIdentity(reason: string): PushStopped {
  return new PushStopped({ kind: 'waiting-identity', reason });
}
