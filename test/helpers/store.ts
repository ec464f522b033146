import type { Config } from '../../src/config/types.js';
import { storeKeys, type StoreKeys } from '../../src/sync/store/keys.js';

/** The store's keys as a gateway with this configuration names them. */
export function keysOf(config: Config): StoreKeys {
  return storeKeys(config.redis.keyPrefix, config.redis.queuePrefix);
}

/** Keys of their own for a test that runs the store's parts alone on a shared server. */
export function testKeys(name: string): StoreKeys {
  return storeKeys(`t-${name}:`, `t-${name}-q`);
}
