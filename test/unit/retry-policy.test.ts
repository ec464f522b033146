import t from 'tap';
import { decide, fullJitterDelay, isTransient, retryAfterMs } from '../../src/sync/retry-policy.js';

const cfg = { maxAttempts: 5, maxAgeHours: 1, baseDelayMs: 1_000, maxDelayMs: 60_000 };
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
  t.equal(retryAfterMs('999999', now), 86_400_000, 'capped at a day');
});

t.test('full jitter: between a small floor and a doubling ceiling capped at maxDelay', async (t) => {
  t.equal(fullJitterDelay(1, cfg, () => 1), 1_000);
  t.equal(fullJitterDelay(3, cfg, () => 1), 4_000);
  t.equal(fullJitterDelay(30, cfg, () => 1), 60_000);
  t.equal(fullJitterDelay(3, cfg, () => 0), 100, 'never immediate');
  const spread = new Set(Array.from({ length: 50 }, () => fullJitterDelay(6, cfg, Math.random)));
  t.ok(spread.size > 40, 'retries of records that failed together spread out');
});
