import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { hashApiKey } from '../../src/http/auth/api-keys.js';
import { postJson, startGateway } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';

// A new adapter is added to a running gateway (the site's folder, then an admin reload) and
// serves at once; a broken file is refused with its place while the others keep working; the CLI
// answers the same rows as the gateway does, record for record.

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const POSYANDU = '3201010001-01';
const keys = { admin: 'admin-key-0123456789abcdef', submitter: 'submitter-key-0123456789abcdef' };
const site = mkdtempSync(join(tmpdir(), 'gerbang-site-adapters-'));
const redis = await startRedis();
const gw = await startGateway({
  redisUrl: redis.url,
  adapters: { directory: site },
  apiKeys: [
    { id: 'adm', hash: hashApiKey(keys.admin), role: 'admin' },
    { id: 'sub', hash: hashApiKey(keys.submitter), role: 'submitter' },
  ],
});
t.teardown(async () => {
  await gw.close();
  await redis.stop();
  rmSync(site, { recursive: true, force: true });
});

const as = (key: string) => ({ authorization: `Bearer ${key}`, 'accept-language': 'en' });
const reload = (key = keys.admin) => postJson(`${gw.url}/v1/admin/adapters/$reload`, {}, as(key));
const map = (row: unknown) => postJson(`${gw.url}/v1/$map?source=my-app&posyandu=${POSYANDU}`, row, as(keys.submitter));

// An app as Laravel on a WITA server writes it: date columns as UTC midnights, the child under
// its visit, the mother among the parents, a float column's 0.00 for "not measured".
const myApp = {
  name: 'my-app',
  app: 'a posyandu app (Laravel, app.timezone Asia/Makassar)',
  timeZone: 'Asia/Makassar',
  relations: { pasien: ['kunjungan.pasien', 'pasien'] },
  records: [
    {
      kind: 'anthropometry',
      when: { anyOf: [{ panjang_badan: ['$present'] }, { tinggi_badan: ['$present'] }, { berat_badan: ['$present'] }], 'pasien.nama': ['$present'] },
      fields: {
        recordId: { template: 'timbang-{id}' },
        occurredAt: { path: 'tanggal_kunjungan', as: 'date' },
        posyandu: { context: 'posyandu' },
        'subject.nik': { path: 'pasien.nik', as: 'nik', optional: true },
        'subject.name': { path: 'pasien.nama' },
        'subject.sex': { path: 'pasien.jenis_kelamin', map: 'sex', derive: 'sex-from-nik' },
        'subject.birthDate': { path: 'pasien.tanggal_lahir', as: 'date', derive: 'birth-date-from-nik' },
        'subject.mother.nik': { path: ['pasien.nik_ibu', 'pasien.orang_tua[hubungan=ibu].nik'], as: 'nik', optional: true },
        'subject.mother.name': { path: 'pasien.orang_tua[hubungan=ibu].nama', optional: true },
        'performer.role': { const: 'kader' },
        weightKg: { path: 'berat_badan', as: 'number', optional: true },
        heightCm: { path: ['panjang_badan', 'tinggi_badan'], as: 'number', optional: true },
        position: { optional: true, cases: [{ when: { panjang_badan: ['$present'] }, const: 'lying' }, { when: { tinggi_badan: ['$present'] }, const: 'standing' }] },
        muacCm: { path: 'lila', as: 'number', optional: true, missing: [0] },
      },
    },
  ],
};
const baby = {
  nama: 'Bayi Dewi', jenis_kelamin: 'P', tanggal_lahir: '2025-03-31T16:00:00.000000Z', nik: null,
  orang_tua: [{ hubungan: 'Ayah', nik: '3201011203900001', nama: 'Budi' }, { hubungan: 'Ibu', nik: '3201014507950002', nama: 'Dewi Lestari' }],
};
const good = { id: 501, tanggal_kunjungan: '2025-08-12T16:00:00.000000Z', kunjungan: { pasien: baby }, berat_badan: '6.40', panjang_badan: '62,5', tinggi_badan: null, lila: '0.00' };
const badDate = { ...good, id: 502, kunjungan: { pasien: { ...baby, tanggal_lahir: '31/02/2025' } } };
const noChild = { id: 503, tanggal_kunjungan: '2025-08-12T16:00:00.000000Z', berat_badan: '6.40', kunjungan: { id: 9 } };

t.test('a new adapter serves after an admin reload, without a restart', async (t) => {
  writeFileSync(join(site, 'my-app.json'), JSON.stringify(myApp, null, 2));
  const refused = await reload(keys.submitter);
  t.equal(refused.status, 403, 'a submitter may not reload');
  const res = await reload();
  t.equal(res.status, 200);
  t.ok(res.body.adapters.includes('my-app') && res.body.adapters.includes('sim-posyandu'), 'the site\'s adapter beside the shipped ones');
  t.same(res.body.refused, []);
  const dry = await map(good);
  t.equal(dry.status, 200);
  t.equal(dry.body.valid, true, JSON.stringify(dry.body.outcome));
  t.same(dry.body.record, {
    kind: 'anthropometry', recordId: 'timbang-501', occurredAt: '2025-08-13', posyandu: POSYANDU,
    subject: { name: 'Bayi Dewi', sex: 'female', birthDate: '2025-04-01', mother: { nik: '3201014507950002', name: 'Dewi Lestari' } },
    performer: { role: 'kader' }, weightKg: 6.4, heightCm: 62.5, position: 'lying',
  }, 'WITA midnights read as local dates; the child under its visit; the mother among the parents; 0.00 not measured');
  t.same(dry.body.provenance.find((p: { field: string }) => p.field === 'occurredAt').rules, ['date-from-utc-midnight-WITA']);
  t.same(dry.body.provenance.find((p: { field: string }) => p.field === 'subject.mother.nik').source, 'kunjungan.pasien.orang_tua[hubungan=ibu].nik');
  const sent = await postJson(`${gw.url}/v1/records?source=my-app&posyandu=${POSYANDU}`, good, as(keys.submitter));
  t.equal(sent.status, 202, 'and a baby without NIK goes in by its mother\'s');
  const batch = await postJson(`${gw.url}/v1/records/$batch?source=my-app&posyandu=${POSYANDU}`, [good, { ...good, id: 504 }], as(keys.submitter));
  t.equal(batch.status, 200);
  t.same(batch.body.results.map((r: { result: string }) => r.result), ['duplicate', 'accepted'], '$batch reads with the reloaded adapter too');
});

