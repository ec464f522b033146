import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RetentionConfig } from '../config/types.js';
import { logRepeated } from '../log/logger.js';
import type { StoreKeys } from './store/keys.js';
import { defineScripts, runScript } from './store/scripts.js';
import type { StorePressure } from './store-pressure.js';

// A store above its high-water mark is looked at this often: what retention may drop is dropped
// then, not at the next hourly sweep, since it is memory delivery can use.
const PRESSURE_LOOK_MS = 10_000;

const BATCH = 500;

/**
 * Retention: once a record is synced at every upstream, its payload (names, NIKs, the Bundle) is
 * kept `payloadDays` more, then dropped. Safe to run in several processes at once.
 */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private pressureTimer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  private readonly keys: StoreKeys;

  constructor(private readonly deps: { redis: Redis; retention: RetentionConfig; logger: Logger; pressure?: StorePressure; keys: StoreKeys }) {
    this.keys = deps.keys;
    defineScripts(deps.redis);
  }

  start(): void {
    const every = this.deps.retention.sweepIntervalMinutes * 60_000;
    this.timer = setInterval(() => this.sweepInBackground(), every);
    this.timer.unref();
    const { pressure } = this.deps;
    if (pressure) {
      this.pressureTimer = setInterval(() => void pressure.full().then((full) => full && this.sweepInBackground()), PRESSURE_LOOK_MS);
      this.pressureTimer.unref();
    }
  }

  private sweepInBackground(): void {
    this.running ??= this.sweep()
      .catch((err: unknown) => logRepeated(this.deps.logger, 'warn', 'retention', err, {}, 'retention sweep failed; next time'))
      .finally(() => (this.running = undefined));
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.pressureTimer) clearInterval(this.pressureTimer);
    await this.running;
  }

  /** Drops the payloads whose time has come; returns how many. */
  async sweep(now = Date.now()): Promise<number> {
    const { redis, retention, logger } = this.deps;
    const cutoff = now - retention.payloadDays * 86_400_000;
    const { keys } = this;
    let dropped = 0;
    for (;;) {
      const ids = await redis.zrange(keys.purge, '-inf', cutoff, 'BYSCORE', 'LIMIT', 0, BATCH);
      if (ids.length === 0) break;
      for (const id of ids) dropped += await runScript<number>(redis, 'drop-payload', [keys.record(id), keys.purge], [id, new Date(now).toISOString()]);
    }
    if (dropped > 0) logger.info({ dropped, payloadDays: retention.payloadDays }, 'retention: dropped the payloads of records synced everywhere');
    return dropped + (await this.sweepUnsynced(now));
  }

  /** Records received more than unsyncedPayloadDays ago that never got through everywhere. */
  private async sweepUnsynced(now: number): Promise<number> {
    const { redis, retention, logger } = this.deps;
    const cutoff = now - retention.unsyncedPayloadDays * 86_400_000;
    const { keys } = this;
    const [savedScore = '-inf', savedSeen = '0'] = ((await redis.get(keys.unsyncedCursor)) ?? '').split(' ').filter(Boolean);
    let score = savedScore;
    let seen = Number(savedSeen);
    let dropped = 0;
    for (;;) {
      const page = await redis.zrange(keys.received, score, cutoff, 'BYSCORE', 'LIMIT', seen, BATCH, 'WITHSCORES');
      if (page.length === 0) break;
      for (let i = 0; i < page.length; i += 2) {
        dropped += await runScript<number>(redis, 'drop-unsynced', [keys.record(page[i]!)], [new Date(now).toISOString()]);
        const s = page[i + 1]!;
        seen = s === score ? seen + 1 : 1;
        score = s;
      }
      await redis.set(keys.unsyncedCursor, `${score} ${seen}`);
      // the next page starts at the last score, past the records already seen there
    }
    if (dropped > 0) logger.info({ dropped, unsyncedPayloadDays: retention.unsyncedPayloadDays }, 'retention: dropped the payloads of records that failed to get through');
    return dropped;
  }
}
