import type { DeliveryConfig } from '../config/types.js';
import type { PushOutcome } from '../upstream/upstream.js';

// One place decides what happens after a push. Network errors, timeouts, 408, 429 and 5xx are
// transient: the upstream may take the same Bundle later. Any other 4xx means the upstream judged
// the content, and sending it again unchanged would get the same answer: a person has to look.
// A person the upstream does not know yet is neither: the record waits, on a slow schedule.

export type Decision =
  | { action: 'synced' }
  | { action: 'retry'; delayMs: number }
  | { action: 'wait-identity'; delayMs: number }
  | { action: 'fail'; reason: 'rejected' | 'attempts-exhausted' | 'too-old' };

export type RetryConfig = Pick<DeliveryConfig, 'maxAttempts' | 'maxAgeHours' | 'baseDelayMs' | 'maxDelayMs' | 'identityWait' | 'maxRetryAfterSeconds'>;

export function isTransient(outcome: PushOutcome): boolean {
  switch (outcome.kind) {
    case 'network':
      return true;
    case 'http':
      return outcome.status === 408 || outcome.status === 429 || outcome.status >= 500;
    case 'not-sent':
      return outcome.transient;
    default:
      return false;
  }
}

/** Whether the upstream itself is failing (for its circuit): not a throttle, not a judgement of one record. */
export function isUpstreamFailure(outcome: PushOutcome): boolean {
  if (outcome.kind === 'network') return true;
  return outcome.kind === 'http' && (outcome.status === 408 || outcome.status >= 500);
}

/**
 * The upstream asked Gerbang to slow down (429): every push to it waits, not only this one, for
 * its Retry-After (at most `maxMs`), or `fallbackMs` when it gave none.
 */
export function throttleMs(outcome: PushOutcome, now: number, fallbackMs: number, maxMs: number): number | undefined {
  if (outcome.kind !== 'http' || outcome.status !== 429) return undefined;
  return (outcome.retryAfter !== undefined ? retryAfterMs(outcome.retryAfter, now, maxMs) : undefined) ?? fallbackMs;
}

/**
 * `attempts` counts pushes that reached a decision for this version; `identityWaits` how many of
 * them ended waiting for identity (they spend the slow schedule, not maxAttempts).
 */
export function decide(
  outcome: PushOutcome,
  ctx: { attempts: number; identityWaits?: number; ageMs: number; now: number; random?: () => number },
  cfg: RetryConfig,
): Decision {
  const random = ctx.random ?? Math.random;
  if (outcome.kind === 'delivered') return { action: 'synced' };
  if (outcome.kind === 'waiting-identity') {
    const waits = Math.max(1, ctx.identityWaits ?? 1);
    const delayMs = identityDelay(waits, cfg.identityWait, random);
    if (ctx.ageMs + delayMs > cfg.identityWait.maxAgeDays * 86_400_000) return { action: 'fail', reason: 'too-old' };
    return { action: 'wait-identity', delayMs };
  }
  if (!isTransient(outcome)) return { action: 'fail', reason: 'rejected' };
  if (ctx.attempts - (ctx.identityWaits ?? 0) >= cfg.maxAttempts) return { action: 'fail', reason: 'attempts-exhausted' };
  const backoff = fullJitterDelay(ctx.attempts - (ctx.identityWaits ?? 0), cfg, random);
  const asked = 'retryAfter' in outcome && outcome.retryAfter !== undefined ? retryAfterMs(outcome.retryAfter, ctx.now, cfg.maxRetryAfterSeconds * 1000) : undefined;
  const delayMs = Math.max(backoff, asked ?? 0);
  if (ctx.ageMs + delayMs > cfg.maxAgeHours * 3_600_000) return { action: 'fail', reason: 'too-old' };
  return { action: 'retry', delayMs };
}

/** Half to all of a doubling wait from firstMinutes up to maxHours: waits spread, never come early. */
function identityDelay(waits: number, wait: RetryConfig['identityWait'], random: () => number): number {
  const ceiling = Math.min(wait.maxHours * 3_600_000, wait.firstMinutes * 60_000 * 2 ** Math.max(0, waits - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

// BullMQ runs a lower priority number first (1 is the highest; 2^21 the limit). A record that
// failed goes behind fresh work of its puskesmas: each failure moves it this many places back.
export const MAX_PRIORITY = 2 ** 21;
const FAILURE_PENALTY = 100;

/** The priority of a job after another failed push. */
export function lowerPriority(current: number, attempts: number): number {
  return Math.min(MAX_PRIORITY, Math.max(1, current) + FAILURE_PENALTY * attempts);
}

/**
 * "Full jitter" (a random delay between 0 and the exponential ceiling): retries of many records
 * that failed together spread out instead of hitting a recovering upstream at the same moment.
 * A floor of a tenth of the base delay keeps a retry from being immediate.
 */
export function fullJitterDelay(attempt: number, cfg: Pick<DeliveryConfig, 'baseDelayMs' | 'maxDelayMs'>, random: () => number): number {
  const ceiling = Math.min(cfg.maxDelayMs, cfg.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(Math.round(cfg.baseDelayMs / 10), Math.round(random() * ceiling));
}

/**
 * Retry-After as seconds or an HTTP date (RFC 9110 10.2.3); undefined when unreadable. Capped at
 * `maxMs` (delivery.maxRetryAfterSeconds): a misbehaving server asking for a day, or for ever,
 * would otherwise stop the whole queue of its upstream that long.
 */
export function retryAfterMs(value: string, now: number, maxMs: number): number | undefined {
  const trimmed = value.trim();
  let ms: number | undefined;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (!Number.isNaN(at)) ms = Math.max(0, at - now);
  }
  return ms === undefined ? undefined : Math.min(ms, maxMs);
}
