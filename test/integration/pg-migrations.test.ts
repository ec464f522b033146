import t from 'tap';
import pg from 'pg';
import { ensurePartitions, loadMigrations, migrate, MigrationChangedError, SchemaTooNewError } from '../../src/sync/pg/migrate.js';
import { startPostgres } from '../helpers/postgres-server.js';

// The ledger's schema against a real PostgreSQL (one server for this file, a fresh database per
// test): migrations apply once, in one transaction each, under a lock, and refuse a newer schema;
// the monthly partitions are made ahead and a dropped month takes its rows with it.

// every migration this Gerbang knows, and its schema version
const ALL = loadMigrations();
const LATEST = ALL[ALL.length - 1]!.version;
const VERSIONS = ALL.map((m) => m.version);
const server = await startPostgres();
const pools: pg.Pool[] = [];
t.teardown(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await server.stop();
});

function track(pool: pg.Pool): pg.Pool {
  // the crash test cuts the connections open then
  pool.on('error', () => {});
  pools.push(pool);
  return pool;
}

async function freshPool(): Promise<pg.Pool> {
  return track(new pg.Pool({ connectionString: await server.createDatabase(), max: 4 }));
}

let serial = 0;
const count = async (pool: pg.Pool, sql: string, params: unknown[] = []) => Number((await pool.query<{ n: string }>(sql, params)).rows[0]?.n);

const LEDGER_TABLES = [
  'record_keys', 'records', 'record_versions', 'record_payloads', 'upstream_states', 'upstream_resources', 'delivery_attempts',
  'outbox', 'replay_tasks', 'subject_history', 'status_counts', 'daily_counts', 'last_synced', 'latency_counts',
];

t.test('what was committed survives a crash of the server (SIGKILL), and the schema is still current', async (t) => {
  const url = await server.createDatabase();
  const before = track(new pg.Pool({ connectionString: url, max: 1 }));
  await migrate(before);
  await ensurePartitions(before, 1);
  // (first in this file, so the checkpoint and the recovery have few databases to sync) the record
  // is in the WAL only
  await before.query('CHECKPOINT');
  const id = await insertRecord(before, new Date().toISOString());
  await server.kill();
  await server.restart();
  const after = track(new pg.Pool({ connectionString: url, max: 1 }));
  t.same(await migrate(after), { applied: [], version: LATEST });
  t.equal(await count(after, 'SELECT count(*) AS n FROM upstream_states WHERE record_id = $1', [id]), 1);
});

t.test('migrations apply on an empty database, and a second run is a no-op', async (t) => {
  const pool = await freshPool();
  const first = await migrate(pool);
  t.same(first, { applied: VERSIONS, version: LATEST });
  const tables = await pool.query<{ relname: string }>(
    `SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') AND NOT relispartition`,
  );
  for (const name of LEDGER_TABLES) t.ok(tables.rows.some((r) => r.relname === name), `table ${name} exists`);
  const rows = await pool.query('SELECT version, name, checksum FROM schema_migrations ORDER BY version');
  t.same(rows.rows, ALL.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum })));
  t.same(rows.rows.slice(0, 1), [{ version: 1, name: '0001_ledger.sql', checksum: ALL[0]!.checksum }]);

  const second = await migrate(pool);
  t.same(second, { applied: [], version: LATEST });
  t.equal(await count(pool, 'SELECT count(*) AS n FROM schema_migrations'), ALL.length);
});

t.test('two runners starting at once: one applies, the other finds it done', async (t) => {
  const url = await server.createDatabase();
  const a = track(new pg.Pool({ connectionString: url, max: 2 }));
  const b = track(new pg.Pool({ connectionString: url, max: 2 }));
  const results = await Promise.all([migrate(a), migrate(b), migrate(a)]);
  t.same(results.flatMap((r) => r.applied).sort((x, y) => x - y), VERSIONS, 'each migration applied exactly once');
  t.ok(results.every((r) => r.version === LATEST));
  t.equal(await count(a, 'SELECT count(*) AS n FROM schema_migrations'), ALL.length);

  // and both make the months ahead at once: each month once, no "already exists"
  const made = await Promise.all([ensurePartitions(a, 2), ensurePartitions(b, 2), ensurePartitions(b, 2)]);
  t.equal(made.reduce((x, y) => x + y, 0), 7 * 3, 'seven partitioned tables, three months, each made once');
});

