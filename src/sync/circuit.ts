import type { Redis } from 'ioredis';
import type { CircuitConfig } from '../config/types.js';

// A circuit per upstream, kept in Redis so that every worker process sees the same one. Key:
//   g:circuit:{U}  hash  state (closed | open | half-open), window (the latest pushes, oldest
//                        first: '1' failed, '0' answered), openUntil (ms), openMs (the length of
//                        the current or next opening), probeUntil (ms)
//
//   closed ──(of the last windowSize pushes, at least failureThreshold and at least
//             failureRate of them failed)──▶ open
//   open ──(openUntil passed: one worker takes the probe)──▶ half-open
//   half-open ──probe delivered──▶ closed     half-open ──probe failed──▶ open, twice as long
//
// A rate, not a run: a platform failing one request in ten fails a run of five pushes now and
// then, and opening on that would pause a working upstream again and again. A dead one fails every
// push, so it still opens after failureThreshold of them.
//
// Only the upstream failing counts (network errors, 408, 5xx, answers it cannot have meant). A 4xx
// is the upstream working and judging one record; a 429 is a throttle, handled by pausing the queue
// for its Retry-After.

export type CircuitState = 'closed' | 'open' | 'half-open';

export type Admission = { go: true; probe: boolean } | { go: false; waitMs: number };

// Returns {verdict, waitMs, failures}: verdict 0 go, 1 go as the probe, 2 wait.
const admitScript = `
local key = KEYS[1]
local now, probeLeaseMs = tonumber(ARGV[1]), tonumber(ARGV[2])
local f = redis.call('HMGET', key, 'state', 'openUntil', 'probeUntil', 'window')
local state = f[1] or 'closed'
if state == 'closed' then
  local _, failures = string.gsub(f[4] or '', '1', '')
  return {0, 0, failures}
end
if state == 'open' then
  local untilMs = tonumber(f[2]) or 0
  if now < untilMs then return {2, untilMs - now, 0} end
end
-- open and due, or half-open: one probe at a time; a probe whose worker died is taken over after its lease
local probeUntil = tonumber(f[3]) or 0
if state == 'half-open' and now < probeUntil then return {2, probeUntil - now, 0} end
redis.call('HSET', key, 'state', 'half-open', 'probeUntil', now + probeLeaseMs)
return {1, 0, 0}
`;

// ARGV: now, outcome ('ok' | 'fail'), wasProbe ('1' | '0'), threshold, baseOpenMs, maxOpenMs,
// failureRate, windowSize, oksBefore (pushes that went through since this process last told,
// unrecorded while the window held no failure). Returns {state after, failures in the window}.
const recordScript = `
local key = KEYS[1]
local now, outcome, probe = tonumber(ARGV[1]), ARGV[2], ARGV[3] == '1'
local threshold, baseMs, maxMs = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local rate, size, oksBefore = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local f = redis.call('HMGET', key, 'state', 'window', 'openMs')
local state, window, openMs = f[1] or 'closed', f[2] or '', tonumber(f[3]) or baseMs
if state ~= 'closed' then
  if outcome == 'ok' then
    -- Only the probe closes an open circuit: a slow push that started before the opening and
    -- happened to succeed says little about the upstream now.
    if not probe then return {state, 0} end
    redis.call('DEL', key)
    return {'closed', 0}
  end
  if state == 'half-open' and probe then
    redis.call('HSET', key, 'state', 'open', 'openUntil', now + openMs, 'openMs', math.min(maxMs, openMs * 2))
    return {'open', 0}
  end
  return {state, 0}
end
window = window .. string.rep('0', math.min(oksBefore, size)) .. (outcome == 'ok' and '0' or '1')
window = string.sub(window, -size)
local _, failures = string.gsub(window, '1', '')
if failures == 0 then
  redis.call('DEL', key)
  return {'closed', 0}
end
if failures >= threshold and failures >= rate * string.len(window) then
  redis.call('HSET', key, 'state', 'open', 'openUntil', now + baseMs, 'openMs', math.min(maxMs, baseMs * 2), 'window', '')
  return {'open', failures}
end
redis.call('HSET', key, 'window', window)
return {'closed', failures}
`;

type CircuitRedis = Redis & {
  gerbangCircuitAdmit(key: string, now: number, probeLeaseMs: number): Promise<[number, number, number]>;
  gerbangCircuitRecord(
    key: string,
    now: number,
    outcome: string,
    probe: string,
    threshold: number,
    baseMs: number,
    maxMs: number,
    rate: number,
    size: number,
    oksBefore: number,
  ): Promise<[CircuitState, number]>;
};

// While the circuit is closed and healthy, a process trusts what it last read for this long instead
// of asking Redis before and after every push. Another process opening the circuit is seen within it.
const VIEW_MS = 1_000;

export class Circuit {
  private readonly redis: CircuitRedis;
  private readonly key: string;
  /** closed with no failures in the window, as of `at` (ms); otherwise every admit and record asks Redis */
  private healthyAt = -Infinity;
  /** pushes that went through while healthy and were not told to Redis: they enter the window with the next failure */
  private oksUntold = 0;

  constructor(
    redis: Redis,
    readonly upstream: string,
    private readonly cfg: CircuitConfig,
    /** how long a probe may take before another worker may probe instead (the job lock's duration) */
    private readonly probeLeaseMs: number,
  ) {
    redis.defineCommand('gerbangCircuitAdmit', { numberOfKeys: 1, lua: admitScript });
    redis.defineCommand('gerbangCircuitRecord', { numberOfKeys: 1, lua: recordScript });
    this.redis = redis as CircuitRedis;
    this.key = circuitKey(upstream);
  }

  /** Whether a push may go now; while open, how long to wait. */
  async admit(now = Date.now()): Promise<Admission> {
    if (now - this.healthyAt < VIEW_MS) return { go: true, probe: false };
    const [verdict, waitMs, failures] = await this.redis.gerbangCircuitAdmit(this.key, now, this.probeLeaseMs);
    if (verdict === 0 && failures === 0) this.healthyAt = now;
    if (verdict === 2) return { go: false, waitMs: Math.max(1, waitMs) };
    return { go: true, probe: verdict === 1 };
  }

  /** What a push found out: `ok` when the upstream answered (a 4xx or a 429 too), not when it failed (network, 408, 5xx). */
  async record(ok: boolean, probe: boolean, now = Date.now()): Promise<CircuitState> {
    if (ok && !probe && now - this.healthyAt < VIEW_MS) {
      this.oksUntold++;
      return 'closed';
    }
    if (!ok) this.healthyAt = -Infinity;
    const oksBefore = this.oksUntold;
    this.oksUntold = 0;
    const [state, failures] = await this.redis.gerbangCircuitRecord(
      this.key,
      now,
      ok ? 'ok' : 'fail',
      probe ? '1' : '0',
      this.cfg.failureThreshold,
      this.cfg.openSeconds * 1000,
      this.cfg.maxOpenSeconds * 1000,
      this.cfg.failureRate,
      this.cfg.windowSize,
      oksBefore,
    );
    if (ok && state === 'closed' && failures === 0) this.healthyAt = now;
    return state;
  }

  async state(): Promise<CircuitState> {
    return ((await this.redis.hget(this.key, 'state')) as CircuitState | null) ?? 'closed';
  }
}

export function circuitKey(upstream: string): string {
  return `g:circuit:${upstream}`;
}

/** For /metrics and the status API: 0 closed, 1 half-open, 2 open. */
export const CIRCUIT_GAUGE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };
