import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { loadMigrations } from '../../src/sync/pg/migrate.js';
import { serverUser } from '../../src/runtime/postgres-binaries.js';
import { isAlive, postmasterInfo } from '../../src/runtime/postgres-cluster.js';
import { isPostgresUnreachable } from '../../src/sync/pg/unreachable.js';
import { withChanges } from '../fixtures/records.js';
import { getJson, postJson, spawnGateway, startGateway, waitFor, withLedgerDatabase, writeTestConfig } from '../helpers/gateway.js';
import { startPostgres } from '../helpers/postgres-server.js';
import { freePort, startRedis } from '../helpers/redis-server.js';

// `ledger.store: 'postgres'` in the process roles: the private PostgreSQL started by `gerbang
// serve` (and said so in the log), its schema migrated at start-up, a `gerbang worker` on the same
// data directory reaching the same server, only its owner stopping it, and readiness failing fast
// while the server is away and recovering after, and ingest answering 503 at once with nothing
// accepted while it is away.

const redis = await startRedis();
t.teardown(() => redis.stop());

async function rows<R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

t.test('serve without DATABASE_URL: a private PostgreSQL, migrated at start-up; a worker shares it; only serve stops it', async (t) => {
  const cfg = writeTestConfig({ redisUrl: redis.url, ledgerStore: 'postgres' });
  // where user namespaces are forbidden, root runs the server as the postgres account, which must
  // pass through the directories above the cluster (postgres-binaries.ts)
  if (serverUser().how === 'runuser') chmodSync(cfg.dir, 0o711);
  const cluster = join(cfg.dir, 'postgres', 'cluster');
  t.teardown(() => {
    const info = postmasterInfo(cluster);
    if (info && isAlive(info.pid)) process.kill(info.pid, 'SIGQUIT');
    cfg.cleanup();
  });
  const env = { GERBANG_CONFIG: cfg.path, REDIS_URL: redis.url, HOST: '127.0.0.1', PORT: '0' };

  const gw = await spawnGateway(env);
  const startLine = gw.output().split('\n').find((l) => l.includes('DATABASE_URL not set'));
  t.ok(startLine, 'the log says the private server was started');
  const started = JSON.parse(startLine!) as { msg: string; postgres: string; reused: boolean; dataDir: string };
  t.equal(started.msg, 'DATABASE_URL not set: started a private PostgreSQL (fsync on)');
  t.match(started.postgres, /^127\.0\.0\.1:\d+$/, 'host and port only');
  t.equal(started.reused, false);
  t.equal(started.dataDir, join(cfg.dir, 'postgres'));
  const password = readFileSync(join(cfg.dir, 'postgres', 'postgres.password'), 'utf8').trim();
  t.notMatch(gw.output(), password, 'the password is not logged');
  const every = loadMigrations();
  const latest = every[every.length - 1]!.version;
  t.match(gw.output(), new RegExp(`"schemaVersion":${latest},"applied":\\[${every.map((m) => m.version).join(',')}\\],"msg":"ledger schema migrated"`));

  const url = `postgres://gerbang:${password}@${started.postgres}/gerbang`;
  const migrations = await rows<{ version: number; name: string }>(url, 'SELECT version, name FROM schema_migrations ORDER BY version');
  t.same(migrations, every.map((m) => ({ version: m.version, name: m.name })), 'every migration applied, in order');
  const now = new Date();
  const months = [0, 3].map((ahead) => {
    const m = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + ahead, 1));
    return `records_y${m.getUTCFullYear()}m${String(m.getUTCMonth() + 1).padStart(2, '0')}`;
  });
  const partitions = await rows<{ relname: string }>(url, `SELECT relname FROM pg_class WHERE relname IN ('${months.join("','")}') ORDER BY relname`);
  t.same(partitions.map((p) => p.relname), months, "this month's partition and the one three months ahead, made at start-up");

  const ready = await getJson(`${gw.url}/readyz`);
  t.equal(ready.status, 200);
  t.equal(ready.body.postgres, 'ok');
  t.equal(ready.body.redis, 'ok');

  const worker = await spawnGateway(env, ['worker']);
  await waitFor(() => /took over the private PostgreSQL left running/.test(worker.output()), 15_000, 'the worker reaching the private server');
  const taken = JSON.parse(worker.output().split('\n').find((l) => l.includes('took over the private PostgreSQL'))!) as { postgres: string; reused: boolean };
  t.equal(taken.postgres, started.postgres, 'the same server');
  t.equal(taken.reused, true);
  await waitFor(() => /worker started: delivering/.test(worker.output()), 15_000, 'the worker started');
  t.match(worker.output(), /ledger schema up to date/, 'the worker migrating nothing');
  worker.child.kill('SIGTERM');
  t.equal(await worker.exited, 0, 'the worker stops cleanly');
  t.equal((await getJson(`${gw.url}/readyz`)).status, 200, 'and leaves the server to serve');
  t.same(await rows(url, 'SELECT 1 AS one'), [{ one: 1 }]);

  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0, 'serve stops cleanly');
  const after = await rows(url, 'SELECT 1').then(() => undefined, (err: unknown) => err);
  t.ok(after && isPostgresUnreachable(after), 'serve stopped its private server');
  t.notOk(postmasterInfo(cluster), 'no postmaster left');
});

