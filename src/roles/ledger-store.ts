import { join } from 'node:path';
import { Cluster } from 'ioredis';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config, LedgerStoreKind } from '../config/types.js';
import type { RedisConnection } from '../runtime/redis-connections.js';
import { startPrivatePostgres, type PrivatePostgres } from '../runtime/private-postgres.js';
import type { Ledger } from '../sync/ledger.js';
import { ensurePartitions, migrate } from '../sync/pg/migrate.js';
import { PgLedger } from '../sync/pg/pg-ledger.js';
import { createPool, hostOf, untilAnswers } from '../sync/pg/pool.js';
import { unavailableOnOutage } from '../sync/pg/unreachable.js';
import type { StoreKeys } from '../sync/store/keys.js';
import { RedisLedger } from '../sync/store/redis-ledger.js';
import type { StoredPayload } from '../sync/stored-payload.js';

// The one place where the ledger's store is chosen and opened (`ledger.store`): every role gets its
// ledgers from here, so switching the store is the configuration, not the roles.

/** What uses a ledger: requests must fail fast when the store is away, delivery waits it out. */
export type LedgerUse = 'requests' | 'delivery';

export interface LedgerStore {
  kind: LedgerStoreKind;
  /**
   * A ledger for `use`. The Redis ledger runs on the connection given (the producer's for
   * requests, the workers' for delivery); the PostgreSQL one shares the pool whatever the
   * connection, and for requests answers store.unavailable when the server is away.
   */
  ledger(use: LedgerUse, redis: RedisConnection): Ledger;
  /** the pool of the PostgreSQL ledger (undefined for the Redis one) */
  pool: pg.Pool | undefined;
  /** the private PostgreSQL under the data directory, when DATABASE_URL is not set */
  privatePostgres: PrivatePostgres | undefined;
  /** readiness: what answers besides Redis (the PostgreSQL ledger: its server) */
  readiness: Array<{ name: string; ping(): Promise<void> }>;
  /** stops the daily partition upkeep and closes the pool; stops the private server only when asked (its owner) */
  close(opts: { stopPrivatePostgres: boolean }): Promise<void>;
}

// Partitions are made three months ahead; once a day keeps that true on a gateway that runs for months.
const PARTITIONS_EVERY_MS = 24 * 60 * 60 * 1000;

export async function openLedgerStore(config: Config, logger: Logger, payload: StoredPayload, keys: StoreKeys): Promise<LedgerStore> {
  if (config.ledger.store === 'redis') {
    if (config.database.url) logger.warn({ postgres: hostOf(config.database.url) }, 'ledger.store is "redis": DATABASE_URL (database.url) is not used');
    return {
      kind: 'redis',
      ledger: (_use, redis) => redisLedger(redis, keys, payload),
      pool: undefined,
      privatePostgres: undefined,
      readiness: [],
      close: async () => {},
    };
  }
  return openPostgres(config, logger, payload);
}

/**
 * The Redis ledger needs one server (its scripts name keys at run time); the configuration refuses
 * a cluster without the PostgreSQL ledger (src/config/redis-cluster.ts), so this only guards.
 */
function redisLedger(connection: RedisConnection, keys: StoreKeys, payload: StoredPayload): RedisLedger {
  if (connection instanceof Cluster) throw new Error("the Redis ledger does not run on a Redis Cluster: ledger.store must be 'postgres'");
  return new RedisLedger(connection, keys, payload);
}

async function openPostgres(config: Config, logger: Logger, payload: StoredPayload): Promise<LedgerStore> {
  const { url, privatePostgres } = await databaseFor(config, logger);
  const host = hostOf(url);
  const pool = createPool(url, config.database, logger);
  let timer: NodeJS.Timeout | undefined;
  try {
    await untilAnswers(pool, host);
    await migrateAtStart(url, config, logger, host);
    await ensurePartitions(pool);
    timer = setInterval(() => {
      ensurePartitions(pool).catch((err: unknown) => logger.error({ err }, 'postgres: making the partitions ahead failed (tried again tomorrow, or at the next start)'));
    }, PARTITIONS_EVERY_MS);
    timer.unref();
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  const shared = new PgLedger(pool, payload);
  const forRequests = unavailableOnOutage<Ledger>(shared);
  return {
    kind: 'postgres',
    ledger: (use) => (use === 'requests' ? forRequests : shared),
    pool,
    privatePostgres,
    readiness: [
      {
        name: 'postgres',
        ping: async () => {
          await pool.query('SELECT 1');
        },
      },
    ],
    close: async ({ stopPrivatePostgres }) => {
      clearInterval(timer);
      await pool.end();
      if (stopPrivatePostgres) await privatePostgres?.stop();
    },
  };
}

/**
 * The ledger's PostgreSQL: DATABASE_URL (or database.url), else the private server under the data
 * directory. A `gerbang worker` sharing the data directory takes over the server the serving
 * gateway started (its postmaster.pid and password file), as it does the private Redis.
 */
async function databaseFor(config: Config, logger: Logger): Promise<{ url: string; privatePostgres?: PrivatePostgres }> {
  if (config.database.url) {
    logger.info({ postgres: hostOf(config.database.url) }, 'ledger in PostgreSQL (DATABASE_URL)');
    return { url: config.database.url };
  }
  const dir = join(config.dataDir, 'postgres');
  const privatePostgres = await startPrivatePostgres(dir);
  logger.info(
    { postgres: hostOf(privatePostgres.url), dataDir: dir, reused: privatePostgres.reused, runAs: privatePostgres.runAs },
    privatePostgres.reused ? 'DATABASE_URL not set: took over the private PostgreSQL left running' : 'DATABASE_URL not set: started a private PostgreSQL (fsync on)',
  );
  return { url: privatePostgres.url, privatePostgres };
}

/** Migrations on a connection of their own: a long one must not meet the pool's statement_timeout. */
async function migrateAtStart(url: string, config: Config, logger: Logger, host: string): Promise<void> {
  const pool = createPool(url, { ...config.database, maxConnections: 1, statementTimeoutMs: 0 }, logger, 'gerbang-migrate');
  try {
    const result = await migrate(pool);
    logger.info({ postgres: host, schemaVersion: result.version, applied: result.applied }, result.applied.length > 0 ? 'ledger schema migrated' : 'ledger schema up to date');
  } finally {
    await pool.end();
  }
}
