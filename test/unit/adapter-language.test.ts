import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { issueText, message } from '../../src/errors/messages.js';
import { adaptParts, withSources } from '../../src/ingest/adapt-record.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import { runAdapter, type Adapter } from '../../src/records/adapters/adapter.js';
import { checkAdapterText, checkCommonText } from '../../src/records/adapters/adapter-file.js';
import { at, replaceAt } from '../../src/records/adapters/paths.js';
import { shippedAdaptersDir } from '../../src/records/adapters/registry.js';

// The adapter language on rows shaped as real apps write them (docs/adapters.md): each feature is
// tried on a row it must read and on one it must not.

const { facilities } = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-unit' });
const ctx = { facilities, posyandu: '3201010001-01' };
const commonFile = join(shippedAdaptersDir, '_common.json');
const common = checkCommonText(readFileSync(commonFile, 'utf8'), commonFile);
/** An adapter as a file holds it: checked as a reload checks it, then run on a row. */
const run = (adapter: Partial<Adapter> & Pick<Adapter, 'records'>, row: unknown) => {
  const checked = checkAdapterText(JSON.stringify({ name: 'test-app', app: 'test', ...adapter }), 'test-app.json', common.ok ? common.value : {});
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
  return runAdapter(checked.value, row, ctx);
};
const child = { nik: '3201015503230004', nama: 'Siti Aminah', jk: 'P', tgl_lahir: '2023-03-15' };
const subjectFields = {
  'subject.nik': { path: 'anak.nik', as: 'nik' as const, optional: true },
  'subject.name': { path: 'anak.nama' },
  'subject.sex': { path: 'anak.jk', map: 'sex' },
  'subject.birthDate': { path: 'anak.tgl_lahir', as: 'date' as const },
};

t.test('when: anyOf and allOf, $present and $absent', async (t) => {
  const adapter = {
    records: [
      {
        kind: 'anthropometry',
        when: { anyOf: [{ panjang_badan: ['$present'] }, { tinggi_badan: ['$present'] }], status: ['$absent'] },
        fields: { recordId: { template: 'timbang-{id}' }, heightCm: { path: ['panjang_badan', 'tinggi_badan'], as: 'number' as const } },
      },
    ],
  };
  t.equal(run(adapter, { id: 1, panjang_badan: '70,5' }).records[0]?.record.heightCm, 70.5, 'a length');
  t.equal(run(adapter, { id: 1, tinggi_badan: 88 }).records[0]?.record.heightCm, 88, 'or a height');
  const neither = run(adapter, { id: 1, berat_badan: 9 });
  t.same(neither.records, [], 'neither: no record');
  const both = run({ records: [{ ...adapter.records[0]!, when: { allOf: [{ panjang_badan: ['$present'] }, { tinggi_badan: ['$present'] }] } }] }, { id: 1, panjang_badan: 70 });
  t.same(both.issues.map((i) => [i.key, i.source]), [['adapter.record-incomplete', 'tinggi_badan']], 'allOf names the part missing');
  const cancelled = run(adapter, { id: 1, panjang_badan: 70, status: 'batal' });
  t.same(cancelled.issues.map((i) => i.key), ['adapter.not-a-record-value'], '$absent: a value there is not a record');
  t.equal(issueText(cancelled.issues[0]!, 'en'), 'status holds "batal": adapter test-app makes records of kind anthropometry only for empty.');
});

t.test('a path picks an array element by a property; a path list tries places in order', async (t) => {
  const row = { orang_tua: [{ hubungan: 'Ayah', nik: '3201011203900001' }, { hubungan: 'IBU', nik: '3201014507950002', nama: 'Dewi' }] };
  t.equal(at(row, 'orang_tua[hubungan=ibu].nik'), '3201014507950002', 'compared without regard to case');
  t.equal(at(row, 'orang_tua[hubungan=ibu kandung].nik'), undefined, 'no such element: absent');
  t.equal(at(row, 'orang_tua[1].nama'), 'Dewi');
  t.equal(at({ a: { b: [{ k: 2, v: 'x' }] } }, 'a.b[k=2].v'), 'x', 'a number compared as text');
  const adapter = {
    records: [
      {
        kind: 'immunization',
        fields: {
          'subject.mother.nik': { path: ['nik_ibu', 'orang_tua[hubungan=ibu].nik', 'ibu.nik'], as: 'nik' as const, optional: true },
        },
      },
    ],
  };
  const [fromParents] = run(adapter, row).records;
  t.same(fromParents?.record.subject, { mother: { nik: '3201014507950002' } });
  t.equal(fromParents?.provenance[0]?.source, 'orang_tua[hubungan=ibu].nik', 'the provenance names the place that held the value');
  const [fromRow] = run(adapter, { ...row, nik_ibu: '3201014507950003' }).records;
  t.same(fromRow?.record.subject, { mother: { nik: '3201014507950003' } }, 'the first place present wins');
  const [blank] = run(adapter, { ...row, nik_ibu: '' }).records;
  t.same(blank?.record.subject, { mother: { nik: '3201014507950002' } }, 'an empty cell is not present');
});

