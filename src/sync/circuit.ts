import type { Cluster, Redis } from 'ioredis';
import type { CircuitConfig } from '../config/types.js';
import { CIRCUIT_FIELDS, type StoreKeys } from './store/keys.js';
import { defineScripts, runScript } from './store/scripts.js';

// A circuit per upstream, kept in Redis so that every worker process sees the same one (a hash:
// store/keys.ts, CIRCUIT_FIELDS; its scripts are store/scripts/circuit-*.lua).
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

// While the circuit is closed and healthy, a process trusts what it last read for this long instead
// of asking Redis before and after every push. Another process opening the circuit is seen within it.
const VIEW_MS = 1_000;

export class Circuit {
  private readonly key: string;
  /** closed with no failures in the window, as of `at` (ms); otherwise every admit and record asks Redis */
  private healthyAt = -Infinity;
  /** pushes that went through while healthy and were not told to Redis: they enter the window with the next failure */
  private oksUntold = 0;

  constructor(
    private readonly redis: Redis | Cluster,
    readonly upstream: string,
    private readonly cfg: CircuitConfig,
    /** how long a probe may take before another worker may probe instead (the job lock's duration) */
    private readonly probeLeaseMs: number,
    keys: StoreKeys,
  ) {
    defineScripts(redis);
    this.key = keys.circuit(upstream);
  }

  /** Whether a push may go now; while open, how long to wait. */
  async admit(now = Date.now()): Promise<Admission> {
    if (now - this.healthyAt < VIEW_MS) return { go: true, probe: false };
    const [verdict, waitMs, failures] = await runScript<[number, number, number]>(this.redis, 'circuit-admit', [this.key], [now, this.probeLeaseMs]);
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
    const [state, failures] = await runScript<[CircuitState, number]>(this.redis, 'circuit-record', [this.key], [
      now,
      ok ? 'ok' : 'fail',
      probe ? '1' : '0',
      this.cfg.failureThreshold,
      this.cfg.openSeconds * 1000,
      this.cfg.maxOpenSeconds * 1000,
      this.cfg.failureRate,
      this.cfg.windowSize,
      oksBefore,
    ]);
    if (ok && state === 'closed' && failures === 0) this.healthyAt = now;
    return state;
  }

  async state(): Promise<CircuitState> {
    return circuitState(this.redis, this.key);
  }
}

/** An upstream's circuit as every process sees it (`key`: StoreKeys.circuit). */
export async function circuitState(redis: Redis | Cluster, key: string): Promise<CircuitState> {
  return ((await redis.hget(key, CIRCUIT_FIELDS.state)) as CircuitState | null) ?? 'closed';
}

/** For /metrics and the status API: 0 closed, 1 half-open, 2 open. */
export const CIRCUIT_GAUGE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };
