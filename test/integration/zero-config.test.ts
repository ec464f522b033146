import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Redis } from 'ioredis';
import { getJson, postJson, spawnGateway, waitFor } from '../helpers/gateway.js';
import { validAnthropometry } from '../fixtures/records.js';
import { startRedis } from '../helpers/redis-server.js';

/** One command over a bare socket (as any local program could), and the store's first answer line. */
function rawCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`${command}\r\n`));
    socket.once('data', (d) => {
      resolve(d.toString().split('\r\n')[0] ?? '');
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

// The README's quick start: no Redis or PostgreSQL running, no configuration.

t.test('no configuration: private PostgreSQL and Redis, outbox upstream, demo registry, loopback only', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gerbang-zero-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const g = await spawnGateway({ GERBANG_DATA_DIR: dataDir, PORT: '0' });
  t.match(g.url, /^http:\/\/127\.0\.0\.1:/, 'bound to 127.0.0.1');
  t.match(g.output(), /starting without GERBANG_CONFIG/, 'says what it chose');
  t.match(g.output(), /started a private redis-server/);
  t.match(g.output(), /DATABASE_URL not set: started a private PostgreSQL/, 'the ledger in a private PostgreSQL under the data dir');
  t.match(g.output(), /ledger schema migrated/);

  const res = await postJson(`${g.url}/v1/records`, validAnthropometry);
  t.equal(res.status, 202);
  const rec = await waitFor(async () => {
    const r = await getJson(`${g.url}/v1/records/${res.body.id}`);
    return r.body.status === 'synced' ? r.body : undefined;
  }, 15_000, 'synced to the outbox');
  t.equal(rec.upstreams.outbox.state, 'synced');
  const files = readdirSync(join(dataDir, 'outbox'));
  t.same(files, [`${res.body.id}.v1.json`], 'one file, no temporary leftovers');
  const bundle = JSON.parse(readFileSync(join(dataDir, 'outbox', files[0]!), 'utf8'));
  t.equal(bundle.resourceType, 'Bundle');
  t.ok(existsSync(join(dataDir, 'redis', 'appendonlydir')), 'Redis keeps an append-only file under the data dir');
  t.ok(existsSync(join(dataDir, 'postgres')), 'PostgreSQL keeps its cluster under the data dir');
  const pgPassword = readFileSync(join(dataDir, 'postgres', 'postgres.password'), 'utf8').trim();
  t.notMatch(g.output(), pgPassword, "PostgreSQL's password is not logged");

  // At rest: only the service's user reads the data; the private Redis wants a password.
  const open = (p: string) => statSync(p).mode & 0o077;
  const everything = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [join(dir, e.name), ...everything(join(dir, e.name))] : [join(dir, e.name)]));
  const paths = [dataDir, ...everything(dataDir)];
  t.ok(paths.some((p) => p.includes('appendonlydir') && p.endsWith('.aof')), 'the append-only files are among them');
  t.same(paths.filter((p) => open(p) !== 0), [], `${paths.length} files and directories, none readable by group or others`);
  t.equal(statSync(join(dataDir, 'redis', 'redis.password')).mode & 0o777, 0o600, 'the password file is 0600');
  const password = readFileSync(join(dataDir, 'redis', 'redis.password'), 'utf8').trim();
  t.ok(password.length >= 32, 'a generated password');
  t.notMatch(g.output(), password, 'the password is not logged');
  const port = readFileSync(join(dataDir, 'redis', 'redis.port'), 'utf8').trim();
  t.match(await rawCommand(Number(port), 'LRANGE g:inbox 0 -1'), /^-NOAUTH/, 'without the password the store answers nothing');
  const owner = new Redis(Number(port), '127.0.0.1', { password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  await owner.connect();
  const [, maxmemory] = (await owner.config('GET', 'maxmemory')) as [string, string];
  const [, policy] = (await owner.config('GET', 'maxmemory-policy')) as [string, string];
  t.ok(Number(maxmemory) >= 64 * 1024 * 1024, `the private Redis has a maxmemory (${Number(maxmemory) / 1048576} MiB)`);
  t.equal(policy, 'noeviction');
  owner.disconnect();

  g.child.kill('SIGTERM');
  t.equal(await g.exited, 0);
  const probe = new Redis(Number(port), '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => {});
  await t.rejects(probe.connect(), 'the private redis-server stopped with the gateway');
  probe.disconnect();
  const postmaster = readdirSync(join(dataDir, 'postgres'), { recursive: true }).map(String).filter((f) => f.endsWith('postmaster.pid'));
  t.same(postmaster, [], 'the private PostgreSQL stopped with the gateway');
});

t.test('a private Redis left running without a password (0.3.x, killed) is taken over and given one', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gerbang-zero-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  mkdirSync(join(dataDir, 'redis'));
  const left = await startRedis({ dir: join(dataDir, 'redis') });
  t.teardown(() => left.stop());
  writeFileSync(join(dataDir, 'redis', 'redis.port'), String(left.port));
  t.match(await rawCommand(left.port, 'PING'), /^\+PONG/, 'it answers anyone before');
  const g = await spawnGateway({ GERBANG_DATA_DIR: dataDir, PORT: '0' });
  t.match(g.output(), /took over the private redis-server/);
  t.equal((await postJson(`${g.url}/v1/records`, validAnthropometry)).status, 202, 'the gateway works on it');
  t.match(await rawCommand(left.port, 'PING'), /^-NOAUTH/, 'and now it wants the password');
  g.child.kill('SIGTERM');
  t.equal(await g.exited, 0);
});

t.test('redis-server missing: says how to install it and exits non-zero', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gerbang-zero-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  await t.rejects(spawnGateway({ GERBANG_DATA_DIR: dataDir, PORT: '0', PATH: '/nonexistent' }), /apt-get install -y redis-server/);
});