t.test('relations: a person nested where the app puts it, every field from the same object', async (t) => {
  const adapter = {
    relations: { anak: ['kunjungan.pasien', 'child_visit.child', 'pasien'] },
    records: [{ kind: 'anthropometry', when: { 'anak.nama': ['$present'] }, fields: { recordId: { template: 'k-{id}' }, ...subjectFields } }],
  };
  for (const row of [{ id: 1, pasien: child }, { id: 1, kunjungan: { pasien: child } }, { id: 1, child_visit: { child } }]) {
    const [r] = run(adapter, row).records;
    t.match(r?.record, { subject: { nik: child.nik, name: child.nama, sex: 'female', birthDate: '2023-03-15' } }, JSON.stringify(Object.keys(row)));
  }
  const [nested] = run(adapter, { id: 1, kunjungan: { pasien: child } }).records;
  t.equal(nested?.provenance.find((p) => p.field === 'subject.name')?.source, 'kunjungan.pasien.nama');
  const mixed = run(adapter, { id: 1, kunjungan: { pasien: { nama: 'Siti Aminah' } }, pasien: child });
  t.same(mixed.records[0]?.issues.map((i) => [i.key, i.path, i.source]), [
    ['field.required', 'subject.sex', 'kunjungan.pasien.jk | child_visit.child.jk | pasien.jk'],
    ['field.required', 'subject.birthDate', 'kunjungan.pasien.tgl_lahir | child_visit.child.tgl_lahir | pasien.tgl_lahir'],
  ], 'the first relation present is the person: its missing fields are not filled from another person');
  const missing = run(adapter, { id: 1, kunjungan: { tanggal: '2025-08-01' } });
  t.same(missing.issues.map((i) => [i.key, i.params?.needs]), [['adapter.no-record', 'anthropometry: kunjungan.pasien.nama / child_visit.child.nama / pasien.nama']], 'a missing relation is named by its places');
});

t.test('relations: a one-to-one table embedded as an object or as a list of one (an older PostgREST), an empty list being none', async (t) => {
  const adapter = {
    relations: { detail: ['detail[0]', 'detail'] },
    records: [{ kind: 'anthropometry', when: { detail: ['$present'] }, fields: { recordId: { template: 'k-{id}' }, heightCm: { path: 'detail.panjang', as: 'number' as const } } }],
  };
  const read = (detail: unknown) => run(adapter, { id: 1, detail }).records.map((r) => [r.record.heightCm, r.provenance.find((p) => p.field === 'heightCm')?.source]);
  t.same(read({ panjang: 70 }), [[70, 'detail.panjang']], 'an object');
  t.same(read([{ panjang: 71 }]), [[71, 'detail[0].panjang']], 'a list of one');
  t.same(read([]), [], 'an empty list: the table has no row, so no record');
  t.same(read(null), [], 'null: no row');
  t.equal(at({ detail: [] }, 'detail', adapter.relations), undefined, 'an empty list is no place of a relation');
  t.same(at({ detail: [] }, 'detail'), [], 'a plain path still reads the list');
});

t.test('cases: a field read by the first case whose when holds', async (t) => {
  const adapter = {
    records: [
      {
        kind: 'anthropometry',
        fields: {
          position: {
            optional: true,
            cases: [
              { when: { panjang_badan: ['$present'] }, const: 'lying' },
              { when: { tinggi_badan: ['$present'] }, const: 'standing' },
            ],
          },
        },
      },
    ],
  };
  t.equal(run(adapter, { panjang_badan: 70 }).records[0]?.record.position, 'lying');
  t.equal(run(adapter, { tinggi_badan: 90 }).records[0]?.record.position, 'standing');
  t.equal(run(adapter, {}).records[0]?.record.position, undefined, 'no case: absent');
  const required = { records: [{ kind: 'anthropometry', fields: { position: { cases: [{ when: { x: [1] }, const: 'lying' }] } } }] };
  t.same(run(required, {}).issues.map((i) => [i.key, i.path]), [['field.required', 'position']], 'no case of a required field: refused');
});

t.test('no entry applies: the closest entries say what is missing or which value is not a record', async (t) => {
  const adapter = {
    records: [
      { kind: 'anc-visit', when: { 'kehamilan.hpht': ['$present'], tanggal_kunjungan: ['$present'] }, fields: {} },
      { kind: 'immunization', when: { status: ['diberikan', 'sudah'], jenis_vaksin: ['$present'] }, fields: {} },
    ],
  };
  const visit = run(adapter, { tanggal_kunjungan: '2025-08-01' });
  t.same(visit.issues, [{ key: 'adapter.record-incomplete', severity: 'error', source: 'kehamilan.hpht', params: { adapter: 'test-app', kind: ['anc-visit'], missing: 'kehamilan.hpht' } }]);
  t.match(message('adapter.record-incomplete', 'en', visit.issues[0]?.params), /looks like a record of kind anc-visit, but kehamilan.hpht is missing/);
  const planned = run(adapter, { status: 'belum', jenis_vaksin: 'Campak' });
  t.same(planned.issues.map((i) => [i.key, i.source, i.params?.value, i.params?.allowed]), [['adapter.not-a-record-value', 'status', 'belum', ['diberikan', 'sudah']]]);
  const other = run(adapter, { foo: 1 });
  t.same(other.issues.map((i) => i.key), ['adapter.no-record'], 'a row that meets no part of any entry');
  t.equal(message('adapter.no-record', 'en', other.issues[0]?.params), 'This data holds no record Gerbang sends (adapter test-app). What each kind of record needs: anc-visit: kehamilan.hpht, tanggal_kunjungan; immunization: status = "diberikan" / "sudah", jenis_vaksin.');
});

