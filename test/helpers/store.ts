import { Redis } from 'ioredis';
import pg from 'pg';
import type { Ledger } from '../../src/sync/ledger.js';
import { PgLedger } from '../../src/sync/pg/pg-ledger.js';
import { RedisLedger } from '../../src/sync/store/redis-ledger.js';
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

/**
 * The ledger of a gateway with this configuration, opened beside it (Redis or PostgreSQL, as its
 * `ledger.store` says), for a test that reads states while the gateway runs or after it stopped.
 */
export async function openLedgerOf(config: Config): Promise<{ ledger: Ledger; close(): Promise<void> }> {
  if (config.ledger.store === 'postgres') {
    if (!config.database.url) throw new Error('openLedgerOf: the test gateway has no database.url (use withLedgerDatabase)');
    const pool = new pg.Pool({ connectionString: config.database.url, max: 2 });
    return { ledger: new PgLedger(pool, payloadOf(config)), close: () => pool.end() };
  }
  const redis = new Redis(config.redisUrl ?? '');
  return { ledger: new RedisLedger(redis, keysOf(config), payloadOf(config)), close: async () => redis.disconnect() };
}
