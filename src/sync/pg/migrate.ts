import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

// The ledger's schema, versioned: plain numbered SQL files (migrations/NNNN_name.sql), each applied
// once, in its own transaction, and written down in schema_migrations. Several processes starting
// at once take turns on an advisory lock, so a migration is never applied twice; a database whose
// schema is newer than this code knows is refused, since this code would misread it.

export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** sha256 of the file: an applied migration whose file has changed since is refused */
  checksum: string;
}

export class SchemaTooNewError extends Error {
  override name = 'SchemaTooNewError';
  constructor(readonly databaseVersion: number, readonly knownVersion: number) {
    super(
      `the ledger database has schema version ${databaseVersion}, newer than this Gerbang knows (${knownVersion}): ` +
        'a newer Gerbang has migrated it. Run that version (or newer), or restore a backup taken before the upgrade; this one will not touch it.',
    );
  }
}

export class MigrationChangedError extends Error {
  override name = 'MigrationChangedError';
  constructor(readonly version: number, readonly file: string) {
    super(`migration ${file} was applied (schema version ${version}) but its file has changed since: migrations are never edited, add a new one`);
  }
}

export class ServerTooOldError extends Error {
  override name = 'ServerTooOldError';
  constructor(readonly serverVersion: string) {
    super(`the ledger needs PostgreSQL ${MIN_SERVER_VERSION / 10_000} or newer; this server is ${serverVersion}`);
  }
}

// gen_random_uuid() in the core, and the partitioning the schema uses
const MIN_SERVER_VERSION = 130_000;

/** Refuses a server older than the schema needs (server_version_num, e.g. 150020 for 15.20). */
export function checkServerVersion(versionNum: number, version: string): void {
  if (!(versionNum >= MIN_SERVER_VERSION)) throw new ServerTooOldError(version);
}

const DEFAULT_DIR = fileURLToPath(new URL('./migrations', import.meta.url));

// Any fixed 64-bit number will do, as long as it is Gerbang's alone on the database.
const LOCK_KEY = '7463512890123457';

/** The migrations in `dir`, in order; their numbers must run 1, 2, 3… with no gap or repeat. */
export function loadMigrations(dir = DEFAULT_DIR): Migration[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  return files.map((file, i) => {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) throw new Error(`${join(dir, file)}: a migration is named NNNN_words.sql`);
    const version = Number(m[1]);
    if (version !== i + 1) throw new Error(`${join(dir, file)}: expected migration ${i + 1} here (numbers run on with no gap)`);
    const sql = readFileSync(join(dir, file), 'utf8');
    return { version, name: file, sql, checksum: createHash('sha256').update(sql).digest('hex') };
  });
}

export interface MigrateResult {
  /** the versions this call applied (none when another process had done it) */
  applied: number[];
  version: number;
}

/** Brings the database up to the newest migration; safe to call from several processes at once. */
export async function migrate(pool: pg.Pool, migrations = loadMigrations()): Promise<MigrateResult> {
  const known = migrations.length;
  const client = await pool.connect();
  try {
    // session-level: held across the per-migration transactions below
    const server = await client.query<{ num: string; version: string }>(
      `SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version`,
    );
    checkServerVersion(Number(server.rows[0]?.num), server.rows[0]?.version ?? 'unknown');
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const done = await client.query<{ version: number; checksum: string }>('SELECT version, checksum FROM schema_migrations ORDER BY version');
      const current = done.rows.reduce((max, r) => Math.max(max, r.version), 0);
      if (current > known) throw new SchemaTooNewError(current, known);
      for (const row of done.rows) {
        const m = migrations[row.version - 1];
        if (m && m.checksum !== row.checksum) throw new MigrationChangedError(row.version, m.name);
      }
      const applied: number[] = [];
      for (const m of migrations.slice(current)) {
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new Error(`migration ${m.name} failed, nothing of it was applied: ${(err as Error).message}`, { cause: err });
        }
        applied.push(m.version);
      }
      return { applied, version: Math.max(current, known) };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

/**
 * Makes the monthly partitions from this month through `monthsAhead` months on, so that no
 * accepted record finds its month missing. Run at start-up and then daily; cheap when they exist.
 */
export async function ensurePartitions(pool: pg.Pool, monthsAhead = 3, now = new Date()): Promise<number> {
  const month = now.toISOString().slice(0, 7) + '-01';
  const res = await pool.query<{ made: number }>('SELECT ledger_ensure_partitions($1::date, $2) AS made', [month, monthsAhead]);
  return res.rows[0]?.made ?? 0;
}
