import type { Cluster, Redis } from 'ioredis';
import type { StoreKeys } from '../../sync/store/keys.js';
import { defineScripts, runScript } from '../../sync/store/scripts.js';

// Failed authentications per client address, counted in Redis like the per-key limit so that
// several gateway processes count together: the first failure of a minute starts the window.

const WINDOW_MS = 60_000;

export class AuthFailures {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly perMinute: number,
    private readonly keys: StoreKeys,
  ) {
    defineScripts(redis);
  }

  /**
   * Counts one failure from the address; the seconds until it may try again when it is over the
   * limit, else undefined. A Redis hiccup lets the failure through as a plain 401.
   */
  async failed(address: string): Promise<number | undefined> {
    try {
      const [count, ttlMs] = await runScript<[number, number]>(this.redis, 'window-count', [this.keys.authFailures(address.slice(0, 64))], [WINDOW_MS]);
      return count > this.perMinute ? Math.max(1, Math.ceil(ttlMs / 1000)) : undefined;
    } catch {
      return undefined;
    }
  }
}