t.test('DATABASE_URL: readiness asks PostgreSQL, 503 store.unavailable within 3 s while it is away, back by itself', async (t) => {
  const server = await startPostgres();
  t.teardown(() => server.stop());
  const databaseUrl = await server.createDatabase();
  const gw = await startGateway({ redisUrl: redis.url, ledgerStore: 'postgres', databaseUrl });
  t.teardown(() => gw.close());
  t.match(gw.logs.join('\n'), /"postgres":"127\.0\.0\.1:\d+","msg":"ledger in PostgreSQL \(DATABASE_URL\)"/);
  t.notMatch(gw.logs.join('\n'), new URL(databaseUrl).password, 'the password is not logged');
  t.equal((await getJson(`${gw.url}/readyz`)).body.postgres, 'ok');

  // An administrator's terminate (57P01) of the pool's idle connections: the process lives on.
  await rows(databaseUrl, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'gerbang' AND pid <> pg_backend_pid()");
  await waitFor(async () => (await getJson(`${gw.url}/readyz`)).status === 200, 5_000, 'ready again on a new connection');
  t.match(gw.logs.join('\n'), /"code":"57P01".*"msg":"postgres: an idle connection was closed"/, 'heard and logged, not a crash');

  await server.kill();
  for (let i = 0; i < 3; i++) {
    const began = Date.now();
    const res = await fetch(`${gw.url}/readyz`);
    const took = Date.now() - began;
    const body = (await res.json()) as { resourceType: string; issue: Array<{ details: { coding: Array<{ code: string }> } }> };
    t.equal(res.status, 503);
    t.equal(body.resourceType, 'OperationOutcome');
    t.equal(body.issue[0]?.details.coding[0]?.code, 'store.unavailable');
    t.ok(res.headers.get('retry-after'), 'Retry-After');
    t.ok(took < 3_000, `answered in ${took} ms`);
  }
  await server.restart();
  await waitFor(async () => (await getJson(`${gw.url}/readyz`)).status === 200, 10_000, 'ready again after the restart');
});

t.test('ingest on PostgreSQL: 202 while it answers, a fast 503 and nothing accepted while it is away', async (t) => {
  const server = await startPostgres();
  t.teardown(() => server.stop());
  const databaseUrl = await server.createDatabase();
  const gw = await startGateway({ redisUrl: redis.url, ledgerStore: 'postgres', databaseUrl });
  t.teardown(() => gw.close());
  t.equal((await postJson(`${gw.url}/v1/records?source=pgwire`, withChanges({ recordId: 'PG-1' }))).status, 202);
  await server.kill();
  const began = Date.now();
  const res = await postJson(`${gw.url}/v1/records?source=pgwire`, withChanges({ recordId: 'PG-2' }));
  t.equal(res.status, 503);
  t.equal(res.body.issue[0].details.coding[0].code, 'store.unavailable');
  t.ok(Date.now() - began < 3_000, 'fast');
  await server.restart();
  const [count] = await rows<{ n: string }>(databaseUrl, "SELECT count(*) AS n FROM record_keys WHERE source_record_id = 'PG-2'");
  t.equal(count?.n, '0', 'nothing of it accepted');
});

t.test("a real server's terminate is an outage (57P01)", async (t) => {
  const server = await startPostgres();
  t.teardown(() => server.stop());
  const victim = new pg.Client({ connectionString: server.url });
  victim.on('error', () => {});
  await victim.connect();
  const pid = ((await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!).pid;
  const sleeping = victim.query('SELECT pg_sleep(10)').then(() => undefined, (err: unknown) => err);
  await waitFor(async () => (await rows<{ n: string }>(server.url, `SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ${pid} AND state = 'active'`))[0]?.n === '1', 5_000, 'the query running');
  await rows(server.url, `SELECT pg_terminate_backend(${pid})`);
  const err = (await sleeping) as { code?: string };
  t.equal(err?.code, '57P01');
  t.ok(isPostgresUnreachable(err));
  await victim.end().catch(() => {});
});

t.test('test helper: gateways on PostgreSQL without a URL get a fresh database each, on one server per test file', async (t) => {
  const a = await startGateway({ redisUrl: redis.url, ledgerStore: 'postgres', redis: { keyPrefix: 'a:', queuePrefix: 'qa' } });
  t.teardown(() => a.close());
  const b = await startGateway({ redisUrl: redis.url, ledgerStore: 'postgres', redis: { keyPrefix: 'b:', queuePrefix: 'qb' } });
  t.teardown(() => b.close());
  const [ua, ub] = [new URL(a.config.database.url!), new URL(b.config.database.url!)];
  t.equal(ua.host, ub.host, 'one server');
  t.not(ua.pathname, ub.pathname, 'two databases');
  for (const url of [ua, ub]) t.same(await rows(url.href, 'SELECT version FROM schema_migrations ORDER BY version'), loadMigrations().map((m) => ({ version: m.version })), `${url.pathname} migrated`);
  t.equal((await getJson(`${b.url}/readyz`)).body.postgres, 'ok');

  const spawned = writeTestConfig(await withLedgerDatabase({ redisUrl: redis.url, ledgerStore: 'postgres' }));
  t.teardown(() => spawned.cleanup());
  const written = JSON.parse(readFileSync(spawned.path, 'utf8')) as { ledger: { store: string }; database: { url: string } };
  t.equal(written.ledger.store, 'postgres');
  t.equal(new URL(written.database.url).host, ua.host, "a spawned gateway's file names a third database on the same server");
  t.not(new URL(written.database.url).pathname, ub.pathname);
});

t.test('DATABASE_URL naming a dead port: serve waits 15 s, then stops saying where, never with the password', async (t) => {
  const cfg = writeTestConfig({ redisUrl: redis.url, ledgerStore: 'postgres' });
  t.teardown(() => cfg.cleanup());
  const port = await freePort();
  const password = 'pw-never-in-a-log-0123456789';
  const began = Date.now();
  const failed = await spawnGateway({ GERBANG_CONFIG: cfg.path, REDIS_URL: redis.url, HOST: '127.0.0.1', PORT: '0', DATABASE_URL: `postgres://gerbang:${password}@127.0.0.1:${port}/gerbang` }).then(
    () => undefined,
    (err: unknown) => err as Error,
  );
  t.ok(failed, 'the gateway did not start');
  t.match(failed?.message, `PostgreSQL at 127.0.0.1:${port} did not answer within 15 s`);
  t.match(failed?.message, /ECONNREFUSED/);
  t.notMatch(failed?.message, password);
  t.ok(Date.now() - began < 25_000, 'and gave up');
});

t.test('ledger.store redis with a DATABASE_URL: the URL is not used, and the log says so', async (t) => {
  const gw = await startGateway({ redisUrl: redis.url, ledgerStore: 'redis', databaseUrl: 'postgres://gerbang:pw-unused-0123456789@127.0.0.1:1/gerbang' });
  t.teardown(() => gw.close());
  const logs = gw.logs.join('\n');
  t.match(logs, /"postgres":"127\.0\.0\.1:1","msg":"ledger.store is \\"redis\\": DATABASE_URL \(database.url\) is not used"/);
  t.notMatch(logs, 'pw-unused');
  const ready = await getJson(`${gw.url}/readyz`);
  t.equal(ready.status, 200, 'ready without PostgreSQL');
  t.equal(ready.body.postgres, undefined, 'and does not ask it');
});
