import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

export class PostgresNotInstalledError extends Error {
  override name = 'PostgresNotInstalledError';
  constructor() {
    super(
      [
        'PostgreSQL was not found (no initdb in /usr/lib/postgresql/<version>/bin or on PATH), and DATABASE_URL is not set.',
        'Gerbang keeps its ledger of accepted records in PostgreSQL. Either install it:',
        '  Debian/Ubuntu:  sudo apt-get install -y postgresql',
        '  macOS:          brew install postgresql',
        'or point Gerbang at a running PostgreSQL:  DATABASE_URL=postgres://user:password@host:5432/gerbang npm start',
      ].join('\n'),
    );
  }
}

/**
 * The directory holding initdb and postgres: Debian's newest /usr/lib/postgresql/<version>/bin
 * (the version is whatever is installed), else the one on PATH (Homebrew, a source build).
 */
export function postgresBinDir(debian = '/usr/lib/postgresql'): string {
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => /^\d+$/.test(v) && existsSync(join(debian, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(debian, versions[0], 'bin');
  }
  const found = spawnSync('/bin/sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  const path = found.status === 0 ? found.stdout.trim() : '';
  if (path && existsSync(join(dirname(path), 'postgres'))) return dirname(path);
  throw new PostgresNotInstalledError();
}

/**
 * How the PostgreSQL binaries run as this process's user. initdb and postgres refuse to run as
 * root, and a gateway (or a CI job) often runs as root. Run as root, they are started in a user
 * namespace where root appears as an ordinary user (the `postgres` account's uid, or nobody's):
 * inside it the server is not root and accepts to start, while to the kernel it is still root, so
 * it can work in a data directory that is root's and 0700, and the files it writes stay root's.
 * Where user namespaces are forbidden (some container sandboxes), the fallback is the `postgres`
 * system account through runuser, which needs the cluster directory handed over to it and every
 * directory above reachable by it.
 */
export interface ServerUser {
  /** how it is done, for the log */
  how: 'self' | 'user-namespace' | 'runuser';
  /** the command line that runs `bin` (a name in postgresBinDir()) with `args` */
  command(binDir: string, bin: string, args: string[]): { file: string; args: string[] };
  /** makes `dir` (the temp or cluster directory) usable by the server's user */
  prepare(dir: string): void;
}

let chosen: ServerUser | undefined;

export function serverUser(): ServerUser {
  chosen ??= choose();
  return chosen;
}

function choose(): ServerUser {
  if (process.getuid?.() !== 0) {
    return { how: 'self', command: (binDir, bin, args) => ({ file: join(binDir, bin), args }), prepare: () => {} };
  }
  const account = accountIds('postgres') ?? accountIds('nobody') ?? { uid: 65534, gid: 65534 };
  const mapping = [`--map-user=${account.uid}`, `--map-group=${account.gid}`];
  if (spawnSync('unshare', [...mapping, 'true']).status === 0) {
    return {
      how: 'user-namespace',
      command: (binDir, bin, args) => ({ file: 'unshare', args: [...mapping, join(binDir, bin), ...args] }),
      prepare: () => {},
    };
  }
  if (!accountIds('postgres') || spawnSync('runuser', ['-u', 'postgres', '--', 'true']).status !== 0) {
    throw new Error(
      'PostgreSQL refuses to run as root, and neither a user namespace (unshare) nor the postgres account (runuser -u postgres) is available here: run Gerbang as an ordinary user, or set DATABASE_URL',
    );
  }
  return {
    how: 'runuser',
    command: (binDir, bin, args) => ({ file: 'runuser', args: ['-u', 'postgres', '--', join(binDir, bin), ...args] }),
    prepare: (dir) => {
      const done = spawnSync('chown', ['-R', 'postgres:', dir], { encoding: 'utf8' });
      if (done.status !== 0) throw new Error(`could not hand ${dir} to the postgres account: ${done.stderr.trim()}`);
      if (spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-w', dir]).status !== 0) {
        throw new Error(`the postgres account cannot reach ${dir} (a directory above it is closed to it): run Gerbang as an ordinary user, or set DATABASE_URL`);
      }
    },
  };
}

function accountIds(name: string): { uid: number; gid: number } | undefined {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}
