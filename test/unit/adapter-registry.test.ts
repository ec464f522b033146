import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { AdapterRegistry, shippedAdapters, shippedAdaptersDir, type ReloadReport } from '../../src/records/adapters/registry.js';

// Adapters are read again without a restart; a broken file is refused with its file and place
// (JSON pointer, line, column) while the others keep working.

const dir = mkdtempSync(join(tmpdir(), 'gerbang-adapters-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const adapter = (name: string, fields: Record<string, unknown> = { weightKg: { path: 'bb', as: 'number' } }) =>
  JSON.stringify({ name, app: `app ${name}`, records: [{ kind: 'anthropometry', fields }] }, null, 2);
const write = (file: string, text: string) => writeFileSync(join(dir, file), text);
const places = (r: ReloadReport) => r.refused.map((p) => `${p.file.slice(dir.length + 1)}:${p.line}:${p.column} ${p.pointer} ${p.message}`);

t.test('broken files are refused with their place; the good ones are served', async (t) => {
  write('good.json', adapter('good'));
  write('not-json.json', '{\n  "name": "not-json",\n  "app": "x",,\n  "records": []\n}');
  write('unknown-key.json', adapter('unknown-key', { weightKg: { pth: 'bb', as: 'number' } }));
  write('bad-as.json', adapter('bad-as', { weightKg: { path: 'bb', as: 'numbr' } }));
  write('no-map.json', adapter('no-map', { 'subject.sex': { path: 'jk', map: 'gender' } }));
  write('bad-path.json', adapter('bad-path', { weightKg: { path: 'anak..bb' } }));
  write('_notes.json', 'not an adapter: files starting with _ are not adapters');
  const registry = new AdapterRegistry([dir]);
  const report = registry.reload();
  t.same(registry.names(), ['good']);
  t.same(report.loaded.map((l) => l.name), ['good']);
  t.same(places(report), [
    'bad-as.json:10:11 /records/0/fields/weightKg/as must be equal to one of the allowed values: "string", "number", "integer", "boolean", "date", "datetime", "nik", "systolic", "diastolic", "year-month", "gravida", "para", "abortus"',
    'bad-path.json:9:11 /records/0/fields/weightKg/path "anak..bb" is not a path (steps joined by ".", [n] or [key=value])',
    'no-map.json:10:11 /records/0/fields/subject.sex/map no value map "gender"',
    'not-json.json:3:14  not JSON: PropertyNameExpected',
    'unknown-key.json:9:11 /records/0/fields/weightKg/pth "pth" is not a key the adapter format knows',
  ]);
});

t.test('a file that breaks keeps its last good version until it is fixed; a removed file is no longer served', async (t) => {
  for (const f of ['not-json', 'unknown-key', 'bad-as', 'no-map', 'bad-path']) unlinkSync(join(dir, `${f}.json`));
  write('good.json', adapter('good'));
  write('other.json', adapter('other'));
  const registry = new AdapterRegistry([dir]);
  registry.reload();
  write('good.json', adapter('good', { weightKg: { path: 'berat', as: 'number' } }));
  t.same(registry.reload().loaded.map((l) => l.name), ['good', 'other'], 'a change is read');
  t.same(registry.get('good')?.records[0]?.fields.weightKg?.path, 'berat');
  write('good.json', '{"name": "good"');
  const broken = registry.reload();
  t.same(broken.kept, [{ name: 'good', file: join(dir, 'good.json') }], 'the broken file\'s adapter is still served');
  t.same(registry.get('good')?.records[0]?.fields.weightKg?.path, 'berat', 'as it was');
  t.equal(broken.refused.length, 1);
  t.ok(registry.has('other'), 'and the others');
  write('good.json', adapter('good', { weightKg: { path: 'bb_kg', as: 'number' } }));
  t.same(registry.reload().kept, []);
  t.same(registry.get('good')?.records[0]?.fields.weightKg?.path, 'bb_kg', 'fixed: the new version');
  unlinkSync(join(dir, 'other.json'));
  t.same(registry.reload().removed, ['other']);
  t.notOk(registry.has('other'));
});

t.test('two files with one name: the second is refused; a site folder replaces a shipped adapter', async (t) => {
  write('twin.json', adapter('good'));
  const registry = new AdapterRegistry([dir]);
  const report = registry.reload();
  t.same(places(report), [`twin.json:1:1 /name "good" is already the name of ${join(dir, 'good.json')}`]);
  unlinkSync(join(dir, 'twin.json'));
  const site = mkdtempSync(join(tmpdir(), 'gerbang-site-adapters-'));
  t.teardown(() => rmSync(site, { recursive: true, force: true }));
  writeFileSync(join(site, 'mine.json'), adapter('sim-posyandu', { weightKg: { path: 'berat_kg', as: 'number' } }));
  const both = new AdapterRegistry([shippedAdaptersDir, site]);
  both.reload();
  t.same(both.get('sim-posyandu')?.records[0]?.fields.weightKg?.path, 'berat_kg', 'the site\'s own version');
  t.ok(both.has('e-kohort'), 'beside the shipped ones');
  t.same(both.get('e-kohort'), shippedAdapters().get('e-kohort'));
});

t.test('a watched folder reloads by itself when a file is added', async (t) => {
  const registry = new AdapterRegistry([dir]);
  registry.reload();
  const reports: ReloadReport[] = [];
  const stop = registry.watch((r) => reports.push(r), 50);
  t.teardown(stop);
  write('added.json', adapter('added'));
  const deadline = Date.now() + 10_000;
  while (!registry.has('added') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.ok(registry.has('added'), 'served without a reload call');
  t.ok(reports.some((r) => r.loaded.some((l) => l.name === 'added')));
});

t.test('a misspelt key is refused, not ignored', async (t) => {
  const site = mkdtempSync(join(tmpdir(), 'gerbang-typo-adapters-'));
  t.teardown(() => rmSync(site, { recursive: true, force: true }));
  const base = { name: 'typo', app: 'x', _note: 'notes are allowed', records: [{ kind: 'anthropometry', _note: 'here too', fields: {} }] };
  writeFileSync(join(site, 'zone.json'), JSON.stringify({ ...base, timezone: 'WITA' }));
  writeFileSync(join(site, 'anyof.json'), JSON.stringify({ ...base, name: 'anyof', records: [{ kind: 'anthropometry', when: { anyof: [{ a: ['$present'] }] }, fields: {} }] }));
  writeFileSync(join(site, 'fine.json'), JSON.stringify({ ...base, name: 'fine' }));
  const registry = new AdapterRegistry([site]);
  const report = registry.reload();
  t.same(registry.names(), ['fine']);
  t.same(report.refused.map((p) => [p.file.slice(site.length + 1), p.pointer, p.message]), [
    ['anyof.json', '/records/0/when/anyof/0', 'must be string,number,boolean,null'],
    ['zone.json', '/timezone', '"timezone" is not a key the adapter format knows'],
  ]);
});
