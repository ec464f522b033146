import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { serverUser } from './postgres-binaries.js';

// One PostgreSQL cluster of our own, on files we own: made by initdb, started with the settings
// Gerbang relies on, waited for, stopped. Used by the private server (private-postgres.ts) and by
// the tests' helper, so that both run PostgreSQL the same way.

const SUPERUSER = 'gerbang';

/**
 * initdb into `dataDir` (which must not exist yet) with `password` for the superuser `gerbang`;
 * `binDir` from postgresBinDir().
 */
export function initCluster(binDir: string, dataDir: string, password: string, opts: { sync?: boolean } = {}): void {
  const parent = join(dataDir, '..');
  const pwfile = join(parent, `.initdb-${process.pid}.pw`);
  writeFileSync(pwfile, password, { mode: 0o600 });
  try {
    const user = serverUser();
    user.prepare(parent);
    const { file, args } = user.command(binDir, 'initdb', [
      '-D', dataDir,
      '-U', SUPERUSER,
      `--pwfile=${pwfile}`,
      // passwords on every connection: a local user who is not us gets nothing from a socket either
      '--auth=scram-sha-256',
      '-E', 'UTF8',
      // byte-order collation: no dependence on the machine's locales, and the fastest sort
      '--no-locale',
      ...(opts.sync === false ? ['--no-sync'] : []),
    ]);
    const done = spawnSync(file, args, { encoding: 'utf8', cwd: parent });
    if (done.status !== 0) throw new Error(`initdb failed (${user.how}): ${(done.stderr || done.stdout || String(done.error)).trim()}`);
  } finally {
    rmSync(pwfile, { force: true });
  }
}

export interface ServerOptions {
  port: number;
  /** where the unix socket goes; '' for none (TCP on 127.0.0.1 only) */
  socketDir: string;
  logFile: string;
  /** further settings (-c name=value), e.g. a smaller shared_buffers in tests */
  settings?: Record<string, string>;
}

export interface RunningServer {
  /** resolves when the server process has exited (it does not keep this process up while awaited) */
  exited: Promise<void>;
  /** SIGKILL of the postmaster, as a crash */
  kill(): Promise<void>;
}

/** Starts the server on an existing cluster, listening on 127.0.0.1 only, fsync on. */
export function startServer(binDir: string, dataDir: string, opts: ServerOptions): RunningServer {
  const settings: Record<string, string> = {
    ...opts.settings,
    // last, so that no caller's settings can loosen them
    listen_addresses: '127.0.0.1',
    unix_socket_directories: opts.socketDir,
    // an accepted record is on disk before the 202: never trade that for speed
    fsync: 'on',
    synchronous_commit: 'on',
  };
  const args = ['-D', dataDir, '-p', String(opts.port)];
  for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);
  const { file, args: argv } = serverUser().command(binDir, 'postgres', args);
  const log = openSync(opts.logFile, 'a', 0o600);
  // Not tied to this process: a gateway killed with SIGKILL leaves it running, and the next one takes it over.
  const child = spawn(file, argv, { stdio: ['ignore', log, log], cwd: dataDir, detached: true });
  closeSync(log);
  child.unref();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    exited,
    kill: async () => {
      const pid = postmasterPid(dataDir) ?? child.pid;
      if (pid) signal(pid, 'SIGKILL');
      // polled, not awaited on `exited`: the child is unref'd and would not keep this process up
      await waitGone(pid);
    },
  };
}

/** The postmaster's pid and port from its postmaster.pid, while that file is there. */
export function postmasterInfo(dataDir: string): { pid: number; port: number } | undefined {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return Number.isInteger(pid) && pid > 0 && Number.isInteger(port) ? { pid, port } : undefined;
}

function postmasterPid(dataDir: string): number | undefined {
  return postmasterInfo(dataDir)?.pid;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

async function waitGone(pid: number | undefined, ms = 30_000): Promise<boolean> {
  if (!pid) return true;
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

/**
 * Stops the server on `dataDir` (ours or one taken over): a smart shutdown first (SIGTERM: it
 * waits for the sessions still closing, so a client that is ending sees no error), then, after
 * `smartMs`, fast (SIGINT: sessions are cut, a checkpoint is written), or immediate (SIGQUIT: no
 * checkpoint, for a cluster about to be deleted), SIGKILL if it has not gone 30 s later.
 */
export async function stopServer(dataDir: string, opts: { smartMs?: number; discard?: boolean } = {}): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (!pid) return;
  signal(pid, 'SIGTERM');
  if (await waitGone(pid, opts.smartMs ?? 5_000)) return;
  signal(pid, opts.discard ? 'SIGQUIT' : 'SIGINT');
  if (!(await waitGone(pid))) {
    signal(pid, 'SIGKILL');
    await waitGone(pid);
  }
}

/** Waits until `url` answers a query; fails early with the log's end if the server exits. */
export async function waitUntilReady(url: string, server: RunningServer, logFile: string, ms = 30_000): Promise<void> {
  let gone = false;
  void server.exited.then(() => (gone = true));
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`postgres exited at start-up; its log (${logFile}) ends with:\n${logTail(logFile)}`);
    if (await answers(url)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`postgres did not answer within ${ms / 1000} s; its log (${logFile}) ends with:\n${logTail(logFile)}`);
}

function logTail(logFile: string): string {
  return existsSync(logFile) ? readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-5).join('\n') : '';
}

/** Whether `url` takes a connection and answers; `check` may look at the server further. */
export async function answers(url: string, check?: (client: pg.Client) => Promise<boolean>): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return check ? await check(client) : true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export function urlOf(port: number, password: string, database: string): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}