t.test('dates in the app\'s stated time zone: Laravel\'s UTC midnights, ISO date-times with an offset', async (t) => {
  const dates = (timeZone: Adapter['timeZone'] | undefined, value: unknown, as: 'date' | 'datetime' = 'date') => {
    const out = run({ ...(timeZone ? { timeZone } : {}), records: [{ kind: 'anthropometry', fields: { 'subject.birthDate': { path: 'd', as } } }] }, { d: value });
    const [r] = out.records;
    return out.issues.length > 0 ? out.issues.map((i) => `${i.key}@${i.path}<${i.source}`).join() : `${String(r?.record.subject && (r.record.subject as Record<string, unknown>).birthDate)} ${r?.provenance[0]?.rules.join(',')}`;
  };
  t.equal(dates('WITA', '2023-03-14T16:00:00.000000Z'), '2023-03-15 date-from-utc-midnight-WITA', 'a WITA date column serialised by Laravel');
  t.equal(dates('Asia/Jakarta', '2023-03-14T17:00:00.000000Z'), '2023-03-15 date-from-utc-midnight-WIB', 'WIB, named as in config/app.php');
  t.equal(dates('WIT', '2023-03-14T15:00:00Z'), '2023-03-15 date-from-utc-midnight-WIT');
  t.equal(dates('UTC', '2023-03-15T00:00:00.000000Z'), '2023-03-15 date-from-midnight-timestamp', 'an app on UTC');
  t.equal(dates('WITA', '2023-03-15T00:00:00.000000Z'), '2023-03-15 date-from-utc-WIB', 'UTC midnight is a moment of the same day in every Indonesian zone');
  t.equal(dates(undefined, '2023-03-14T17:00:00.000000Z'), '2023-03-15 date-from-utc-midnight-WIB', 'no zone stated: the posyandu\'s (WIB) midnight');
  t.equal(dates(undefined, '2023-03-14T16:00:00.000000Z'), 'adapter.date-needs-time-zone@subject.birthDate<d', 'no zone stated and a WITA midnight at a WIB posyandu: refused, never guessed');
  t.equal(dates(undefined, '2023-03-14T15:00:00Z'), 'adapter.date-needs-time-zone@subject.birthDate<d', 'or a WIT one');
  t.equal(dates(undefined, '2023-03-14T20:31:10.000000Z'), '2023-03-15 date-from-utc-WIB', 'no zone stated, a moment that is no midnight: the posyandu\'s day');
  t.equal(dates('WITA', '2023-03-15T09:30:00+08:00'), '2023-03-15 date-from-datetime-offset', 'an offset: the date as written');
  t.equal(dates('WIB', '2023-03-14T20:31:10.000000Z'), '2023-03-15 date-from-utc-WIB', 'a moment: the day it was at the posyandu');
  t.equal(dates(undefined, '2023-03-15 10:20:00'), '2023-03-15 date-from-local-datetime');
  t.equal(dates('WITA', '2023-02-30T16:00:00Z'), 'adapter.not-a-date@subject.birthDate<d', 'a date that does not exist');
  t.equal(dates('WITA', 'kemarin'), 'adapter.not-a-date@subject.birthDate<d', 'unreadable: refused naming the field and the column');
  const moment = (timeZone: Adapter['timeZone'] | undefined, value: unknown) => {
    const out = run({ ...(timeZone ? { timeZone } : {}), records: [{ kind: 'immunization', fields: { occurredAt: { path: 'd', as: 'datetime' as const } } }] }, { d: value });
    return out.issues.length > 0 ? out.issues.map((i) => i.key).join() : `${String(out.records[0]?.record.occurredAt)} ${out.records[0]?.provenance[0]?.rules.join(',')}`;
  };
  t.equal(moment('WITA', '2025-08-12T16:00:00.000000Z'), '2025-08-13 date-from-utc-midnight-WITA', 'a date column as a moment is a date, not a visit at midnight');
  t.equal(moment('WIB', '2025-08-13T02:31:10.000000Z'), '2025-08-13T09:31:10+07:00 utc-to-WIB', 'a UTC moment in the posyandu\'s zone');
  t.equal(moment(undefined, '2025-08-13T02:31:10.000000Z'), '2025-08-13T09:31:10+07:00 utc-to-WIB', 'also when the app\'s zone is not stated');
  t.equal(moment(undefined, '2025-08-12T16:00:00.000000Z'), 'adapter.date-needs-time-zone', 'but a WITA midnight at a WIB posyandu is not read as 23:00 the day before');
  t.equal(moment(undefined, '2025-08-12T17:00:00.000000Z'), '2025-08-13 date-from-utc-midnight-WIB', 'the posyandu\'s own midnight is its date');
  t.equal(moment('WITA', '2025-08-13 09:31'), '2025-08-13T09:31:00+08:00 local-time-WITA', 'a local time in the app\'s zone');
  t.equal(moment(undefined, '2025-08-13 09:31'), '2025-08-13T09:31:00+07:00 local-time-WIB', 'not stated: the posyandu\'s');
  t.equal(moment('WIB', '2025-08-13T09:31:00+08:00'), '2025-08-13T09:31:00+08:00 ', 'an offset is kept');
  t.equal(moment('WIB', '13/08/2025'), '2025-08-13 day-month-year');
});

