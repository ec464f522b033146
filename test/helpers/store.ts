import type { Config } from '../../src/config/types.js';
import { payloadKeyRing } from '../../src/roles/payload-keys.js';
import { PayloadCipher } from '../../src/sync/payload-cipher.js';
import { storeKeys, type StoreKeys } from '../../src/sync/store/keys.js';
import { StoredPayload } from '../../src/sync/stored-payload.js';

/** The store's keys as a gateway with this configuration names them. */
export function keysOf(config: Config): StoreKeys {
  return storeKeys(config.redis.keyPrefix, config.redis.queuePrefix);
}

/** Keys of their own for a test that runs the store's parts alone on a shared server. */
export function testKeys(name: string): StoreKeys {
  return storeKeys(`t-${name}:`, `t-${name}-q`);
}

/** The sealing of stored payloads a gateway with this configuration uses (its key ring). */
export function payloadOf(config: Config): StoredPayload {
  return new StoredPayload(new PayloadCipher(payloadKeyRing(config).ring));
}

/** A sealing of its own for a test that runs the store's parts alone. */
export function testPayload(): StoredPayload {
  return new StoredPayload(new PayloadCipher({ current: 'test', keys: { test: 'ab'.repeat(32) } }));
}
