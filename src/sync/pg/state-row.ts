import type { UpstreamStatus } from '../states.js';

// How a state is kept in an upstream_states row: whole and sealed in `status`, with copies of its
// values in the columns that the queries, the partial indexes and the counts work on. PgLedger
// writes them as states change; `gerbang ledger import` as they were in Redis.

/** A state as stored (sealStatus): the upstream's words sealed under `sealed`. */
export type StoredState = UpstreamStatus & { sealed?: string };

// The copies of a state's values beside its sealed whole (upstream_states.status), in this order.
export const STATE_COLUMNS = [
  'status',
  'state',
  'version',
  'attempts',
  'next_attempt_at',
  'last_error_code',
  'last_error',
  'held_version',
  'sending_until',
  'earlier_sending_version',
  'earlier_sending_until',
  'synced_at',
  'identity_waits',
  'replays',
  'updated_at',
] as const;

/** The values of STATE_COLUMNS: the upstream's words stay only in the sealed text. */
export function stateValues(sealedText: string, s: StoredState): unknown[] {
  const e = s.lastError;
  return [
    sealedText,
    s.state,
    s.version,
    s.attempts ?? 0,
    dateOf(s.nextAttemptAt),
    e?.code ?? null,
    e ? JSON.stringify({ code: e.code, ...(e.httpStatus !== undefined ? { httpStatus: e.httpStatus } : {}), at: e.at }) : null,
    s.heldVersion ?? null,
    dateOf(s.sendingUntil),
    s.earlierSending?.version ?? null,
    dateOf(s.earlierSending?.untilMs),
    dateOf(s.syncedAt),
    s.identityWaits ?? 0,
    s.replays ?? 0,
    dateOf(s.updatedAt) ?? new Date(),
  ];
}

function dateOf(value: string | number | undefined): Date | null {
  if (value === undefined || value === null) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}