t.test('identity: the row\'s own birth date and sex win over the NIK\'s, with a warning naming both; a baby by its mother\'s NIK', async (t) => {
  const adapter = {
    relations: { pasien: ['kunjungan.pasien', 'pasien'] },
    records: [
      {
        kind: 'anthropometry',
        fields: {
          recordId: { template: 'k-{id}' },
          occurredAt: { path: 'tanggal', as: 'date' as const },
          posyandu: { context: 'posyandu' as const },
          'subject.nik': { path: 'pasien.nik', as: 'nik' as const, optional: true },
          'subject.name': { path: 'pasien.nama' },
          'subject.sex': { path: 'pasien.jk', map: 'sex', derive: 'sex-from-nik' as const },
          'subject.birthDate': { path: 'pasien.tgl_lahir', as: 'date' as const, derive: 'birth-date-from-nik' as const },
          'subject.mother.nik': { path: ['pasien.nik_ibu', 'pasien.orang_tua[hubungan=ibu].nik'], as: 'nik' as const, optional: true },
          weightKg: { path: 'bb', as: 'number' as const },
        },
      },
    ],
  };
  const now = new Date('2025-11-06T00:00:00Z');
  const row = (pasien: Record<string, unknown>) => ({ id: 7, tanggal: '2025-08-14', bb: '9,8', kunjungan: { pasien: { nama: 'Siti', ...pasien } } });
  // 3201015503230004: a girl born 15-03-23
  const [own] = run(adapter, row({ nik: '3201015503230004', jk: 'L', tgl_lahir: '2023-03-16' })).records;
  t.match(own?.record.subject, { sex: 'male', birthDate: '2023-03-16' }, 'the row\'s values are kept');
  t.same(own?.provenance.filter((p) => p.field === 'subject.sex' || p.field === 'subject.birthDate').map((p) => p.source), ['kunjungan.pasien.jk', 'kunjungan.pasien.tgl_lahir']);
  const judged = prepareRecord(own?.record, 'test-app', facilities, now);
  t.ok(judged.ok);
  const warnings = judged.ok ? judged.prepared.warnings.filter((w) => w.key.startsWith('nik.disagrees')) : [];
  t.same(warnings.map((w) => [w.key, w.params]), [
    ['nik.disagrees-birth-date', { inNik: '15-03-23', sent: '2023-03-16' }],
    ['nik.disagrees-sex', { inNik: 'female', sent: 'male' }],
  ]);
  t.equal(issueText(warnings[1]!, 'id'), 'Jenis kelamin menurut NIK sasaran (perempuan) tidak sama dengan jenis kelamin yang dikirim (laki-laki). Catatan diterima dengan jenis kelamin yang dikirim; periksa kembali.');
  const [fromNik] = run(adapter, row({ nik: '3201015503230004' })).records;
  t.match(fromNik?.record.subject, { sex: 'female', birthDate: '2023-03-15' }, 'no values in the row: read from the NIK');
  t.same(fromNik?.provenance.find((p) => p.field === 'subject.birthDate')?.rules, ['birth-date-from-nik']);
  const unreadable = run(adapter, row({ nik: '3201015503230004', tgl_lahir: '31-02-2023' })).records[0];
  t.same(unreadable?.issues.map((i) => [i.key, i.path]), [['adapter.not-a-date', 'subject.birthDate']], 'an unreadable birth date is refused, not replaced by the NIK\'s');
  const baby = run(adapter, row({ jk: 'P', tgl_lahir: '2025-07-01', orang_tua: [{ hubungan: 'Ayah', nik: '3201011203900001' }, { hubungan: 'Ibu', nik: '3201014507950002' }] })).records[0];
  t.same(baby?.record.subject, { name: 'Siti', sex: 'female', birthDate: '2025-07-01', mother: { nik: '3201014507950002' } });
  t.ok(prepareRecord(baby?.record, 'test-app', facilities, now).ok, 'a baby without NIK goes in by its mother\'s NIK');
  const nobody = run(adapter, row({ jk: 'P', tgl_lahir: '2024-07-01' })).records[0];
  const refused = prepareRecord(nobody?.record, 'test-app', facilities, now);
  t.same(refused.ok ? [] : refused.issues.map((i) => i.key), ['subject.needs-identity'], 'birth date and sex alone cannot identify a person to SATUSEHAT: refused');
});

