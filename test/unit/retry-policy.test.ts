import t from 'tap';
import { decide, fullJitterDelay, isTransient, isUpstreamFailure, lowerPriority, MAX_PRIORITY, retryAfterMs, throttleMs } from '../../src/sync/retry-policy.js';

const identityWait = { firstMinutes: 15, maxHours: 6, maxAgeDays: 30 };
const cfg = { maxAttempts: 5, maxAgeHours: 1, baseDelayMs: 1_000, maxDelayMs: 60_000, identityWait, maxRetryAfterSeconds: 900 };
const now = Date.parse('2025-11-05T00:00:00Z');

t.test('which failures are worth another try', async (t) => {
  for (const status of [408, 429, 500, 502, 503, 504]) t.ok(isTransient({ kind: 'http', status }), `${status}`);
  for (const status of [400, 401, 403, 404, 409, 412, 422]) t.notOk(isTransient({ kind: 'http', status }), `${status}`);
  t.ok(isTransient({ kind: 'network', code: 'econnrefused' }));
});

t.test('decisions', async (t) => {
  const ctx = { attempts: 1, ageMs: 0, now, random: () => 0.5 };
  t.same(decide({ kind: 'delivered' }, ctx, cfg), { action: 'synced' });
  t.same(decide({ kind: 'http', status: 422 }, ctx, cfg), { action: 'fail', reason: 'rejected' });
  t.same(decide({ kind: 'http', status: 503 }, ctx, cfg), { action: 'retry', delayMs: 500 });
  t.same(decide({ kind: 'http', status: 503 }, { ...ctx, attempts: 5 }, cfg), { action: 'fail', reason: 'attempts-exhausted' });
  t.same(decide({ kind: 'network', code: 'socket' }, { ...ctx, ageMs: 3_599_900 }, cfg), { action: 'fail', reason: 'too-old' });
});

t.test('Retry-After is honoured when longer than the backoff, in seconds or as a date', async (t) => {
  const ctx = { attempts: 1, ageMs: 0, now, random: () => 0.5 };
  t.same(decide({ kind: 'http', status: 429, retryAfter: '30' }, ctx, cfg), { action: 'retry', delayMs: 30_000 });
  t.same(decide({ kind: 'http', status: 503, retryAfter: new Date(now + 12_000).toUTCString() }, ctx, cfg), { action: 'retry', delayMs: 12_000 });
  t.same(decide({ kind: 'http', status: 503, retryAfter: 'soon' }, ctx, cfg), { action: 'retry', delayMs: 500 }, 'unreadable: ignored');
  t.equal(retryAfterMs('999999999', now, 900_000), 900_000, 'capped at maxRetryAfterSeconds');
  t.equal(retryAfterMs(new Date(now + 86_400_000 * 365).toUTCString(), now, 900_000), 900_000, 'a date a year away too');
  t.same(decide({ kind: 'http', status: 429, retryAfter: '999999999' }, ctx, { ...cfg, maxAgeHours: 48 }), { action: 'retry', delayMs: 900_000 }, 'a record waits at most the cap');
});

t.test('full jitter: between a small floor and a doubling ceiling capped at maxDelay', async (t) => {
  t.equal(fullJitterDelay(1, cfg, () => 1), 1_000);
  t.equal(fullJitterDelay(3, cfg, () => 1), 4_000);
  t.equal(fullJitterDelay(30, cfg, () => 1), 60_000);
  t.equal(fullJitterDelay(3, cfg, () => 0), 100, 'never immediate');
  const spread = new Set(Array.from({ length: 50 }, () => fullJitterDelay(6, cfg, Math.random)));
  t.ok(spread.size > 40, 'retries of records that failed together spread out');
});

t.test('a person the upstream does not know: a slow doubling schedule, apart from maxAttempts, capped by its own age', async (t) => {
  const waiting = { kind: 'waiting-identity', reason: 'NIK not found' } as const;
  const at = (identityWaits: number, random = () => 1, ageMs = 0) => decide(waiting, { attempts: identityWaits, identityWaits, ageMs, now, random }, cfg);
  t.same(at(1), { action: 'wait-identity', delayMs: 15 * 60_000 }, 'first look again after 15 min');
  t.same(at(2), { action: 'wait-identity', delayMs: 30 * 60_000 });
  t.same(at(20), { action: 'wait-identity', delayMs: 6 * 3_600_000 }, 'then every 6 h at most');
  t.same(at(1, () => 0), { action: 'wait-identity', delayMs: 7.5 * 60_000 }, 'jitter takes at most half off a wait');
  t.same(at(40, () => 1, 29 * 86_400_000), { action: 'wait-identity', delayMs: 6 * 3_600_000 }, '40 waits, far beyond maxAttempts (5), still waiting');
  t.same(at(40, () => 1, 30 * 86_400_000 - 3_600_000), { action: 'fail', reason: 'too-old' }, 'a wait that would end past 30 days fails for a person');
  const tighter = { ...cfg, identityWait: { firstMinutes: 1, maxHours: 0.5, maxAgeDays: 2 } };
  t.same(decide(waiting, { attempts: 9, identityWaits: 9, ageMs: 0, now, random: () => 1 }, tighter), { action: 'wait-identity', delayMs: 30 * 60_000 }, 'configured: capped at maxHours');
  t.same(decide(waiting, { attempts: 2, identityWaits: 2, ageMs: 2 * 86_400_000, now, random: () => 1 }, tighter), { action: 'fail', reason: 'too-old' }, 'configured: maxAgeDays');
  const afterWaits = decide({ kind: 'http', status: 503 }, { attempts: 12, identityWaits: 10, ageMs: 0, now, random: () => 1 }, cfg);
  t.equal(afterWaits.action, 'retry', 'identity waits do not use up the attempts of an upstream outage that follows');
});

t.test('what counts against an upstream, and what pauses it', async (t) => {
  t.ok(isUpstreamFailure({ kind: 'network', code: 'econnrefused' }));
  t.ok(isUpstreamFailure({ kind: 'http', status: 503 }));
  t.notOk(isUpstreamFailure({ kind: 'http', status: 429 }), 'a throttle is not a failure');
  t.notOk(isUpstreamFailure({ kind: 'http', status: 422 }), 'a judgement of one record is not a failure');
  t.equal(throttleMs({ kind: 'http', status: 429, retryAfter: '7' }, now, 2_000, 900_000), 7_000);
  t.equal(throttleMs({ kind: 'http', status: 429, retryAfter: '999999999' }, now, 2_000, 900_000), 900_000, 'a queue pauses at most the cap');
  t.equal(throttleMs({ kind: 'http', status: 429 }, now, 2_000, 900_000), 2_000, 'no Retry-After: the base delay');
  t.equal(throttleMs({ kind: 'http', status: 503, retryAfter: '7' }, now, 2_000, 900_000), undefined);
  t.equal(lowerPriority(3, 2), 203);
  t.equal(lowerPriority(MAX_PRIORITY - 5, 9), MAX_PRIORITY);
});
