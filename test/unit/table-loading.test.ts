import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { fhirCommon } from '../../src/fhir/terminology.js';
import { growthTables } from '../../src/indicators/growth/lms-tables.js';
import { schedule } from '../../src/indicators/immunization-schedule.js';
import { MappingDataError } from '../../src/tables/mapping-data-error.js';
import { definedTableNames, projectTableDirs, readDefinedTables } from '../../src/tables/registry.js';

const root = new URL('../..', import.meta.url).pathname;

// A fresh process (without the tests' set-up) imports every module of src/ and records each file it
// reads under mappings/ or profiles/; then it uses one table before the start-up load.
const probe = `
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
const root = ${JSON.stringify(root)};
const tableDirs = [join(root, 'mappings'), join(root, 'profiles')];
const read = [];
for (const name of ['readFileSync', 'readdirSync', 'existsSync', 'openSync']) {
  const original = fs[name];
  fs[name] = (p, ...rest) => {
    const file = String(p);
    if (tableDirs.some((d) => file.startsWith(d))) read.push(name + ' ' + file.slice(root.length));
    return original(p, ...rest);
  };
}
syncBuiltinESMExports();
const modules = fs.readdirSync(join(root, 'src'), { recursive: true })
  .filter((f) => f.endsWith('.ts') && f !== join('cli', 'main.ts'))
  .sort();
const registry = await import(pathToFileURL(join(root, 'src/tables/registry.ts')).href);
await import(pathToFileURL(join(root, 'src/roles/tables.ts')).href);
const byLoader = registry.definedTableNames();
const failed = [];
for (const m of modules) {
  try { await import(pathToFileURL(join(root, 'src', m)).href); } catch (err) { failed.push(m + ': ' + err.message); }
}
let early = '';
try { (await import(pathToFileURL(join(root, 'src/fhir/terminology.ts')).href)).fhirCommon(); } catch (err) { early = err.message; }
console.log(JSON.stringify({ modules: modules.length, read, failed, early, byLoader, all: registry.definedTableNames() }));
process.exit(0);
`;

t.test('importing every module of src/ reads no table; using one before start-up says so', async (t) => {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: root, env, encoding: 'utf8', timeout: 90_000 });
  t.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { modules: number; read: string[]; failed: string[]; early: string; byLoader: string[]; all: string[] };
  t.ok(out.modules > 100, `${out.modules} modules imported`);
  t.same(out.failed, [], 'every module imports without its tables');
  t.same(out.read, [], 'no file under mappings/ or profiles/ read at import');
  t.match(out.early, /table fhir-common\.json used before the tables were loaded/);
  t.same(out.all.filter((n) => !out.byLoader.includes(n)), [], 'every table defined anywhere in src/ is known to loadTables()');
});

t.test('the loaded tables are frozen all the way down', async (t) => {
  t.ok(definedTableNames().length >= 17, definedTableNames().join(', '));
  t.ok(Object.isFrozen(fhirCommon()), 'a table');
  t.ok(Object.isFrozen(fhirCommon().identifierSystems), 'a map inside it');
  t.ok(Object.isFrozen(schedule().doses[0]), 'a row of a list');
  t.throws(() => (schedule().doses as unknown[]).push({}), TypeError);
  t.ok(Object.isFrozen(growthTables().tables.wfa.male.rows[0]), 'a WHO LMS row');
  t.equal(fhirCommon(), fhirCommon(), 'read once: the same object each time');
  const again = readDefinedTables(projectTableDirs);
  t.same(again.get('fhir-common.json'), fhirCommon(), 'what the file says');
  for (const [name, value] of again) if (name !== 'adapters/') t.ok(Object.isFrozen(value), `${name} frozen`);
});

t.test('a broken table is refused at load with its file and place', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-tables-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dirs = { mappings: join(dir, 'mappings'), profiles: join(dir, 'profiles') };
  cpSync(projectTableDirs.mappings, dirs.mappings, { recursive: true });
  cpSync(projectTableDirs.profiles, dirs.profiles, { recursive: true });
  t.ok(readDefinedTables(dirs).size > 0, 'the copy loads as it is');

  const anc = join(dirs.mappings, 'anc.json');
  const good = readFileSync(anc, 'utf8');
  const broken = JSON.parse(good) as { episodeOfCare: { type: { system: string } } };
  broken.episodeOfCare.type.system = 'not a uri';
  writeFileSync(anc, JSON.stringify(broken));
  t.throws(() => readDefinedTables(dirs), new MappingDataError(`${anc}: episodeOfCare.type.system: must be a URI`), 'a wrong value: the file and the path');
  writeFileSync(anc, good.slice(0, 40));
  t.throws(() => readDefinedTables(dirs), { name: 'MappingDataError', message: new RegExp(`^${anc}: cannot be read as JSON`) }, 'not JSON: the file');
  writeFileSync(anc, good);

  // An issue a table names must be one of the error table's, or the app would hear a bare key.
  const plausibility = join(dirs.mappings, 'plausibility.json');
  const limits = readFileSync(plausibility, 'utf8');
  const slips = JSON.parse(limits) as { unitSlips: Record<string, { message?: string }> };
  const [field] = Object.keys(slips.unitSlips).filter((f) => slips.unitSlips[f]?.message);
  slips.unitSlips[field!]!.message = 'value.no-such-issue';
  writeFileSync(plausibility, JSON.stringify(slips));
  t.throws(() => readDefinedTables(dirs), new MappingDataError(`${plausibility}: unitSlips.${field}.message: "value.no-such-issue" is not an issue of src/errors/codes.ts`), 'an unknown issue: the file and the field');
  writeFileSync(plausibility, limits);

  const profile = join(dirs.profiles, 'Encounter.json');
  writeFileSync(profile, JSON.stringify({ resourceType: 'Encounter', rules: [{ path: 'status', in: 'finished', why: 'test' }] }));
  t.throws(() => readDefinedTables(dirs), { name: 'MappingDataError', message: `${profile}: rules[0].in: must be a non-empty list of strings` }, 'a profile rule: the file and the rule');
});
