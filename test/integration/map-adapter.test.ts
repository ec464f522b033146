import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { getJson, postJson, startGateway } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';

// `POST /v1/$map?source=<adapter>` runs the app's adapter, and answers a row exactly as
// `gerbang adapter test` (the CLI) and `POST /v1/records?source=<adapter>` do, storing nothing.

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const samplesDir = join(root, 'test', 'fixtures', 'samples');
const POSYANDU = '3201010001-01';
const sample = (name: string) => JSON.parse(readFileSync(join(samplesDir, `${name}.json`), 'utf8')) as Record<string, unknown>;

const redis = await startRedis();
const gw = await startGateway({ redisUrl: redis.url });
const scratch = mkdtempSync(join(tmpdir(), 'gerbang-map-adapter-'));
t.teardown(async () => {
  await gw.close();
  await redis.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const outbox = join(gw.config.dataDir, 'outbox');
const outboxFiles = () => (existsSync(outbox) ? readdirSync(outbox).filter((f) => f.endsWith('.json')) : []);
const stored = async () => (await getJson(`${gw.url}/v1/records?posyandu=${POSYANDU}`)).body.items as unknown[];
const map = (adapter: string, row: unknown) => postJson(`${gw.url}/v1/$map?source=${adapter}&posyandu=${POSYANDU}`, row, { 'accept-language': 'id' });
const send = (adapter: string, row: unknown) => postJson(`${gw.url}/v1/records?source=${adapter}&posyandu=${POSYANDU}`, row, { 'accept-language': 'id' });
/** $map's answer, one entry per record the row yields. */
const partsOf = (answer: any): any[] => (Array.isArray(answer.records) ? answer.records : [answer]);
const problems = (outcome: OperationOutcome) =>
  outcome.issue.map((i) => ({ field: i.expression?.[0], source: i.expression?.[1], problem: i.details?.text }));

/** `gerbang adapter test` on a file, as an operator runs it, against the gateway's own configuration. */
async function cli(adapter: string, file: string): Promise<any[]> {
  const env = { ...process.env, GERBANG_CONFIG: join(gw.config.dataDir, 'gerbang.json'), HOST: '127.0.0.1' };
  const args = ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'adapter', 'test', adapter, file, '--posyandu', POSYANDU];
  const out = await promisify(execFile)(process.execPath, args, { env, cwd: root }).catch((err: { stdout?: string; code?: number }) => {
    if (err.code === 1 && err.stdout !== undefined) return { stdout: err.stdout }; // exit 1: a record was refused
    throw err;
  });
  // one pretty-printed object per record: each starts with "{" at the start of a line
  return out.stdout.trim().split(/\n(?=\{)/).map((o) => JSON.parse(o) as unknown);
}

t.test('the CLI and $map answer every sample row the same way', async (t) => {
  const names = readdirSync(samplesDir).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, '')).sort();
  const byAdapter = new Map<string, string[]>();
  for (const name of names) byAdapter.set(name.split('__')[0] ?? '', [...(byAdapter.get(name.split('__')[0] ?? '') ?? []), name]);
  let valid = 0;
  let refused = 0;
  for (const [adapter, rows] of byAdapter) {
    const file = join(scratch, `${adapter}.ndjson`);
    writeFileSync(file, rows.map((r) => JSON.stringify(sample(r))).join('\n'));
    const printed = await cli(adapter, file);
    for (const [item, name] of rows.entries()) {
      const fromCli = printed.filter((p) => p.item === item);
      const res = await map(adapter, sample(name));
      t.equal(res.status, 200, `${name}: $map answers`);
      const fromMap = partsOf(res.body);
      t.equal(fromMap.length, fromCli.length, `${name}: as many records`);
      for (const [i, m] of fromMap.entries()) {
        const c = fromCli[i];
        t.equal(m.kind, c.kind, `${name}: the same kind`);
        t.same(m.record, c.record, `${name}: the same canonical record`);
        t.same(m.provenance, c.provenance, `${name}: the same provenance`);
        t.equal(m.valid, c.refused === undefined, `${name}: refused by both or by neither`);
        if (m.valid) {
          valid += 1;
          t.same(m.outcome.issue.map((x: { details: { text: string } }) => x.details.text), c.warnings, `${name}: the same warnings`);
          t.equal(m.bundle?.resourceType, 'Bundle', `${name}: a Bundle`);
        } else {
          refused += 1;
          t.same(problems(m.outcome), c.refused.map((p: object) => ({ field: undefined, source: undefined, ...p })), `${name}: the same problems`);
        }
      }
    }
  }
  t.ok(valid >= 5 && refused >= 5, `both valid (${valid}) and refused (${refused}) records compared`);
  t.same(outboxFiles(), [], 'nothing sent');
  t.same(await stored(), [], 'nothing stored');
});