t.test('a database with a newer schema is refused, and left untouched', async (t) => {
  const pool = await freshPool();
  await migrate(pool);
  await pool.query(`INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, 'from_the_future.sql', 'x')`, [LATEST + 1]);
  const err = await migrate(pool).catch((e: unknown) => e);
  t.type(err, SchemaTooNewError);
  t.match((err as Error).message, new RegExp(`schema version ${LATEST + 1}, newer than this Gerbang knows \\(${LATEST}\\)`));
  t.equal(await count(pool, 'SELECT count(*) AS n FROM schema_migrations'), ALL.length + 1);
});

t.test('an applied migration whose file changed is refused', async (t) => {
  const pool = await freshPool();
  await migrate(pool);
  const edited = loadMigrations().map((m) => ({ ...m, checksum: m.checksum.replace(/^./, (c) => (c === '0' ? '1' : '0')) }));
  await t.rejects(migrate(pool, edited), MigrationChangedError);
});

t.test('a failing migration leaves nothing of itself behind', async (t) => {
  const pool = await freshPool();
  const broken = [...ALL, { version: LATEST + 1, name: 'broken.sql', checksum: 'b', sql: 'CREATE TABLE half_made (x int); SELECT no_such_function();' }];
  await t.rejects(migrate(pool, broken), /migration broken\.sql failed, nothing of it was applied/);
  t.same((await pool.query('SELECT version FROM schema_migrations ORDER BY version')).rows, VERSIONS.map((version) => ({ version })), 'the earlier migrations stay applied');
  t.equal(await count(pool, `SELECT count(*) AS n FROM pg_class WHERE relname = 'half_made'`), 0);
});

t.test('partitions: made ahead, UTC months, and a dropped month takes its rows with it', async (t) => {
  const pool = await freshPool();
  await migrate(pool);
  const now = new Date('2026-12-10T08:00:00Z');
  const made = await ensurePartitions(pool, 3, now);
  const partitioned = (await pool.query<{ relname: string }>(
    `SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE NOT c.relispartition ORDER BY 1`,
  )).rows.map((r) => r.relname);
  t.same(partitioned, ['daily_counts', 'delivery_attempts', 'record_payloads', 'record_versions', 'records', 'upstream_resources', 'upstream_states']);
  t.equal(made, partitioned.length * 4, 'this month and three ahead, for every partitioned table');
  for (const table of partitioned) {
    for (const month of ['y2026m12', 'y2027m01', 'y2027m03']) {
      t.equal(await count(pool, 'SELECT count(*) AS n FROM pg_class WHERE relname = $1', [`${table}_${month}`]), 1, `${table}_${month}`);
    }
  }
  t.equal(await ensurePartitions(pool, 3, now), 0, 'a second call makes none');

  // a month with no partition refuses the row rather than hiding it somewhere unmanaged
  await t.rejects(insertRecord(pool, '2031-06-01T00:00:00Z'), /no partition of relation "records" found/);

  // months are UTC months even when the session's time zone is not UTC
  const client = await pool.connect();
  try {
    await client.query(`SET TIME ZONE 'Asia/Jakarta'`);
    await client.query(`SELECT ledger_ensure_partitions('2025-01-01', 0)`);
  } finally {
    client.release();
  }
  const old = await insertRecord(pool, '2025-01-31T23:30:00Z');
  const oldest = await insertRecord(pool, '2025-01-01T00:00:00Z');
  const current = await insertRecord(pool, '2026-12-01T00:00:00Z');
  const partitionOf = async (id: string) => (await pool.query<{ p: string }>('SELECT tableoid::regclass::text AS p FROM records WHERE id = $1', [id])).rows[0]?.p;
  t.equal(await partitionOf(old), 'records_y2025m01', 'the last half hour of January (UTC) is January');
  t.equal(await partitionOf(oldest), 'records_y2025m01', 'its first instant too');
  t.equal(await partitionOf(current), 'records_y2026m12');

  await pool.query(`INSERT INTO status_counts (upstream, regency, puskesmas, posyandu, state, records) VALUES ('sandbox', 'R1', 'PK1', 'P1', 'synced', 3)`);
  await t.rejects(pool.query(`SELECT ledger_drop_record_months('2026-12-10')`), /not the first day of a month/);
  const dropped = (await pool.query<{ d: string }>(`SELECT ledger_drop_record_months('2026-12-01') AS d`)).rows.map((r) => r.d).sort();
  t.same(dropped, PER_RECORD.map((table) => `${table}_y2025m01`).sort(), 'only the month that ended before the cut-off, in every per-record table');
  for (const table of [...PER_RECORD, 'record_keys']) {
    const idColumn = table === 'records' || table === 'record_keys' ? 'id' : 'record_id';
    t.equal(await count(pool, `SELECT count(*) AS n FROM ${table} WHERE ${idColumn} = ANY($1)`, [[old, oldest]]), 0, `${table}: the old month's rows are gone`);
    t.equal(await count(pool, `SELECT count(*) AS n FROM ${table} WHERE ${idColumn} = $1`, [current]), 1, `${table}: the current month keeps its rows`);
  }
  t.equal(await count(pool, 'SELECT records AS n FROM status_counts'), 3, 'the counts stay');
  t.equal(await count(pool, `SELECT count(*) AS n FROM pg_class WHERE relname = 'daily_counts_y2025m01'`), 1, 'daily counts keep their own retention');
});

