import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RetentionConfig } from '../config/types.js';
import { aggKeys } from './aggregates.js';

const BATCH = 500;

// Drops the payload only if the record is still synced everywhere (a new version may have come
// in since it was listed) and keeps everything a person or the status API reads: states, ids,
// upstream resource ids, counts, warnings and indicators.
const dropScript = `
local recKey, purgeKey, id, droppedAt = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local unsynced = tonumber(redis.call('HGET', recKey, 'unsynced') or '1')
redis.call('ZREM', purgeKey, id)
if unsynced > 0 then return 0 end
redis.call('HDEL', recKey, 'record', 'bundle', 'provenance')
redis.call('HSET', recKey, 'payloadDroppedAt', droppedAt)
return 1
`;

/**
 * Retention: once a record is synced at every upstream, its payload (names, NIKs, the Bundle) is
 * kept `payloadDays` more, then dropped. Safe to run in several processes at once.
 */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly deps: { redis: Redis; retention: RetentionConfig; logger: Logger }) {
    deps.redis.defineCommand('gerbangDropPayload', { numberOfKeys: 2, lua: dropScript });
  }

  start(): void {
    const every = this.deps.retention.sweepIntervalMinutes * 60_000;
    this.timer = setInterval(() => {
      this.running ??= this.sweep()
        .catch((err: unknown) => this.deps.logger.warn({ err }, 'retention sweep failed; next time'))
        .finally(() => (this.running = undefined));
    }, every);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Drops the payloads whose time has come; returns how many. */
  async sweep(now = Date.now()): Promise<number> {
    const { redis, retention, logger } = this.deps;
    const cutoff = now - retention.payloadDays * 86_400_000;
    const r = redis as Redis & { gerbangDropPayload(rec: string, purge: string, id: string, at: string): Promise<number> };
    let dropped = 0;
    for (;;) {
      const ids = await redis.zrange(aggKeys.purge, '-inf', cutoff, 'BYSCORE', 'LIMIT', 0, BATCH);
      if (ids.length === 0) break;
      for (const id of ids) dropped += await r.gerbangDropPayload(`g:rec:${id}`, aggKeys.purge, id, new Date(now).toISOString());
    }
    if (dropped > 0) logger.info({ dropped, payloadDays: retention.payloadDays }, 'retention: dropped the payloads of records synced everywhere');
    return dropped;
  }
}
