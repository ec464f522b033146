import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresNotInstalledError, postgresBinDir } from '../../src/runtime/postgres-binaries.js';
import { checkServerVersion, loadMigrations, ServerTooOldError } from '../../src/sync/pg/migrate.js';

// What is decided before any server is asked: which migration files make the schema, and which
// PostgreSQL binaries run the private server.

const dir = mkdtempSync(join(tmpdir(), 'gerbang-pg-files-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function migrationsDir(name: string, files: string[]): string {
  const d = join(dir, name);
  mkdirSync(d);
  for (const f of files) writeFileSync(join(d, f), `-- ${f}\nSELECT 1;\n`);
  return d;
}

t.test('the shipped migrations: numbered from 1, each with its checksum', async (t) => {
  const shipped = loadMigrations();
  t.ok(shipped.length >= 1);
  t.same(shipped.map((m) => m.version), shipped.map((_, i) => i + 1));
  t.equal(shipped[0]!.name, '0001_ledger.sql');
  t.match(shipped[0]!.checksum, /^[0-9a-f]{64}$/);
});

t.test('files are taken in order, and a gap, a repeat or a badly named file is refused', async (t) => {
  t.same(loadMigrations(migrationsDir('ok', ['0002_b.sql', '0001_a.sql', 'README.md'])).map((m) => m.name), ['0001_a.sql', '0002_b.sql']);
  t.throws(() => loadMigrations(migrationsDir('gap', ['0001_a.sql', '0003_c.sql'])), /0003_c\.sql: expected migration 2 here/);
  t.throws(() => loadMigrations(migrationsDir('repeat', ['0001_a.sql', '0001_b.sql'])), /0001_b\.sql: expected migration 2 here/);
  t.throws(() => loadMigrations(migrationsDir('name', ['0001_a.sql', '2_Second.sql'])), /2_Second\.sql: a migration is named NNNN_words\.sql/);
});

t.test('a server older than PostgreSQL 13 is refused by name', async (t) => {
  t.throws(() => checkServerVersion(120_017, '12.17'), ServerTooOldError);
  t.throws(() => checkServerVersion(120_017, '12.17'), /needs PostgreSQL 13 or newer; this server is 12\.17/);
  t.throws(() => checkServerVersion(Number.NaN, 'unknown'), ServerTooOldError);
  t.doesNotThrow(() => checkServerVersion(130_000, '13.0'));
  t.doesNotThrow(() => checkServerVersion(170_002, '17.2'));
});

t.test("binaries: Debian's newest installed version, found at run time", async (t) => {
  const root = join(dir, 'usr-lib-postgresql');
  for (const [version, hasInitdb] of [['13', true], ['15', true], ['16', false], ['9.6', true]] as const) {
    mkdirSync(join(root, version, 'bin'), { recursive: true });
    if (hasInitdb) writeFileSync(join(root, version, 'bin', 'initdb'), '');
  }
  t.equal(postgresBinDir(root), join(root, '15', 'bin'), '16 has no initdb (a half-removed package); 9.6 (dotted, from before 10) is older than the schema runs on');
});

t.test('no PostgreSQL at all: says what to install', async (t) => {
  const path = process.env.PATH;
  process.env.PATH = join(dir, 'empty-bin');
  try {
    t.throws(() => postgresBinDir(join(dir, 'nowhere')), PostgresNotInstalledError);
    t.throws(() => postgresBinDir(join(dir, 'nowhere')), /apt-get install -y postgresql/);
  } finally {
    process.env.PATH = path;
  }
});