t.test('a broken file is refused with its place; the other adapters keep working', async (t) => {
  const broken = { ...myApp, name: 'broken-app', records: [{ kind: 'anthropometry', fields: { weightKg: { path: 'bb', as: 'numbr' } } }] };
  writeFileSync(join(site, 'broken-app.json'), JSON.stringify(broken, null, 2));
  const res = await reload();
  t.equal(res.status, 200);
  t.same(res.body.refused.map((p: Record<string, unknown>) => [p.file, p.pointer, p.line, p.column]), [[join(site, 'broken-app.json'), '/records/0/fields/weightKg/as', 17, 11]]);
  const [issue] = res.body.outcome.issue;
  t.equal(issue.details.coding[0].code, 'adapter.file-refused');
  t.same([issue.expression, issue.location], [[join(site, 'broken-app.json')], ['/records/0/fields/weightKg/as']]);
  t.match(issue.details.text, /line 17 column 11/);
  t.notOk(res.body.adapters.includes('broken-app'));
  t.equal((await map(good)).body.valid, true, 'my-app still serves');
  writeFileSync(join(site, 'my-app.json'), '{"name": "my-app", ');
  const kept = await reload();
  t.same(kept.body.kept.map((k: { name: string }) => k.name), ['my-app'], 'my-app broke: its last good version is kept, and the answer says so');
  t.equal(kept.body.outcome.issue.find((i: { details: { coding: Array<{ code: string }> } }) => i.details.coding[0]?.code === 'adapter.file-kept')?.severity, 'warning');
  t.equal((await map(good)).body.valid, true);
  writeFileSync(join(site, 'my-app.json'), JSON.stringify(myApp, null, 2));
  t.same((await reload()).body.kept, []);
});

/** `gerbang adapter test` as an operator runs it, with the gateway's own configuration. */
async function cli(adapter: string, rows: unknown[]): Promise<any[]> {
  const file = join(site, `rows-${Math.random().toString(36).slice(2)}.ndjson`);
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n'));
  const env = { ...process.env, GERBANG_CONFIG: join(gw.config.dataDir, 'gerbang.json'), HOST: '127.0.0.1' };
  const args = ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'adapter', 'test', adapter, file, '--posyandu', POSYANDU];
  const out = await promisify(execFile)(process.execPath, args, { env, cwd: root }).catch((err: { stdout?: string; code?: number }) => {
    if (err.code === 1 && err.stdout !== undefined) return { stdout: err.stdout };
    throw err;
  });
  return out.stdout.trim().split(/\n(?=\{)/).map((o) => JSON.parse(o) as unknown);
}

t.test('the CLI and the gateway answer the same rows the same way, by the adapter\'s name or its file', async (t) => {
  const rows = [good, badDate, noChild];
  const answers = await Promise.all(rows.map((r) => postJson(`${gw.url}/v1/$map?source=my-app&posyandu=${POSYANDU}`, r, { authorization: `Bearer ${keys.submitter}`, 'accept-language': 'id' })));
  for (const adapter of ['my-app', join(site, 'my-app.json')]) {
    const printed = await cli(adapter, rows);
    t.equal(printed.length, rows.length, `${adapter}: one answer per row`);
    for (const [i, res] of answers.entries()) {
      const c = printed.find((p) => p.item === i);
      t.equal(res.body.valid, c.refused === undefined, `${adapter} row ${i}: refused by both or by neither`);
      t.same(res.body.record, c.record, `${adapter} row ${i}: the same record`);
      t.same(res.body.provenance, c.provenance, `${adapter} row ${i}: the same provenance`);
      const problems = res.body.outcome.issue.map((x: { expression?: string[]; details: { text: string } }) => ({ field: x.expression?.[0], problem: x.details.text }));
      if (res.body.valid) t.same(problems.map((p: { problem: string }) => p.problem), c.warnings, `${adapter} row ${i}: the same warnings`);
      else t.same(problems, c.refused.map((p: { field?: string; source?: string; problem: string }) => ({ field: p.field ?? p.source, problem: p.problem })), `${adapter} row ${i}: the same problems`);
    }
  }
  t.match(answers[1]?.body.outcome.issue[0], { expression: ['subject.birthDate', 'kunjungan.pasien.tanggal_lahir'], details: { coding: [{ code: 'adapter.not-a-date' }] } }, 'an unreadable birth date is named, not replaced by anything');
  t.match(answers[2]?.body.outcome.issue[0], { expression: ['kunjungan.pasien.nama / pasien.nama'], details: { coding: [{ code: 'adapter.record-incomplete' }], text: /catatan anthropometry, tetapi kunjungan\.pasien\.nama \/ pasien\.nama tidak ada/ } }, 'a missing child is named by where it was looked for');
});