t.test('the app\'s own values: numeric zero as not measured, status words, words mapped to nothing, unmapped values', async (t) => {
  const adapter = {
    records: [
      {
        kind: 'anc-visit',
        when: { status: ['diberikan', 'sudah'], dibatalkan: [0, '$absent'] },
        fields: {
          fundalHeightCm: { path: 'tfu', as: 'number' as const, optional: true, missing: [0] },
          status: { path: 'status', map: 'immunizationStatus' },
          vitaminA: { path: 'vit_a', map: { Merah: 'red', Biru: 'blue', Tidak: null }, optional: true },
          vaccine: { path: 'vaksin', map: { Campak: 'MR 1' }, unmapped: 'keep' as const },
          'performer.role': { path: 'petugas', map: { Bidan: 'bidan' }, unmapped: 'missing' as const, optional: true },
        },
      },
    ],
  };
  const read = (row: Record<string, unknown>) => run(adapter, { status: 'Diberikan', vaksin: 'BCG', ...row }).records[0];
  for (const zero of [0, 0.0, '0', '0.00', '0,0']) {
    const r = read({ tfu: zero });
    t.equal(r?.record.fundalHeightCm, undefined, `${JSON.stringify(zero)} is not measured`);
    t.same(r?.provenance.find((p) => p.field === 'fundalHeightCm'), { field: 'fundalHeightCm', source: 'tfu', original: zero, value: undefined, rules: ['missing-value'] }, 'and the provenance says so');
  }
  t.equal(read({ tfu: '0.5' })?.record.fundalHeightCm, 0.5, 'another number is read');
  t.equal(read({})?.record.status, 'given', 'the app\'s status word');
  t.equal(read({ status: 'SUDAH' })?.record.status, 'given');
  t.equal(read({ vit_a: 'tidak' })?.record.vitaminA, undefined, 'a word mapped to null: not given, no value');
  t.equal(read({ vit_a: 'Merah' })?.record.vitaminA, 'red');
  t.equal(read({ vaksin: 'Campak' })?.record.vaccine, 'MR 1', 'unmapped "keep": a mapped word is mapped');
  t.equal(read({ vaksin: 'DPT-HB-Hib 1' })?.record.vaccine, 'DPT-HB-Hib 1', 'and another is kept as it is');
  t.equal(read({ petugas: 'Kader Posyandu' })?.record.performer, undefined, 'unmapped "missing": another is not recorded');
  t.equal(run(adapter, { status: 'sudah', vaksin: 'BCG', dibatalkan: '0.00' }).records.length, 1, 'a number in when matches however it is written');
  t.same(run(adapter, { status: 'sudah', vaksin: 'BCG', dibatalkan: 1 }).issues.map((i) => i.key), ['adapter.not-a-record-value']);
  const planned = run(adapter, { status: 'belum', vaksin: 'BCG' });
  t.same(planned.issues.map((i) => [i.key, i.source, i.params?.value]), [['adapter.not-a-record-value', 'status', 'belum']], 'a dose not given yet is not a record, and the answer says which value');
});

t.test('a lone number in a "120/80" column: the diastolic is missing, not "150/150 swapped?"', async (t) => {
  const visit = { id: 66, tanggal: '2025-08-09', berat_badan: '62.00', lansia: { nama: 'Bambang', nik: '3201010106510001', tanggal_lahir: '1951-06-01', jenis_kelamin: 'L' } };
  const errors = (row: Record<string, unknown>) =>
    adaptParts({ ...visit, ...row }, 'simpel-posyandu-feri', facilities, '3201010001-01')
      .flatMap((p) => p.issues)
      .filter((i) => i.severity === 'error')
      .map((i) => `${i.key}@${i.path}<${i.source}`);
  t.same(errors({ tekanan_darah: '150' }), ['adapter.diastolic-missing@diastolic<tekanan_darah']);
  t.same(errors({ tekanan_darah: 150 }), ['adapter.diastolic-missing@diastolic<tekanan_darah'], 'also as a JSON number');
  t.same(errors({ tekanan_darah: '150/90' }), []);
  t.same(errors({ tekanan_darah: '14090' }), ['adapter.not-blood-pressure@systolic<tekanan_darah', 'adapter.not-blood-pressure@diastolic<tekanan_darah']);
  t.equal(message('adapter.diastolic-missing', 'en', { field: 'diastolic', source: 'tekanan_darah', value: '150' }), 'Diastolic blood pressure (mmHg) is missing: tekanan_darah holds one number only (150). Write the whole blood pressure, e.g. 120/80.');
  const split = { records: [{ kind: 'screening', fields: { systolic: { path: 'sistole', as: 'systolic' as const }, diastolic: { path: 'diastole', as: 'diastolic' as const } } }] };
  t.match(run(split, { sistole: '150', diastole: '90' }).records[0]?.record, { systolic: 150, diastolic: 90 }, 'split columns hold one number each');
});

t.test('each: one record per element of a list, named by the element the app sent', async (t) => {
  const adapter = {
    relations: { anak: ['kunjungan.anak', 'anak'] },
    records: [
      {
        kind: 'immunization',
        each: { path: 'kunjungan.imunisasi', as: 'dosis' },
        when: { 'dosis.status': ['diberikan'] },
        fields: {
          recordId: { template: 'imunisasi-{dosis.id}' },
          vaccine: { path: 'dosis.vaksin' },
          occurredAt: { path: ['dosis.tanggal', 'kunjungan.tanggal'], as: 'date' as const },
          'subject.name': { path: 'anak.nama' },
        },
      },
    ],
  };
  const row = {
    kunjungan: {
      tanggal: '2025-08-13', anak: { nama: 'Siti' },
      imunisasi: [{ id: 1, vaksin: 'BCG', status: 'diberikan' }, { id: 2, vaksin: 'Polio 1', status: 'belum' }, { id: 3, vaksin: 'DPT-HB-Hib 1', status: 'diberikan', tanggal: '2025-08-14' }],
    },
  };
  const out = run(adapter, row);
  t.same(out.records.map((r) => r.record), [
    { kind: 'immunization', recordId: 'imunisasi-1', vaccine: 'BCG', occurredAt: '2025-08-13', subject: { name: 'Siti' } },
    { kind: 'immunization', recordId: 'imunisasi-3', vaccine: 'DPT-HB-Hib 1', occurredAt: '2025-08-14', subject: { name: 'Siti' } },
  ], 'the given doses, each with the visit\'s child; the one not given is no record');
  t.same(out.records[1]?.provenance.map((p) => p.source), ['kunjungan.imunisasi[2].id', 'kunjungan.imunisasi[2].vaksin', 'kunjungan.imunisasi[2].tanggal', 'kunjungan.anak.nama']);
  const empty = run(adapter, { kunjungan: { ...row.kunjungan, imunisasi: [] } });
  t.same(empty.issues.map((i) => [i.key, i.source]), [['adapter.record-incomplete', 'kunjungan.imunisasi[0]']], 'an empty list: no record, and the answer says so');
  const missingField = run(adapter, { kunjungan: { ...row.kunjungan, imunisasi: [{ id: 4, status: 'diberikan' }] } });
  t.same(missingField.issues.map((i) => [i.key, i.path, i.source]), [['field.required', 'vaccine', 'kunjungan.imunisasi[0].vaksin']], 'a problem names the element');
});

t.test('a word the map names is a value, even one that usually means "nothing"', async (t) => {
  const adapter = { records: [{ kind: 'anc-visit', fields: { urineProtein: { path: 'protein', map: 'urineProtein', optional: true }, fetalPresentation: { path: 'letak', map: 'presentation', optional: true } } }] };
  t.equal(run(adapter, { protein: '-' }).records[0]?.record.urineProtein, 'negative', '"-" for a negative urine protein');
  t.equal(run(adapter, { letak: '-' }).records[0]?.record.fetalPresentation, undefined, 'a "-" the map does not name is still nothing');
});

// A Laravel service result (json_encode of the form's checkbox list) beside the visit it belongs to.
const jsonListAdapter: Pick<Adapter, 'records'> = {
  records: [
    {
      kind: 'anthropometry',
      fields: { recordId: { template: 'layanan-{id}' }, weightKg: { path: 'berat_badan', as: 'number' as const } },
    },
    {
      kind: 'immunization',
      each: { path: 'layanan.imunisasi', as: 'vaksin', jsonText: true },
      when: { berat_badan: ['$present'], vaksin: ['$present'] },
      fields: { recordId: { template: 'layanan-{id}-{vaksin#slug}' }, vaccine: { path: 'vaksin' }, occurredAt: { path: 'tanggal', as: 'date' as const } },
    },
  ],
};

t.test('each over a list the app keeps as JSON text: read as the list it holds; unreadable text refused naming the column', async (t) => {
  const row = (imunisasi: unknown) => ({ id: 120, tanggal: '2025-09-09', berat_badan: '9.60', layanan: { imunisasi } });
  const out = run(jsonListAdapter, row('["BCG", "Polio 1"]'));
  t.same(out.records.map((r) => r.record), [
    { kind: 'anthropometry', recordId: 'layanan-120', weightKg: 9.6 },
    { kind: 'immunization', recordId: 'layanan-120-bcg', vaccine: 'BCG', occurredAt: '2025-09-09' },
    { kind: 'immunization', recordId: 'layanan-120-polio-1', vaccine: 'Polio 1', occurredAt: '2025-09-09' },
  ], 'one dose per element of the text');
  t.same(out.records[2]?.provenance.map((p) => [p.field, p.source, p.original]), [
    ['recordId', 'id + layanan.imunisasi[1]', 'layanan-120-polio-1'],
    ['vaccine', 'layanan.imunisasi[1]', 'Polio 1'],
    ['occurredAt', 'tanggal', '2025-09-09'],
  ], 'provenance names the element of the text');
  t.same(run(jsonListAdapter, row(['BCG'])).records.map((r) => r.record.vaccine), [undefined, 'BCG'], 'a real JSON array is read too');
  t.same(run(jsonListAdapter, row('[]')).records.map((r) => r.record.kind), ['anthropometry'], 'an empty list: no dose');
  t.same(run(jsonListAdapter, row(null)).records.map((r) => r.record.kind), ['anthropometry'], 'no list: no dose');
  for (const broken of ['["BCG", "Polio 1"', 'BCG, Polio 1', '{"vaksin": "BCG"}']) {
    const bad = run(jsonListAdapter, row(broken));
    t.same(bad.records.map((r) => [r.record.kind, r.issues.map((i) => [i.key, i.path, i.source])]), [
      ['anthropometry', []],
      ['immunization', [['adapter.not-json-list', undefined, 'layanan.imunisasi']]],
    ], `${broken}: the weighing goes in, the list is refused naming its column`);
  }
  const [bad] = run(jsonListAdapter, row('BCG, Polio 1')).issues;
  t.equal(issueText(bad!, 'en'), 'layanan.imunisasi holds "BCG, Polio 1": not a list written as JSON text (e.g. ["BCG", "Polio"]), so its records cannot be read.');
  const noWeight = run(jsonListAdapter, { id: 1, tanggal: '2025-09-09', layanan: { imunisasi: '["BCG"' } });
  t.same(noWeight.issues.map((i) => i.key), ['field.required'], 'a broken list of an entry whose other conditions fail is not a record of it');
  const checked = checkAdapterText(JSON.stringify({ name: 'x', app: 'x', records: [{ kind: 'immunization', each: { path: 'a', as: 'v', jsonText: 'yes' }, fields: {} }] }), 'x.json', {});
  t.notOk(checked.ok, 'jsonText is true or false');
});

t.test('a record id from the element\'s position or a slug of its value', async (t) => {
  const adapter = { records: [{ kind: 'immunization', each: { path: 'imunisasi', as: 'v' }, fields: { recordId: { template: 'kunjungan-{id}-{#index}' }, vaccine: { path: 'v.nama' } } }] };
  const out = run(adapter, { id: 9, imunisasi: [{ nama: 'DPT-HB-Hib 1' }, { nama: 'Polio Tetes 1' }] });
  t.same(out.records.map((r) => r.record.recordId), ['kunjungan-9-0', 'kunjungan-9-1'], 'the position, from 0 as in imunisasi[0]');
  t.same(out.records[1]?.provenance[0]?.source, 'id + imunisasi[1]', 'the index names the element');
  const slugged = run({ records: [{ kind: 'immunization', each: { path: 'imunisasi', as: 'v' }, fields: { recordId: { template: 'k-{id}-{v.nama#slug}' } } }] }, { id: 9, imunisasi: [{ nama: ' Imunisasi  Dasar Lengkap ' }, { nama: 'Hepatitis B₀ (HB-0)' }, { nama: 'Campak Rubéla' }] });
  t.same(slugged.records.map((r) => r.record.recordId), ['k-9-imunisasi-dasar-lengkap', 'k-9-hepatitis-b0-hb-0', 'k-9-campak-rubela']);
  const file = (template: string, each = true) => checkAdapterText(JSON.stringify({ name: 'x', app: 'x', records: [{ kind: 'immunization', ...(each ? { each: { path: 'a', as: 'v' } } : {}), fields: { recordId: { template } } }] }), 'x.json', {});
  const problems = (c: ReturnType<typeof file>) => (c.ok ? [] : c.problems.map((p) => [p.pointer, p.message]));
  t.same(problems(file('k-{#index}', false)), [['/records/0/fields/recordId/template', '"{#index}" is the position of an element: only in an entry with "each"']]);
  t.same(problems(file('k-{v#upper}')), [['/records/0/fields/recordId/template', '"#upper" is not a template filter (only "#slug", or "{#index}")']]);
  t.ok(file('k-{a|v.b#slug}-{#index}').ok);
});

t.test('a problem with a field filled from a template names the columns it read', async (t) => {
  const adapter = {
    records: [{
      kind: 'immunization',
      fields: {
        recordId: { template: 'imunisasi-{id}-{jenis_imunisasi}' },
        occurredAt: { path: 'tanggal', as: 'date' as const },
        posyandu: { context: 'posyandu' as const },
        'subject.nik': { path: 'nik', as: 'nik' as const },
        'subject.name': { path: 'nama' },
        'subject.sex': { const: 'female' },
        'subject.birthDate': { path: 'tgl_lahir', as: 'date' as const },
        vaccine: { template: '{jenis_imunisasi} {dosis|dosis_ke}' },
      },
    }],
  };
  const row = { id: 7, tanggal: '2025-08-13', nik: '3201015503230004', nama: 'Siti', tgl_lahir: '2023-03-15', jenis_imunisasi: 'Vaksin X', dosis_ke: 2 };
  const [rec] = run(adapter, row).records;
  t.same(rec?.provenance.filter((p) => p.field === 'recordId' || p.field === 'vaccine').map((p) => p.source), ['id + jenis_imunisasi', 'jenis_imunisasi + dosis_ke'], 'the columns each template read');
  const prepared = prepareRecord(rec?.record, 'test-app', facilities, new Date('2025-11-06T00:00:00Z'));
  const issues = withSources(prepared.ok ? [] : prepared.issues, rec!).map((i) => [i.path, i.source]);
  t.same(issues, [['recordId', 'id + jenis_imunisasi']], 'a recordId with a space names id and jenis_imunisasi');
  const [unknown] = run(adapter, { ...row, jenis_imunisasi: 'VaksinX' }).records;
  const vaccine = prepareRecord(unknown?.record, 'test-app', facilities, new Date('2025-11-06T00:00:00Z'));
  t.same(withSources(vaccine.ok ? [] : vaccine.issues, unknown!).map((i) => [i.key, i.path, i.source]), [['vaccine.unknown', 'vaccine', 'jenis_imunisasi + dosis_ke']], 'an unknown vaccine names both columns');
  const [none] = run(adapter, { ...row, jenis_imunisasi: '', dosis_ke: null }).records;
  t.same(none?.issues.filter((i) => i.path === 'vaccine').map((i) => [i.key, i.source]), [['field.required', 'jenis_imunisasi + dosis | dosis_ke']], 'nothing there: every place tried');
});

t.test('jsonText: an object or list the app keeps as JSON text, read wherever the entry reads it', async (t) => {
  const adapter: Pick<Adapter, 'records'> = {
    records: [
      { kind: 'immunization', when: { vaksin: ['$present'] }, fields: { recordId: { template: 'v-{id}' }, vaccine: { path: 'vaksin' } } },
      {
        kind: 'anthropometry',
        jsonText: ['detail'],
        when: { 'detail.jenis': ['timbang'] },
        fields: { recordId: { template: 't-{id}' }, weightKg: { path: 'detail.berat_kg', as: 'number' }, heightCm: { path: 'detail.ukur.tinggi_cm', as: 'number', optional: true } },
      },
    ],
  };
  const read = (detail: unknown) => run(adapter, { id: 5, vaksin: 'BCG', detail });
  const text = read('{"jenis": "timbang", "berat_kg": 9.5, "ukur": {"tinggi_cm": "76,5"}}');
  t.same(text.records.map((r) => r.record), [
    { kind: 'immunization', recordId: 'v-5', vaccine: 'BCG' },
    { kind: 'anthropometry', recordId: 't-5', weightKg: 9.5, heightCm: 76.5 },
  ], 'the condition and the fields read the object in the text');
  t.same(text.records[1]?.provenance.map((p) => p.source), ['id', 'detail.berat_kg', 'detail.ukur.tinggi_cm']);
  t.same(read({ jenis: 'timbang', berat_kg: 9.5 }).records[1]?.record.weightKg, 9.5, 'an object is read as it is');
  t.same(read('{"jenis": "imunisasi"}').records.map((r) => r.record.kind), ['immunization'], 'the text is judged by the entry\'s when');
  for (const broken of ['{"jenis": "timbang", "berat_kg": 9,5}', 'timbang 9,5 kg', '"timbang"']) {
    const out = read(broken);
    t.same(out.records.map((r) => [r.record.kind, r.issues.map((i) => [i.key, i.source, i.params?.value])]), [
      ['immunization', []],
      ['anthropometry', [['adapter.not-json-text', 'detail', broken]]],
    ], `${broken}: refused naming the column; the row's other record goes in`);
  }
  t.equal(issueText(read('timbang').issues[0]!, 'en'), 'detail holds "timbang": not the JSON text the app keeps there (an object or a list), so the values in it cannot be read.');

  // the JSON text of each element of a list
  const each: Pick<Adapter, 'records'> = {
    records: [{ kind: 'immunization', each: { path: 'layanan', as: 'l' }, jsonText: ['l.hasil'], fields: { recordId: { template: 'l-{l.id}' }, vaccine: { path: 'l.hasil.vaksin' } } }],
  };
  const elements = run(each, { layanan: [{ id: 1, hasil: '{"vaksin": "BCG"}' }, { id: 2, hasil: '{"vaksin": "Polio 1"' }] });
  t.same(elements.records.map((r) => [r.record.vaccine, r.issues.map((i) => [i.key, i.source])]), [['BCG', []], [undefined, [['adapter.not-json-text', 'layanan[1].hasil']]]], 'each element\'s own text; a broken one names the element');
  const file = checkAdapterText(JSON.stringify({ name: 'x', app: 'x', records: [{ kind: 'screening', jsonText: ['detail..x'], fields: {} }] }), 'x.json', {});
  t.same(file.ok ? [] : file.problems.map((p) => p.pointer), ['/records/0/jsonText/0'], 'a jsonText path is checked as a path');
});

t.test('JSON text under a relation or an element picked by a property: read in a copy, the row left as the app sent it', async (t) => {
  const row = { kunjungan: { pasien: { nama: 'Siti', catatan: '{"alergi": "tidak"}' } }, orang_tua: [{ hubungan: 'Ayah' }, { hubungan: 'Ibu', data: '{"nik": "3201014507950002"}' }] };
  const copy = replaceAt(row, 'orang_tua[hubungan=ibu].data', { nik: '3201014507950002' });
  t.equal(at(copy, 'orang_tua[1].data.nik'), '3201014507950002');
  t.equal(row.orang_tua[1]?.data, '{"nik": "3201014507950002"}', 'the row itself is not changed');
  t.same(replaceAt(row, 'orang_tua[hubungan=kakek].data', {}), row, 'a path that leads nowhere leaves the row as it is');
  const adapter: Partial<Adapter> & Pick<Adapter, 'records'> = {
    relations: { pasien: ['kunjungan.pasien', 'pasien'] },
    records: [{ kind: 'anc-visit', jsonText: ['pasien.catatan', 'orang_tua[hubungan=ibu].data'], fields: { 'subject.name': { path: 'pasien.nama' }, 'subject.nik': { path: 'orang_tua[hubungan=ibu].data.nik', as: 'nik' }, note: { path: 'pasien.catatan.alergi', optional: true } } }],
  };
  const [r] = run(adapter, row).records;
  t.same(r?.provenance.map((p) => [p.field, p.source, p.value]), [
    ['subject.name', 'kunjungan.pasien.nama', 'Siti'],
    ['subject.nik', 'orang_tua[hubungan=ibu].data.nik', '3201014507950002'],
    ['note', 'kunjungan.pasien.catatan.alergi', 'tidak'],
  ]);
});
