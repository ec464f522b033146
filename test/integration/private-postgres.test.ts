import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { serverUser } from '../../src/runtime/postgres-binaries.js';
import { isAlive, postmasterInfo } from '../../src/runtime/postgres-cluster.js';
import { PostgresNotInstalledError, startPrivatePostgres } from '../../src/runtime/private-postgres.js';

// The gateway's own PostgreSQL, for when no DATABASE_URL is given, in a temp data directory: made
// once, closed to other users, password-protected, loopback only, taken over after a kill, kept
// across restarts; and a plain "install it" when PostgreSQL is missing.

const dataDir = mkdtempSync(join(tmpdir(), 'gerbang-private-pg-'));
const dir = join(dataDir, 'postgres');
const cluster = join(dir, 'cluster');
// where user namespaces are forbidden, root runs the server as the postgres account, which must
// be able to pass through the directories above the cluster (postgres-binaries.ts)
if (serverUser().how === 'runuser') chmodSync(dataDir, 0o711);
t.teardown(async () => {
  const info = postmasterInfo(cluster);
  if (info && isAlive(info.pid)) process.kill(info.pid, 'SIGQUIT');
  rmSync(dataDir, { recursive: true, force: true });
});

async function query<R extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

const mode = (path: string) => statSync(path).mode & 0o777;

let firstUrl = '';

t.test('first start: a cluster of our own, closed, password-protected, loopback only, fsync on', async (t) => {
  const pgs = await startPrivatePostgres(dir);
  firstUrl = pgs.url;
  t.equal(pgs.reused, false);
  t.equal(pgs.runAs, serverUser().how);
  t.ok(process.getuid?.() === 0 ? pgs.runAs !== 'self' : pgs.runAs === 'self', 'as root, never as root');
  t.equal(mode(dir), 0o700);
  t.equal(mode(cluster), 0o700);
  const passwordFile = join(dir, 'postgres.password');
  t.equal(mode(passwordFile), 0o600);
  const password = readFileSync(passwordFile, 'utf8');
  t.match(password, /^[0-9a-f]{64}$/);
  t.notOk(existsSync(`${cluster}.initdb`), 'no half-made cluster left aside');
  t.notOk(process.argv.join(' ').includes(password));

  const url = new URL(pgs.url);
  t.equal(url.hostname, '127.0.0.1');
  t.equal(url.pathname, '/gerbang');
  const [settings] = await query<{ listen: string; sockets: string; fsync: string; db: string }>(
    pgs.url,
    `SELECT current_setting('listen_addresses') AS listen, current_setting('unix_socket_directories') AS sockets,
            current_setting('fsync') AS fsync, current_database() AS db`,
  );
  t.same(settings, { listen: '127.0.0.1', sockets: '', fsync: 'on', db: 'gerbang' });
  await query(pgs.url, 'CREATE TABLE kept (v text)');
  await query(pgs.url, `INSERT INTO kept VALUES ('before the kill')`);

  const wrong = new URL(pgs.url);
  wrong.password = 'not-the-password';
  await t.rejects(query(wrong.toString(), 'SELECT 1'), /password authentication failed/);
  wrong.password = '';
  await t.rejects(query(wrong.toString(), 'SELECT 1'), /password/);
  // the server is left running, as a gateway killed now would leave it
});

t.test('a server left running by a killed gateway is taken over, not started twice', async (t) => {
  // a gateway process that starts it and is then killed with SIGKILL
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
    `import { startPrivatePostgres } from ${JSON.stringify(join(process.cwd(), 'src/runtime/private-postgres.ts'))};
     const p = await startPrivatePostgres(${JSON.stringify(dir)});
     console.log(JSON.stringify({ url: p.url, reused: p.reused }));
     setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += String(d);
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`child exited ${code} before answering`)));
  });
  const fromChild = JSON.parse(line) as { url: string; reused: boolean };
  t.same(fromChild, { url: firstUrl, reused: true }, 'the child took over the running server too');
  const pidBefore = postmasterInfo(cluster)?.pid;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));

  const again = await startPrivatePostgres(dir);
  t.equal(again.reused, true);
  t.equal(again.url, firstUrl);
  t.equal(postmasterInfo(cluster)?.pid, pidBefore, 'the same server process');
  t.same(await query(again.url, 'SELECT v FROM kept'), [{ v: 'before the kill' }]);

  await again.stop();
  t.notOk(pidBefore !== undefined && isAlive(pidBefore), 'stop ends the server taken over');
});

t.test('after a clean stop, the next start runs the same cluster: same password, data kept', async (t) => {
  const pgs = await startPrivatePostgres(dir);
  t.equal(pgs.reused, false);
  t.equal(new URL(pgs.url).password, new URL(firstUrl).password);
  t.same(await query(pgs.url, 'SELECT v FROM kept'), [{ v: 'before the kill' }]);
  await pgs.stop();
  t.notOk(postmasterInfo(cluster), 'no server left');
});

t.test('PostgreSQL not installed: a clear "install it" error, nothing made', async (t) => {
  const elsewhere = join(dataDir, 'no-postgres');
  const path = process.env.PATH;
  process.env.PATH = join(dataDir, 'empty-bin');
  try {
    const err = await startPrivatePostgres(elsewhere, { installRoot: join(dataDir, 'no-such-root') }).catch((e: unknown) => e);
    t.type(err, PostgresNotInstalledError);
    t.match((err as Error).message, /apt-get install -y postgresql/);
    t.match((err as Error).message, /DATABASE_URL=postgres:\/\//);
  } finally {
    process.env.PATH = path;
  }
  t.notOk(existsSync(join(elsewhere, 'cluster')));
});
