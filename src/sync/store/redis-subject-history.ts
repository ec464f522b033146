import type { Cluster, Redis } from 'ioredis';
import { KeyedSubjectHistory, type HistoryRetention, type HistoryWrite, type What } from '../subject-history.js';
import type { StoreKeys } from './keys.js';
import { defineScripts, runScript } from './scripts.js';

/** A person's history in Redis: one hash per person and kind, expiring as a whole (EXPIREAT). */
export class RedisSubjectHistory extends KeyedSubjectHistory {
  constructor(
    private readonly redis: Redis | Cluster,
    secret: string,
    private readonly keys: StoreKeys,
    retention: HistoryRetention,
  ) {
    super(secret, retention);
    defineScripts(redis);
  }

  protected async read(what: What, key: string, legacyKey: string): Promise<Record<string, unknown>> {
    const flat = await runScript<string[]>(this.redis, 'history-read', [this.keys.history(what, key), this.keys.history(what, legacyKey)], []);
    const entries: Record<string, unknown> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) entries[flat[i]!] = JSON.parse(flat[i + 1]!) as unknown;
    return entries;
  }

  protected async write(what: What, key: string, w: HistoryWrite): Promise<void> {
    await runScript(this.redis, 'history-remember', [this.keys.history(what, key)], [w.field, JSON.stringify(w.entry), w.expiresAt, w.keepFrom]);
  }
}
