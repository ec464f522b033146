import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../src/runtime/private-redis.js';

export { freePort };

// A private redis-server for one test file: its own port and directory, never the machine's 6379.

export interface RedisHandle {
  port: number;
  url: string;
  dir: string;
  stop(): Promise<void>;
  /** SIGKILL, as a crash or an outage */
  kill(): Promise<void>;
  /** starts again on the same port and directory: the append-only file brings the data back */
  restart(): Promise<void>;
}

export async function startRedis(opts: { appendonly?: boolean; dir?: string; port?: number } = {}): Promise<RedisHandle> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error('redis-server is not installed: apt-get install -y redis-server');
  }
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'gerbang-redis-'));
  const port = opts.port ?? (await freePort());
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess;
  let exited: Promise<void>;

  const launch = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', opts.appendonly === false ? 'no' : 'yes',
        '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'],
      { stdio: 'ignore' },
    );
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const c = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      c.on('error', () => {});
      try {
        await c.connect();
        if ((await c.ping()) === 'PONG') return;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
        await new Promise((r) => setTimeout(r, 30));
      } finally {
        c.disconnect();
      }
    }
  };
  await launch();
  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };
  return {
    port,
    url,
    dir,
    stop: async () => {
      await signal('SIGTERM');
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
    kill: () => signal('SIGKILL'),
    restart: launch,
  };
}
