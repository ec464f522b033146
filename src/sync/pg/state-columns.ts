import type { UpstreamState, UpstreamStatus } from '../states.js';

/**
 * The columns of an upstream_states row that copy its state (the whole state is in `status`,
 * sealed): what the queries, the partial indexes and the counts work on.
 */
export interface StateColumns {
  state: UpstreamState;
  version: number;
  attempts: number;
  nextAttemptAt: string | null;
  lastErrorCode: string | null;
  heldVersion: number | null;
  sendingUntil: string | null;
  earlierSendingVersion: number | null;
  earlierSendingUntil: string | null;
  syncedAt: string | null;
  identityWaits: number;
  replays: number;
  updatedAt: string;
}

const isoOfMs = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString());

export function stateColumns(s: UpstreamStatus): StateColumns {
  return {
    state: s.state,
    version: s.version,
    attempts: s.attempts ?? 0,
    nextAttemptAt: s.nextAttemptAt ?? null,
    lastErrorCode: s.lastError?.code ?? null,
    heldVersion: s.heldVersion ?? null,
    sendingUntil: isoOfMs(s.sendingUntil),
    earlierSendingVersion: s.earlierSending?.version ?? null,
    earlierSendingUntil: isoOfMs(s.earlierSending?.untilMs),
    syncedAt: s.syncedAt ?? null,
    identityWaits: s.identityWaits ?? 0,
    replays: s.replays ?? 0,
    updatedAt: s.updatedAt,
  };
}
