import type { DeliveryConfig } from '../config/types.js';

// One place decides what happens after a push. Network errors, timeouts, 408, 429 and 5xx are
// transient: the upstream may take the same Bundle later. Any other 4xx means the upstream judged
// the content, and sending it again unchanged would get the same answer: a person has to look.

export type PushOutcome =
  | { kind: 'delivered' }
  | { kind: 'http'; status: number; retryAfter?: string }
  | { kind: 'network'; code: string };

export type Decision =
  | { action: 'synced' }
  | { action: 'retry'; delayMs: number }
  | { action: 'fail'; reason: 'rejected' | 'attempts-exhausted' | 'too-old' };

export function isTransient(outcome: PushOutcome): boolean {
  if (outcome.kind === 'network') return true;
  if (outcome.kind === 'http') return outcome.status === 408 || outcome.status === 429 || outcome.status >= 500;
  return false;
}

export function decide(
  outcome: PushOutcome,
  ctx: { attempts: number; ageMs: number; now: number; random?: () => number },
  cfg: Pick<DeliveryConfig, 'maxAttempts' | 'maxAgeHours' | 'baseDelayMs' | 'maxDelayMs'>,
): Decision {
  if (outcome.kind === 'delivered') return { action: 'synced' };
  if (!isTransient(outcome)) return { action: 'fail', reason: 'rejected' };
  if (ctx.attempts >= cfg.maxAttempts) return { action: 'fail', reason: 'attempts-exhausted' };
  const backoff = fullJitterDelay(ctx.attempts, cfg, ctx.random ?? Math.random);
  const asked = outcome.kind === 'http' && outcome.retryAfter !== undefined ? retryAfterMs(outcome.retryAfter, ctx.now) : undefined;
  const delayMs = Math.max(backoff, asked ?? 0);
  if (ctx.ageMs + delayMs > cfg.maxAgeHours * 3_600_000) return { action: 'fail', reason: 'too-old' };
  return { action: 'retry', delayMs };
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

/** Retry-After as seconds or an HTTP date (RFC 9110 10.2.3); undefined when unreadable. Capped at a day. */
export function retryAfterMs(value: string, now: number): number | undefined {
  const trimmed = value.trim();
  let ms: number | undefined;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (!Number.isNaN(at)) ms = Math.max(0, at - now);
  }
  return ms === undefined ? undefined : Math.min(ms, 86_400_000);
}
