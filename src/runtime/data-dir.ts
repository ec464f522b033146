import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

// Gerbang's files hold names and NIKs (Redis' append-only file, the outbox's Bundles): only the
// service's own user may read them. New files get it from the umask (inherited by the private
// redis-server); directories and files an earlier version made readable to all are closed at start.

/** Files made by this process and its children: 0600, directories 0700. */
export function privateUmask(): void {
  process.umask(0o077);
}

/** Makes `dir` (created if need be) and everything under it readable by this user only. */
export function closeDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  closeTree(dir);
}

function closeTree(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return; // not ours to change
  if (st.isDirectory()) {
    if ((st.mode & 0o077) !== 0) chmodSync(path, 0o700);
    for (const name of readdirSync(path)) closeTree(join(path, name));
  } else if ((st.mode & 0o077) !== 0) {
    chmodSync(path, 0o600);
  }
}

/**
 * A secret kept in a file (mode 0600): read when it exists, otherwise generated once (32 random
 * bytes, hex). Two processes starting at once agree: the secret is written whole to a file of this
 * process's own, then linked into place, which fails when the file exists; so the one that loses
 * the race reads the winner's, and never a file still being written.
 */
export function secretIn(file: string): string {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  if (!existsSync(file)) {
    const mine = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(mine, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    try {
      linkSync(mine, file);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(mine);
    }
  }
  const secret = readFileSync(file, 'utf8').trim();
  if (secret.length < 32) throw new Error(`${file} holds no usable secret (fewer than 32 characters); remove it to have a new one made`);
  return secret;
}
