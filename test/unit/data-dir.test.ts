import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { closeDirectory, secretIn } from '../../src/runtime/data-dir.js';

const root = mkdtempSync(join(tmpdir(), 'gerbang-datadir-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const mode = (p: string) => statSync(p).mode & 0o777;

t.test('a data directory an earlier version left readable to all is closed at start', async (t) => {
  const dir = join(root, 'data');
  mkdirSync(join(dir, 'redis', 'appendonlydir'), { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'redis', 'appendonlydir', 'appendonly.aof.1.incr.aof'), 'x', { mode: 0o644 });
  writeFileSync(join(dir, 'kept.json'), '{}', { mode: 0o600 });
  closeDirectory(dir);
  t.equal(mode(dir), 0o700);
  t.equal(mode(join(dir, 'redis')), 0o700);
  t.equal(mode(join(dir, 'redis', 'appendonlydir')), 0o700);
  t.equal(mode(join(dir, 'redis', 'appendonlydir', 'appendonly.aof.1.incr.aof')), 0o600);
  t.equal(mode(join(dir, 'kept.json')), 0o600);
  closeDirectory(join(root, 'new', 'outbox'));
  t.equal(mode(join(root, 'new', 'outbox')), 0o700, 'a missing directory is made 0700');
});

t.test('a secret is generated once, kept 0600, and read back the same', async (t) => {
  const file = join(root, 'secrets', 'history.key');
  const first = secretIn(file);
  t.match(first, /^[0-9a-f]{64}$/);
  t.equal(mode(file), 0o600);
  t.equal(secretIn(file), first, 'the same secret on the next start');
  writeFileSync(join(root, 'secrets', 'empty.key'), '');
  t.throws(() => secretIn(join(root, 'secrets', 'empty.key')), /no usable secret/);
});

t.test('processes starting at once agree on one secret, and none reads it half written', async (t) => {
  const { spawn } = await import('node:child_process');
  const file = join(root, 'race', 'history.key');
  const url = new URL('../../src/runtime/data-dir.ts', import.meta.url).href;
  const one = () =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', `import(${JSON.stringify(url)}).then((m) => process.stdout.write(m.secretIn(${JSON.stringify(file)})))`]);
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(err))));
    });
  const secrets = await Promise.all(Array.from({ length: 6 }, one));
  t.equal(new Set(secrets).size, 1, 'six processes, one secret');
  t.match(secrets[0], /^[0-9a-f]{64}$/);
  const { readdirSync } = await import('node:fs');
  t.same(readdirSync(join(root, 'race')), ['history.key'], 'no file of a process left behind');
});
