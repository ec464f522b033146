import type { PushOutcome } from '../upstream.js';

// SATUSEHAT gives two outcomes the other upstreams never do (a person not known there, a push
// stopped before the FHIR API); retry-policy.ts lists them as PushOutcome kinds of their own.

/** Ends a push from deep inside identity resolution or a lookup, with the outcome to report. */
export class PushStopped extends Error {
  override readonly name = 'PushStopped';
  constructor(
    readonly outcome: PushOutcome,
    readonly body?: unknown,
  ) {
    super(outcome.kind);
  }
}

export function waitingIdentity(reason: string): PushStopped {
  return new PushStopped({ kind: 'waiting-identity', reason });
}
