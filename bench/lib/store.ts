// Where a bench phase keeps its ledger: BENCH_STORE=postgres|redis. The bench never reads how a
// store keeps records (it learns states through the HTTP API); it only starts the servers, gives
// the gateway processes their URLs and `ledger.store`, and measures how much room the store takes
// (PostgreSQL: every relation of the ledger's schema; Redis: used_memory).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { startPostgres, type PostgresHandle } from '../../test/helpers/postgres-server.js';
import { startRedis, type RedisHandle } from '../../test/helpers/redis-server.js';
import { atSignal, isStopping } from './children.js';

export type StoreKind = 'postgres' | 'redis';

/** One phase's store: a fresh Redis (queues; the ledger too when kind is redis) and, for postgres, a fresh database. */
export interface LedgerStore {
  kind: StoreKind;
  redisUrl: string;
  databaseUrl?: string;
  /** what the gateway's configuration file gets for this store */
  config: Record<string, unknown>;
  /** PostgreSQL: bytes of every table, index and TOAST of the ledger's schema (partitions included); Redis: undefined */
  ledgerBytes(): Promise<number | undefined>;
  /** the same per table (a partitioned table's partitions with it); Redis: undefined */
  ledgerBytesByTable(): Promise<Record<string, number> | undefined>;
  /** Redis INFO memory used_memory */
  redisUsedMemory(): Promise<number>;
  /** a pool on the database, for the synthetic fill (postgres only) */
  pool(): pg.Pool;
  close(): Promise<void>;
}

export interface Stores {
  kind: StoreKind;
  /** why this store was chosen, for the first line of the run */
  why: string;
  fresh(): Promise<LedgerStore>;
  stop(): Promise<void>;
}

type LoadConfig = (env: Record<string, string | undefined>) => unknown;

/**
 * Whether this build takes `ledger.store: 'postgres'`: the configuration schema refuses a key it
 * does not know, so a build without the PostgreSQL ledger says so at loadConfig.
 */
export function postgresLedgerBuilt(loadConfig: LoadConfig): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-bench-probe-'));
  try {
    const path = join(dir, 'gerbang.json');
    writeFileSync(path, JSON.stringify({ dataDir: dir, upstreams: [{ name: 'o', kind: 'outbox', directory: join(dir, 'o') }], facilities: { puskesmas: {}, posyandu: {} }, ledger: { store: 'postgres' } }));
    loadConfig({ GERBANG_CONFIG: path, DATABASE_URL: 'postgres://bench@127.0.0.1:1/bench', REDIS_URL: 'redis://127.0.0.1:1' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The store BENCH_STORE asks for; without it, postgres when this build has that ledger, else redis. */
export function chooseStore(loadConfig: LoadConfig): { kind: StoreKind; why: string } {
  const asked = process.env.BENCH_STORE;
  const built = postgresLedgerBuilt(loadConfig);
  if (asked && asked !== 'postgres' && asked !== 'redis') throw new Error(`BENCH_STORE=${asked}: postgres or redis`);
  if (asked === 'postgres' && !built) {
    throw new Error('BENCH_STORE=postgres, but this build has no PostgreSQL ledger (its configuration refuses ledger.store); run with BENCH_STORE=redis');
  }
  if (asked) return { kind: asked as StoreKind, why: 'BENCH_STORE' };
  return built ? { kind: 'postgres', why: 'default' } : { kind: 'redis', why: 'default: this build has no PostgreSQL ledger (its configuration refuses ledger.store)' };
}

async function usedMemory(url: string): Promise<number> {
  const r = new Redis(url);
  try {
    return Number(/used_memory:(\d+)/.exec(await r.info('memory'))?.[1] ?? 0);
  } finally {
    r.disconnect();
  }
}

/** Bytes of every relation (tables, their partitions, indexes, TOAST) in the database's current schema. */
export async function schemaBytes(pool: pg.Pool): Promise<number> {
  // pg_total_relation_size of each ordinary table counts its indexes and TOAST; partitions are
  // ordinary tables of their own (a partitioned parent holds nothing itself).
  const { rows } = await pool.query<{ bytes: string }>(
    `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes
       FROM pg_class c
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'`,
  );
  return Number(rows[0]?.bytes ?? 0);
}

/** The same bytes per table, partitions counted with the table they belong to, largest first. */
export async function schemaBytesByTable(pool: pg.Pool): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ name: string; bytes: string }>(
    `SELECT coalesce(pg_partition_root(c.oid), c.oid)::regclass::text AS name, sum(pg_total_relation_size(c.oid))::bigint AS bytes
       FROM pg_class c
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
      GROUP BY 1 ORDER BY 2 DESC`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.bytes)]));
}

export async function openStores(loadConfig: LoadConfig): Promise<Stores> {
  const { kind, why } = chooseStore(loadConfig);
  const postgres: PostgresHandle | undefined = kind === 'postgres' ? await startPostgres() : undefined;
  // A build without `ledger` in its configuration refuses the key, even as 'redis'.
  const config = postgresLedgerBuilt(loadConfig) ? { ledger: { store: kind } } : {};
  const open: LedgerStore[] = [];
  const stop = async () => {
    for (const s of open.splice(0)) await s.close().catch(() => {});
    await postgres?.stop();
  };
  atSignal(stop);
  return {
    kind,
    why,
    fresh: async () => {
      if (isStopping()) throw new Error('bench: stopping');
      const redis: RedisHandle = await startRedis({ appendonly: true });
      // a signal while it started: the signal's clean-up has already run
      if (isStopping()) {
        await redis.stop();
        throw new Error('bench: stopping');
      }
      const databaseUrl = postgres ? await postgres.createDatabase() : undefined;
      let pool: pg.Pool | undefined;
      const poolOf = () => (pool ??= new pg.Pool({ connectionString: databaseUrl, max: 4 }));
      const store: LedgerStore = {
        kind,
        redisUrl: redis.url,
        ...(databaseUrl ? { databaseUrl } : {}),
        config,
        ledgerBytes: async () => (databaseUrl ? schemaBytes(poolOf()) : undefined),
        ledgerBytesByTable: async () => (databaseUrl ? schemaBytesByTable(poolOf()) : undefined),
        redisUsedMemory: () => usedMemory(redis.url),
        pool: () => {
          if (!databaseUrl) throw new Error('the redis store has no database');
          return poolOf();
        },
        close: async () => {
          const p = pool;
          pool = undefined;
          await p?.end();
          await redis.stop();
        },
      };
      open.push(store);
      return store;
    },
    stop,
  };
}
