import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../src/runtime/private-redis.js';
import { postgresBinDir } from '../../src/runtime/postgres-binaries.js';
import { initCluster, startServer, stopServer, urlOf, waitUntilReady, type RunningServer } from '../../src/runtime/postgres-cluster.js';

// A real PostgreSQL for one test file: its own cluster in a temp directory, its own free port on
// 127.0.0.1 and its unix socket in that directory, never the machine's 5432. fsync stays on (the
// tests measure what production does); only initdb skips its final sync, since a cluster made for
// one test file need not survive a power cut. Run as root, the server runs as described in
// src/runtime/postgres-binaries.ts.

export interface PostgresHandle {
  port: number;
  /** connection URL of the `postgres` database, as the superuser */
  url: string;
  dir: string;
  /** a fresh, empty database on this server: each test that needs a clean slate takes one */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
  /** SIGKILL of the postmaster, as a crash */
  kill(): Promise<void>;
  /** starts again on the same port and files */
  restart(): Promise<void>;
}

export async function startPostgres(): Promise<PostgresHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const password = randomBytes(16).toString('hex');
  const binDir = postgresBinDir();
  initCluster(binDir, dataDir, password, { sync: false });
  const port = await freePort();
  const url = urlOf(port, password, 'postgres');
  let server: RunningServer;
  let databases = 0;
  const launch = async () => {
    // several helpers share the machine: a small server is enough for a test file
    server = startServer(binDir, dataDir, { port, socketDir: dir, logFile, settings: { shared_buffers: '16MB', max_connections: '50' } });
    await waitUntilReady(url, server, logFile);
  };
  await launch();
  return {
    port,
    url,
    dir,
    createDatabase: async (name = `t${process.pid}_${++databases}`) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      return urlOf(port, password, name);
    },
    stop: async () => {
      // the files are deleted next: no shutdown checkpoint (seconds of fsync for nothing)
      await stopServer(dataDir, { smartMs: 300, discard: true });
      rmSync(dir, { recursive: true, force: true });
    },
    kill: () => server.kill(),
    restart: launch,
  };
}