t.test('a valid row: $map shows what /v1/records then accepts', async (t) => {
  const row = sample('sim-posyandu__pemeriksaan_balita__01');
  const dry = await map('sim-posyandu', row);
  t.equal(dry.body.valid, true);
  t.equal(dry.body.kind, 'anthropometry', 'the adapter ran: not "kind is required"');
  t.same(await stored(), [], '$map stored nothing');

  const res = await send('sim-posyandu', row);
  t.equal(res.status, 202);
  t.equal(res.body.kind, dry.body.kind);
  t.same(res.body.provenance, dry.body.provenance, 'the same provenance');
  t.same(res.body.indicators, dry.body.indicators, 'the same indicators');
  t.same(res.body.warnings?.issue ?? [], dry.body.outcome.issue, 'the same warnings');
  const file = join(outbox, `${res.body.id}.v1.json`);
  for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
  t.same(JSON.parse(readFileSync(file, 'utf8')), dry.body.bundle, 'the Bundle sent is the one $map showed');
});

t.test('a refused row: $map names the same problems as the 422 of /v1/records', async (t) => {
  const row = sample('sim-posyandu__imunisasi__INVALID_04');
  const dry = await map('sim-posyandu', row);
  t.equal(dry.body.valid, false);
  const res = await send('sim-posyandu', row);
  t.equal(res.status, 422);
  t.ok(res.body.issue.length >= 3, 'several problems');
  t.same(dry.body.outcome, res.body, 'the same OperationOutcome');
});

t.test('a row holding two records, one of them bad: the good one goes in, the bad one is answered next to it', async (t) => {
  const balita = sample('sim-posyandu__pemeriksaan_balita__01');
  const child = balita.balita as Record<string, unknown>;
  const row = { ...balita, id: 48, jenis_imunisasi: 'Vaksin Tak Dikenal', dosis: '1', tanggal_imunisasi: '2025-08-14', kunjungan: { pasien: child } };

  const dry = await map('sim-posyandu', row);
  t.equal(dry.status, 200);
  t.equal(dry.body.valid, false, 'not every record is valid');
  t.same(dry.body.records.map((r: { kind: string; valid: boolean }) => [r.kind, r.valid]), [['anthropometry', true], ['immunization', false]]);
  t.same(dry.body.records[1].outcome.issue.map((i: { expression: string[] }) => i.expression[0]), ['vaccine'], 'the bad record names its field');

  const res = await send('sim-posyandu', row);
  t.equal(res.status, 202, 'accepted: one record went in');
  const [weighing, dose] = res.body.records;
  t.equal(weighing.kind, 'anthropometry');
  t.equal(weighing.outcome, 'created');
  t.match(res.headers.get('location'), `/v1/records/${weighing.id}`, 'Location names the record that went in');
  t.same(weighing.indicators, dry.body.records[0].indicators, 'as $map showed');
  t.equal(dose.kind, 'immunization');
  t.equal(dose.result, 'refused');
  t.equal(dose.code, 'record.invalid');
  t.same(dose.outcome, dry.body.records[1].outcome, 'refused with the problems $map showed');
  t.same(dose.provenance, dry.body.records[1].provenance);

  const batch = await postJson(`${gw.url}/v1/records/$batch?source=sim-posyandu&posyandu=${POSYANDU}`, [row]);
  t.equal(batch.status, 200);
  const [item] = batch.body.results;
  t.equal(item.result, 'duplicate', '$batch: nothing new went in');
  t.same(item.records.map((r: { id?: string; outcome?: string; result?: string }) => [r.id, r.result ?? r.outcome]), [[weighing.id, 'duplicate'], [undefined, 'refused']], 'the weighing again, and the dose refused next to it');
  t.same(item.records[1].outcome, dose.outcome, 'with the same problems');
});