const PER_RECORD = ['delivery_attempts', 'record_payloads', 'record_versions', 'records', 'upstream_resources', 'upstream_states'];

async function insertRecord(pool: pg.Pool, receivedAt: string): Promise<string> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const id = (await client.query<{ id: string }>('SELECT gen_random_uuid() AS id')).rows[0]!.id;
    const sourceId = `r${++serial}`;
    await client.query(`INSERT INTO record_keys (id, source, source_record_id, posyandu, received_at) VALUES ($1, 'app', $2, 'P1', $3)`, [id, sourceId, receivedAt]);
    await client.query(
      `INSERT INTO records (id, received_at, source, source_record_id, kind, regency, puskesmas, posyandu, content_hash, updated_at, unsettled)
       VALUES ($1, $2, 'app', $3, 'gizi', 'R1', 'PK1', 'P1', 'h', $2, 1)`,
      [id, receivedAt, sourceId],
    );
    // one record's whole life, in every table that holds a part of it
    await client.query(`INSERT INTO record_versions (record_id, received_at, version, accepted_at, content_hash) VALUES ($1, $2, 1, $2, 'h')`, [id, receivedAt]);
    await client.query(`INSERT INTO record_payloads (record_id, received_at, version, record, bundle) VALUES ($1, $2, 1, '\\x00', '\\x00')`, [id, receivedAt]);
    await client.query(
      `INSERT INTO upstream_states (record_id, received_at, upstream, kind, regency, puskesmas, posyandu, subject, state, version, status, updated_at)
       VALUES ($1, $2, 'sandbox', 'gizi', 'R1', 'PK1', 'P1', 's1', 'synced', 1, '{}', $2)`,
      [id, receivedAt],
    );
    await client.query(
      `INSERT INTO upstream_resources (record_id, received_at, upstream, version, full_url, resource_type, resource_id, status)
       VALUES ($1, $2, 'sandbox', 1, 'urn:uuid:1', 'Observation', 'o1', '201 Created')`,
      [id, receivedAt],
    );
    await client.query(
      `INSERT INTO delivery_attempts (record_id, received_at, upstream, version, attempt, started_at, ended_at, result)
       VALUES ($1, $2, 'sandbox', 1, 1, $2, $2, 'synced')`,
      [id, receivedAt],
    );
    await client.query('COMMIT');
    return id;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}

