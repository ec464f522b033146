import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RetentionConfig } from '../config/types.js';
import { logRepeated } from '../log/logger.js';
import { aggKeys } from './aggregates.js';
import type { StorePressure } from './store-pressure.js';

// A store above its high-water mark is looked at this often: what retention may drop is dropped
// then, not at the next hourly sweep, since it is memory delivery can use.
const PRESSURE_LOOK_MS = 10_000;

const BATCH = 500;

// With the payload go the upstream's words kept in each state (stored-payload.ts seals them into
// `sealed`, base64: no quote or comma inside), which may quote the person: the state stays for the
// status API, its words do not. Done on the JSON text, as decoding and encoding it in Lua would
// turn the empty lists of the state into objects.
const dropWordsLua = `
local function dropWords(recKey)
  for _, k in ipairs(redis.call('HKEYS', recKey)) do
    if string.sub(k, 1, 2) == 'u:' then
      local v = redis.call('HGET', recKey, k)
      local stripped = string.gsub(string.gsub(v, ',"sealed":"[^"]*"', ''), '"sealed":"[^"]*",?', '')
      if stripped ~= v then redis.call('HSET', recKey, k, stripped) end
    end
  end
end
`;

// Drops the payload only if the record is still synced everywhere (a new version may have come
// in since it was listed) and keeps everything a person or the status API reads: states, ids,
// upstream resource ids, counts, warnings and indicators.
const dropScript = `${dropWordsLua}
local recKey, purgeKey, id, droppedAt = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local unsynced = tonumber(redis.call('HGET', recKey, 'unsynced') or '1')
redis.call('ZREM', purgeKey, id)
if unsynced > 0 then return 0 end
redis.call('HDEL', recKey, 'record', 'bundle', 'provenance')
dropWords(recKey)
redis.call('HSET', recKey, 'payloadDroppedAt', droppedAt)
return 1
`;

// A record not synced everywhere: its payload goes once every upstream has settled it (synced, or
// failed: delivery has stopped trying); one still on its way (a replay) keeps it, and is then
// dropped like any synced record once it gets through.
const dropUnsyncedScript = `${dropWordsLua}
local recKey, droppedAt = KEYS[1], ARGV[1]
if redis.call('HEXISTS', recKey, 'record') == 0 then return 0 end
for _, k in ipairs(redis.call('HKEYS', recKey)) do
  if string.sub(k, 1, 2) == 'u:' then
    local state = cjson.decode(redis.call('HGET', recKey, k)).state
    if state ~= 'failed' and state ~= 'synced' then return 0 end
  end
end
redis.call('HDEL', recKey, 'record', 'bundle', 'provenance')
dropWords(recKey)
redis.call('HSET', recKey, 'payloadDroppedAt', droppedAt)
return 1
`;

// How far the unsynced sweep has gone through g:received: "{score} {records seen at that score}"
// (a $batch gives thousands of records the same time), so each record is looked at once.
const UNSYNCED_CURSOR = 'g:retention:unsynced-cursor';

/**
 * Retention: once a record is synced at every upstream, its payload (names, NIKs, the Bundle) is
 * kept `payloadDays` more, then dropped. Safe to run in several processes at once.
 */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private pressureTimer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly deps: { redis: Redis; retention: RetentionConfig; logger: Logger; pressure?: StorePressure }) {
    deps.redis.defineCommand('gerbangDropPayload', { numberOfKeys: 2, lua: dropScript });
    deps.redis.defineCommand('gerbangDropUnsynced', { numberOfKeys: 1, lua: dropUnsyncedScript });
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
    const r = redis as Redis & { gerbangDropPayload(rec: string, purge: string, id: string, at: string): Promise<number> };
    let dropped = 0;
    for (;;) {
      const ids = await redis.zrange(aggKeys.purge, '-inf', cutoff, 'BYSCORE', 'LIMIT', 0, BATCH);
      if (ids.length === 0) break;
      for (const id of ids) dropped += await r.gerbangDropPayload(`g:rec:${id}`, aggKeys.purge, id, new Date(now).toISOString());
    }
    if (dropped > 0) logger.info({ dropped, payloadDays: retention.payloadDays }, 'retention: dropped the payloads of records synced everywhere');
    return dropped + (await this.sweepUnsynced(now));
  }

  /** Records received more than unsyncedPayloadDays ago that never got through everywhere. */
  private async sweepUnsynced(now: number): Promise<number> {
    const { redis, retention, logger } = this.deps;
    const cutoff = now - retention.unsyncedPayloadDays * 86_400_000;
    const r = redis as Redis & { gerbangDropUnsynced(rec: string, at: string): Promise<number> };
    const [savedScore = '-inf', savedSeen = '0'] = ((await redis.get(UNSYNCED_CURSOR)) ?? '').split(' ').filter(Boolean);
    let score = savedScore;
    let seen = Number(savedSeen);
    let dropped = 0;
    for (;;) {
      const page = await redis.zrange('g:received', score, cutoff, 'BYSCORE', 'LIMIT', seen, BATCH, 'WITHSCORES');
      if (page.length === 0) break;
      for (let i = 0; i < page.length; i += 2) {
        dropped += await r.gerbangDropUnsynced(`g:rec:${page[i]}`, new Date(now).toISOString());
        const s = page[i + 1]!;
        seen = s === score ? seen + 1 : 1;
        score = s;
      }
      await redis.set(UNSYNCED_CURSOR, `${score} ${seen}`);
      // the next page starts at the last score, past the records already seen there
    }
    if (dropped > 0) logger.info({ dropped, unsyncedPayloadDays: retention.unsyncedPayloadDays }, 'retention: dropped the payloads of records that failed to get through');
    return dropped;
  }
}
