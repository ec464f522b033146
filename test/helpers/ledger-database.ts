import pg from 'pg';
import t from 'tap';
import type { LedgerStoreKind } from '../../src/config/types.js';
import { ensurePartitions, migrate } from '../../src/sync/pg/migrate.js';
import { startPostgres, type PostgresHandle } from './postgres-server.js';

// The ledger's PostgreSQL for the gateways of one test file: one server per file, started when
// the first gateway needs it and stopped when the file ends (after the gateways, since tap runs
// teardowns last-registered first), and a fresh, empty database for each gateway, so that no test
// sees another's records.

/**
 * The store the test gateways keep their ledger in when a test does not say: GERBANG_TEST_LEDGER
 * (`postgres` or `redis`), else the configuration's default. To run every integration test on
 * PostgreSQL, set it (or change this line).
 */
export const testLedgerStore: LedgerStoreKind | undefined = parseStore(process.env.GERBANG_TEST_LEDGER);

let server: Promise<PostgresHandle> | undefined;

/** The PostgreSQL server of this test file (started on first use). */
export function ledgerServer(): Promise<PostgresHandle> {
  server ??= startPostgres().then((pg) => {
    t.teardown(() => pg.stop());
    return pg;
  });
  return server;
}

/** A fresh database on this test file's server: the DATABASE_URL of one gateway. */
export async function freshLedgerDatabase(): Promise<string> {
  return (await ledgerServer()).createDatabase();
}

/**
 * A pool on a fresh database of this test file's server (or on `url`), migrated as the gateway
 * migrates at start-up, with `months` monthly partitions from `partitionsFrom` when given. It is
 * ended when the file ends, before the server stops.
 */
export async function migratedPool(opts: { max?: number; url?: string; partitionsFrom?: Date; months?: number } = {}): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: opts.url ?? (await freshLedgerDatabase()), max: opts.max ?? 4 });
  // a test that kills the server leaves idle connections to fail; the pool must not throw for them
  pool.on('error', () => {});
  t.teardown(() => pool.end());
  await migrate(pool);
  if (opts.partitionsFrom) await ensurePartitions(pool, opts.months ?? 1, opts.partitionsFrom);
  return pool;
}

function parseStore(value: string | undefined): LedgerStoreKind | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'postgres' || value === 'redis') return value;
  throw new Error(`GERBANG_TEST_LEDGER=${value}: expected postgres or redis`);
}
