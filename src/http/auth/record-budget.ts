import type { Cluster, Redis } from 'ioredis';
import type { StoreKeys } from '../../sync/store/keys.js';
import { defineScripts, runScript } from '../../sync/store/scripts.js';
import { GerbangError } from '../../errors/gerbang-error.js';
import type { Caller } from './authenticate.js';

// Records a key may send a minute, counted in Redis like the request limit so that several gateway
// processes count together. The request limit alone would let one $batch of 10,000 records cost
// what one record costs; this budget is what both draw from. The first record of a minute starts
// the window; a grant is never more than what is left of it (scripts budget-take.lua, budget-give.lua).
const WINDOW_MS = 60_000;

export interface Grant {
  /** records granted, at most those asked for */
  granted: number;
  /** when the window ends and the budget is whole again */
  retryAfterSeconds: number;
}

export class RecordBudget {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly perMinute: number,
    private readonly keys: Pick<StoreKeys, 'recordBudget'>,
  ) {
    defineScripts(redis);
  }

  limitOf(caller: Caller): number {
    return caller.recordsPerMinute ?? this.perMinute;
  }

  /** Up to `n` records from the caller's budget. A Redis hiccup grants them all, as the request limit lets requests through. */
  async take(caller: Caller, n: number): Promise<Grant> {
    try {
      const [granted, ttlMs] = await runScript<[number, number]>(this.redis, 'budget-take', [this.keys.recordBudget(caller.keyId)], [this.limitOf(caller), n, WINDOW_MS]);
      return { granted, retryAfterSeconds: Math.max(1, Math.ceil(ttlMs / 1000)) };
    } catch {
      return { granted: n, retryAfterSeconds: 1 };
    }
  }

  /** Gives back records taken but not used. */
  async give(caller: Caller, n: number): Promise<void> {
    if (n > 0) await runScript(this.redis, 'budget-give', [this.keys.recordBudget(caller.keyId)], [n]).catch(() => undefined);
  }

  /** One record's worth, or the 429 that refuses it. */
  async admitOne(caller: Caller): Promise<void> {
    const grant = await this.take(caller, 1);
    if (grant.granted < 1) throw overBudget(this.limitOf(caller), grant.retryAfterSeconds);
  }
}

/** The refusal of a request or of one batch record beyond the key's records-per-minute budget. */
export function overBudget(limit: number, seconds: number): GerbangError {
  return new GerbangError('request.too-many-records', [{ key: 'request.too-many-records', severity: 'error', params: { limit, seconds } }], { retryAfterSeconds: seconds });
}

/**
 * A $batch's draw on the budget: records are taken a chunk at a time as they arrive (one Redis call
 * per chunk, not per record), and what the last chunk did not use is given back at the end. Once
 * the budget is used up, every later record of the batch is refused too, so that the refused ones
 * are the batch's tail: the app sends that tail again after `retryAfterSeconds`.
 */
export class BudgetDraw {
  private left = 0;
  private spent = false;
  retryAfterSeconds = 1;
  refused = 0;

  constructor(
    private readonly budget: RecordBudget,
    private readonly caller: Caller,
    private readonly chunk = 64,
  ) {}

  get limit(): number {
    return this.budget.limitOf(this.caller);
  }

  /** Before the batch is read: false when nothing at all is left of the budget. */
  async start(): Promise<boolean> {
    await this.refill();
    return this.left > 0;
  }

  /** One more record; false (and counted as refused) once the budget is used up. */
  async admit(): Promise<boolean> {
    if (this.left === 0 && !this.spent) await this.refill();
    if (this.left === 0) {
      this.spent = true;
      this.refused += 1;
      return false;
    }
    this.left -= 1;
    return true;
  }

  async finish(): Promise<void> {
    const unused = this.left;
    this.left = 0;
    await this.budget.give(this.caller, unused);
  }

  private async refill(): Promise<void> {
    const grant = await this.budget.take(this.caller, this.chunk);
    this.left = grant.granted;
    this.retryAfterSeconds = grant.retryAfterSeconds;
  }
}