t.test('a list kept as JSON text (SIMPEL\'s service result): its doses dry-run and go in; a broken text is refused naming the column, the CLI agreeing', async (t) => {
  const row = (imunisasi: string, id: number) => ({
    id, kegiatan_id: 7, balita_id: 14, berat_badan: '9.60', tinggi_badan: '77.00', lingkar_kepala: '45.40', lingkar_lengan: '14.50', imunisasi, vitamin: '["Vitamin A"]',
    balita: { id: 14, nama: 'Fathan Alvaro', tanggal_lahir: '2024-10-03T00:00:00.000000Z', jenis_kelamin: 'L', anak_ke: 2, nik: '3578010310240003', nama_ibu: 'Rahma Dewi', warga: { id: 9, nik: '3578014506950002', jenis_kelamin: 'P' } },
    kegiatan: { id: 7, tanggal: '2025-09-09T00:00:00.000000Z' },
  });
  const good = row('["Campak"]', 301);
  const dry = await map('simpel-posyandu-feri', good);
  t.same(dry.body.records.map((r: { kind: string; valid: boolean; record: { recordId: string } }) => [r.kind, r.valid, r.record.recordId]), [['anthropometry', true, 'hasil-pelayanan-301'], ['immunization', true, 'hasil-pelayanan-301-campak']]);
  const res = await send('simpel-posyandu-feri', good);
  t.equal(res.status, 202);
  t.same(res.body.records.map((r: { kind: string; outcome: string }) => [r.kind, r.outcome]), [['anthropometry', 'created'], ['immunization', 'created']], 'the weighing and the dose went in');

  const broken = row('["Campak"', 302);
  const bad = await map('simpel-posyandu-feri', broken);
  t.same(bad.body.records.map((r: { kind: string; valid: boolean }) => [r.kind, r.valid]), [['anthropometry', true], ['immunization', false]]);
  t.same(bad.body.records[1].outcome.issue.map((i: { expression: string[] }) => i.expression), [['imunisasi']], 'the refusal names the column');
  t.match(bad.body.records[1].outcome.issue[0].details.text, /imunisasi berisi "\["Campak"": bukan daftar dalam teks JSON/);
  const sent = await send('simpel-posyandu-feri', broken);
  t.equal(sent.status, 202, 'the weighing goes in');
  t.same(sent.body.records.map((r: { kind: string; outcome?: string; result?: string }) => [r.kind, r.result ?? r.outcome]), [['anthropometry', 'created'], ['immunization', 'refused']]);
  t.same(sent.body.records[1].outcome, bad.body.records[1].outcome, 'refused with the problems $map showed');
  const file = join(scratch, 'simpel-broken.json');
  writeFileSync(file, JSON.stringify(broken));
  const printed = await cli('simpel-posyandu-feri', file);
  t.same(printed.map((p) => [p.kind, p.refused === undefined]), [['anthropometry', true], ['immunization', false]], 'the CLI answers the row the same way');
  t.same(printed[1].refused, [{ source: 'imunisasi', problem: bad.body.records[1].outcome.issue[0].details.text }], 'with the same problem, naming the column');
});
