import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { secretIn } from './data-dir.js';

export class RedisNotInstalledError extends Error {
  override name = 'RedisNotInstalledError';
  constructor() {
    super(
      [
        'redis-server was not found, and REDIS_URL is not set.',
        'Gerbang needs Redis to keep accepted records safe. Either install it:',
        '  Debian/Ubuntu:  sudo apt-get install -y redis-server',
        '  macOS:          brew install redis',
        'or point Gerbang at a running Redis:  REDIS_URL=redis://host:6379 npm start',
      ].join('\n'),
    );
  }
}

export interface PrivateRedis {
  url: string;
  /** true when a server left running by an earlier (killed) gateway was taken over */
  reused: boolean;
  stop(): Promise<void>;
}

/**
 * Starts a redis-server that belongs to this gateway: data under `dir` with the append-only file on
 * (an accepted record survives a crash), noeviction (BullMQ must never lose keys), a memory cap
 * (`maxmemoryMb`: a flood fills the store, not the machine; ingest stops before it, see
 * StorePressure), loopback only, and a password generated once into `dir/redis.password` (0600):
 * another local user can neither read the files nor talk to the server. The password goes in a
 * configuration file, not on the command line, where `ps` would show it. If a gateway was killed
 * and left its server running, that server is taken over rather than a second one being started
 * on the same files.
 */
export async function startPrivateRedis(dir: string, opts: { maxmemoryMb: number }): Promise<PrivateRedis> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const password = secretIn(join(dir, 'redis.password'));
  const portFile = join(dir, 'redis.port');
  const survivor = await findRunning(portFile, dir, password);
  if (survivor) {
    await applySettings(survivor.url, opts.maxmemoryMb, password);
    return { url: survivor.url, reused: true, stop: () => shutdown(survivor.url) };
  }

  if (spawnSync('redis-server', ['--version']).error) throw new RedisNotInstalledError();
  const confFile = join(dir, 'redis.conf');
  writeFileSync(confFile, `requirepass ${password}\n`, { mode: 0o600 });
  const port = await freePort();
  const child = spawn(
    'redis-server',
    [
      confFile,
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--appendonly', 'yes',
      '--appendfsync', 'everysec',
      '--save', '',
      '--maxmemory-policy', 'noeviction',
      '--maxmemory', `${opts.maxmemoryMb}mb`,
      '--logfile', 'redis.log',
      '--pidfile', join(dir, 'redis.pid'),
    ],
    { stdio: 'ignore' },
  );
  const url = urlOf(port, password);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await waitUntilReady(url, exited, join(dir, 'redis.log'));
  writeFileSync(portFile, String(port));
  return { url, reused: false, stop: () => stopChild(child, exited) };
}

function urlOf(port: number | string, password: string): string {
  return `redis://:${password}@127.0.0.1:${port}`;
}

/** The server a killed gateway left running on these files, if it still answers (and is ours). */
async function findRunning(portFile: string, dir: string, password: string): Promise<{ url: string } | undefined> {
  if (!existsSync(portFile)) return undefined;
  const url = urlOf(readFileSync(portFile, 'utf8').trim(), password);
  return (await answers(url, dir)) ? { url } : undefined;
}

/**
 * A server taken over gets the cap this configuration asks for, and the password (one left running
 * by a gateway of 0.3.x had none; the connections it has stay authenticated).
 */
async function applySettings(url: string, mb: number, password: string): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.config('SET', 'maxmemory', `${mb}mb`);
    await client.config('SET', 'maxmemory-policy', 'noeviction');
    await client.config('SET', 'requirepass', password);
  } finally {
    client.disconnect();
  }
}

async function answers(url: string, expectedDir?: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  client.on('error', () => {});
  try {
    await client.connect();
    if ((await client.ping()) !== 'PONG') return false;
    if (!expectedDir) return true;
    // Another program may have taken the port since: only a server on our own files will do.
    const [, runningDir] = (await client.config('GET', 'dir')) as [string, string];
    return realpathSync(runningDir) === realpathSync(expectedDir);
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

async function waitUntilReady(url: string, exited: Promise<number | null>, logFile: string): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (gone) {
      const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-5).join('\n') : '';
      throw new Error(`redis-server exited at start-up; its log (${logFile}) ends with:\n${tail}`);
    }
    if (await answers(url)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not answer within 15 s (${logFile})`);
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null) return;
  // SIGTERM makes Redis flush the append-only file and exit cleanly.
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function shutdown(url: string): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.call('SHUTDOWN');
  } catch {
    // SHUTDOWN closes the connection instead of answering.
  } finally {
    client.disconnect();
  }
}

/** A port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
