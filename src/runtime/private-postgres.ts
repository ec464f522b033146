import { existsSync, mkdirSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { secretIn } from './data-dir.js';
import { postgresBinDir, serverUser } from './postgres-binaries.js';
import { answers, initCluster, isAlive, postmasterInfo, startServer, stopServer, urlOf, waitUntilReady } from './postgres-cluster.js';
import { freePort } from './private-redis.js';

export { PostgresNotInstalledError } from './postgres-binaries.js';

const DATABASE = 'gerbang';

export interface PrivatePostgres {
  url: string;
  /** true when a server left running by an earlier (killed) gateway was taken over */
  reused: boolean;
  /** how the server runs as a non-root user when the gateway is root (postgres-binaries.ts) */
  runAs: 'self' | 'user-namespace' | 'runuser';
  stop(): Promise<void>;
}

/**
 * Starts a PostgreSQL that belongs to this gateway, for when no DATABASE_URL is given: its cluster
 * under `dir` (0700, as PostgreSQL itself requires), made once by initdb with a superuser password
 * generated once into `dir/postgres.password` (0600) and asked on every connection, listening on
 * 127.0.0.1 only and on no unix socket (so a long data directory path cannot break it), with fsync
 * on. The password reaches initdb through a file, never the command line, where `ps` would show it.
 * A server left running by a gateway that was killed is taken over (it is detached from us for
 * that reason) rather than a second one started on the same files. The database is `gerbang`.
 *
 * Run as root, initdb and postgres refuse to start; they run in a user namespace where root is an
 * ordinary user (falling back to the `postgres` account): see postgres-binaries.ts.
 */
export async function startPrivatePostgres(dir: string, opts: { installRoot?: string } = {}): Promise<PrivatePostgres> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const password = secretIn(join(dir, 'postgres.password'));
  const cluster = join(dir, 'cluster');
  const logFile = join(dir, 'postgres.log');

  const survivor = await findRunning(cluster, password);
  if (survivor) {
    await ensureDatabase(urlOf(survivor.port, password, 'postgres'));
    return { url: urlOf(survivor.port, password, DATABASE), reused: true, runAs: serverUser().how, stop: () => stopServer(cluster) };
  }

  const binDir = postgresBinDir(opts.installRoot);
  if (!existsSync(join(cluster, 'PG_VERSION'))) {
    // made aside and renamed when complete: a gateway killed during initdb leaves no half cluster
    const making = `${cluster}.initdb`;
    rmSync(making, { recursive: true, force: true });
    initCluster(binDir, making, password);
    renameSync(making, cluster);
  }
  const port = await freePort();
  const server = startServer(binDir, cluster, { port, socketDir: '', logFile });
  await waitUntilReady(urlOf(port, password, 'postgres'), server, logFile);
  await ensureDatabase(urlOf(port, password, 'postgres'));
  return { url: urlOf(port, password, DATABASE), reused: false, runAs: serverUser().how, stop: () => stopServer(cluster) };
}

/** The server a killed gateway left running on this cluster, if it still answers (and is ours). */
async function findRunning(cluster: string, password: string): Promise<{ port: number } | undefined> {
  const info = postmasterInfo(cluster);
  if (!info || !isAlive(info.pid)) return undefined;
  // Another program may have taken the port since: only a server on our own files will do.
  const ours = await answers(urlOf(info.port, password, 'postgres'), async (client) => {
    const res = await client.query<{ data_directory: string }>('SHOW data_directory');
    const running = res.rows[0]?.data_directory;
    return running !== undefined && existsSync(running) && realpathSync(running) === realpathSync(cluster);
  });
  return ours ? { port: info.port } : undefined;
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(DATABASE)}`).catch((err: { code?: string }) => {
        // two gateways starting at once on the same server: the other one made it
        if (err.code !== '42P04') throw err;
      });
    }
  } finally {
    await client.end();
  }
}
