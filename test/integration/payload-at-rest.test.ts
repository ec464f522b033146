import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { constants, inflateRawSync } from 'node:zlib';
import { Redis } from 'ioredis';
import t from 'tap';
import { startFhirServer } from '../helpers/fhir-server.js';
import { RetentionSweeper } from '../../src/sync/retention.js';
import { getJson, memoryLogger, postJson, sandboxUpstream, startGateway, waitFor } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { keysOf, payloadOf } from '../helpers/store.js';
import { RECORD_FIELDS as F, upstreamField } from '../../src/sync/store/keys.js';
import { RedisLedger } from '../../src/sync/store/redis-ledger.js';
import { validAncVisit, withChanges } from '../fixtures/records.js';

// Personal fields of what Gerbang stores are sealed: after records with known NIKs and names
// were accepted, delivered and refused, no key or value of the store, no line of its append-only
// file and no file of the gateway's data directory holds one in clear, while an admin still reads
// them back and the upstream still gets the right Patient. This file scans the Redis ledger
// (`ledger.store: "redis"`); pg-ledger.test.ts scans every row of every table of the PostgreSQL one.

const POSYANDU = '3201010001-01';
const NIK_SYSTEM = 'https://fhir.kemkes.go.id/id/nik';
const root = join(import.meta.dirname, '..', '..');

const redisServer = await startRedis(); // append-only file on, as the private Redis has it
const fhir = await startFhirServer();
const gw = await startGateway({ redisUrl: redisServer.url, ledgerStore: 'redis', upstreams: [{ name: 'sandbox', ...sandboxUpstream(fhir.baseUrl) }] });
const redis = new Redis(redisServer.url);
t.teardown(async () => {
  redis.disconnect();
  await gw.close();
  await fhir.stop();
  await redisServer.stop();
});

// Invented people, each NIK and name used once in this file.
const child = { nik: '3201016608240013', name: 'Kirana Puspitasari' };
const mother = { nik: '3201014912960005', name: 'Wulandari Hapsari' };
const kader = { name: 'Sumiyati Rahayu' };
const refusedChild = { nik: '3201012107240031', name: 'Bagas Pratama Wirawan' };
const bidan = { name: 'Lestiani Anggraeni', nik: '3201014702880004' };
const adapterChild = { nik: '5171021005230021', name: 'Arya Wiguna', midwife: 'Kusumawardani' };
const secrets = [child.nik, child.name, mother.nik, mother.name, kader.name, refusedChild.nik, refusedChild.name, bidan.name, bidan.nik, adapterChild.nik, adapterChild.name, adapterChild.midwife];
/** also a name's words alone, in any case: "Kirana", "PUSPITASARI" */
const needles = [...new Set([...secrets, ...secrets.filter((s) => !/^\d+$/.test(s)).flatMap((s) => s.split(' ').filter((w) => w.length >= 5))])];

const GZIP = Buffer.from([0x1f, 0x8b, 0x08]);

/**
 * The bytes as stored, and what they say once unpacked: every gzip member in them inflated, and
 * every base64 `sealed` value decoded. Packing is not sealing: a NIK in a gzip blob is in clear.
 */
function readable(b: Buffer): Buffer[] {
  const out = [b];
  for (let i = b.indexOf(GZIP); i >= 0; i = b.indexOf(GZIP, i + 1)) {
    try {
      out.push(inflateRawSync(b.subarray(i + 10), { finishFlush: constants.Z_SYNC_FLUSH }));
    } catch {
      // not a gzip member after all
    }
  }
  for (const m of b.toString('latin1').matchAll(/"sealed":"([A-Za-z0-9+/=\\]+)"/g)) out.push(...readable(Buffer.from(m[1]!.replace(/\\/g, ''), 'base64')));
  return out;
}

function found(haystack: Buffer | string): string[] {
  const parts = typeof haystack === 'string' ? [haystack] : readable(haystack).map((b) => b.toString('latin1'));
  return needles.filter((n) => parts.some((p) => p.toLowerCase().includes(n.toLowerCase())));
}

const ids: Record<string, string> = {};

t.test('records with known people are accepted, delivered, one refused with the upstream echoing the person', async (t) => {
  // The upstream's refusal quotes the person, as real servers' diagnostics do.
  fhir.rejectContaining(refusedChild.nik, 422, {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'invalid', diagnostics: `Patient ${refusedChild.name} (NIK ${refusedChild.nik}) is not valid here` }],
  });
  const a = await postJson(`${gw.url}/v1/records?source=app`, withChanges({ recordId: 'REST-1', subject: { ...child, sex: 'female', birthDate: '2024-08-26', mother }, performer: { role: 'kader', name: kader.name } }));
  const b = await postJson(`${gw.url}/v1/records?source=app`, withChanges({ recordId: 'REST-2', subject: { ...refusedChild, sex: 'male', birthDate: '2024-07-21' } }));
  const c = await postJson(`${gw.url}/v1/records?source=app`, withChanges({ recordId: 'REST-3', performer: { role: 'bidan', ...bidan } }, validAncVisit as never));
  const sample = JSON.parse(readFileSync(join(root, 'test/fixtures/samples/e-kohort__child_growth_record__01.json'), 'utf8')) as unknown;
  const d = await postJson(`${gw.url}/v1/records?source=e-kohort&posyandu=${POSYANDU}`, sample);
  for (const [name, res] of Object.entries({ a, b, c, d })) {
    t.equal(res.status, 202, `${name} accepted`);
    ids[name] = res.body.id ?? res.body.records?.[0]?.id;
  }
  for (const [name, id] of Object.entries(ids)) {
    const want = name === 'b' ? 'failed' : 'synced';
    await waitFor(async () => (await getJson(`${gw.url}/v1/records/${id}`)).body.upstreams?.sandbox?.state === want, 30_000, `${name} ${want}`);
  }
});

t.test('delivery still sends the right Patient', async (t) => {
  const [patient] = await fhir.search<{ resourceType: 'Patient'; name?: Array<{ text?: string }>; identifier?: Array<{ system?: string; value?: string }> }>('Patient', { identifier: `${NIK_SYSTEM}|${child.nik}` });
  t.ok(patient, 'the child is at the upstream, found by NIK');
  t.equal(patient?.name?.[0]?.text, child.name);
  const [fromAdapter] = await fhir.search('Patient', { identifier: `${NIK_SYSTEM}|${adapterChild.nik}` });
  t.ok(fromAdapter, "the adapter's child is at the upstream");
});

t.test('an admin key still reads names, NIKs, provenance and the upstream words', async (t) => {
  const refused = (await getJson(`${gw.url}/v1/records/${ids.b}`)).body;
  t.match(JSON.stringify(refused.upstreams.sandbox.outcome), refusedChild.nik, "the upstream's OperationOutcome, opened");
  t.match(refused.upstreams.sandbox.lastError, { code: 'upstream.http-422', message: 'the upstream answered HTTP 422' });
  const adapted = (await getJson(`${gw.url}/v1/records/${ids.d}`)).body;
  t.match(JSON.stringify(adapted.provenance), adapterChild.name, 'provenance with what the app sent');
  t.notOk(adapted.payloadUnreadable);
  const failures = (await getJson(`${gw.url}/v1/sync/failures?upstream=sandbox`)).body;
  t.match(failures.items, [{ id: ids.b, subject: { nik: refusedChild.nik, name: refusedChild.name }, reason: { category: 'rejected', code: 'upstream.http-422' } }]);
  t.match(failures.items[0].reason.detail, refusedChild.name, 'the reason quotes the upstream, opened');
  const listed = (await getJson(`${gw.url}/v1/records`)).body;
  t.same(listed.items.map((i: { id: string }) => i.id).sort(), Object.values(ids).sort(), 'the list of what posyandu sent still has them');
  const summary = (await getJson(`${gw.url}/v1/sync/summary?upstream=sandbox`)).body;
  t.match(JSON.stringify(summary), /"synced":3/, 'counts still kept');
});

t.test('no key or value in Redis holds a NIK or a name', async (t) => {
  let keys = 0;
  let values = 0;
  let clearMetadata = 0;
  const leaks: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scanBuffer(cursor, 'COUNT', 200);
    cursor = next.toString();
    for (const key of batch) {
      keys += 1;
      const name = key.toString('latin1');
      for (const hit of found(key)) leaks.push(`key ${name}: ${hit}`);
      const type = await redis.type(key);
      const parts: Buffer[] = [];
      if (type === 'string') parts.push((await redis.getBuffer(key))!);
      else if (type === 'hash') parts.push(...Object.entries(await redis.hgetallBuffer(key)).flatMap(([f, v]) => [Buffer.from(f), v]));
      else if (type === 'list') parts.push(...(await redis.lrangeBuffer(key, 0, -1)));
      else if (type === 'set') parts.push(...(await redis.smembersBuffer(key)));
      else if (type === 'zset') parts.push(...(await redis.zrangeBuffer(key, 0, -1)));
      else if (type === 'stream') parts.push(Buffer.from(JSON.stringify(await redis.xrange(key, '-', '+'))));
      else t.fail(`key ${name} of type ${type} not read`);
      const dump = await redis.dumpBuffer(key);
      if (dump) parts.push(dump);
      for (const p of parts) {
        values += 1;
        if (p.includes(Buffer.from(POSYANDU))) clearMetadata += 1;
        for (const hit of found(p)) leaks.push(`${name}: ${hit}`);
      }
    }
  } while (cursor !== '0');
  t.ok(keys > 20 && values > 100, `${keys} keys and ${values} values read`);
  t.ok(clearMetadata > 0, 'the scan reads values: the posyandu code is there in clear');
  t.same(leaks, [], 'nothing personal in clear');
});

t.test("the append-only file on disk and the gateway's data directory hold no NIK or name", async (t) => {
  await new Promise((r) => setTimeout(r, 1_200)); // appendfsync everysec
  const files = (dir: string): string[] =>
    existsSync(dir) ? readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)])) : [];
  const aof = files(redisServer.dir).filter((f) => f.includes('appendonly'));
  const aofText = Buffer.concat(aof.map((f) => readFileSync(f)));
  t.ok(aofText.length > 10_000, `${aof.length} append-only files, ${aofText.length} bytes`);
  t.ok(aofText.includes(Buffer.from('REST-2')), 'the file holds the records (their ids in clear)');
  t.same(found(aofText), [], 'no NIK or name in the append-only file');
  const dataFiles = files(gw.config.dataDir);
  t.ok(dataFiles.some((f) => f.endsWith('payload.key')), 'the generated payload key is in the data directory');
  for (const f of dataFiles) {
    t.same(found(readFileSync(f)), [], `${f.slice(gw.config.dataDir.length)}: nothing personal`);
    t.equal(statSync(f).mode & 0o077, 0, `${f.slice(gw.config.dataDir.length)}: readable by this user only`);
  }
  t.notOk(gw.logs.some((l) => found(l).length > 0), 'and no log line');
  t.ok(gw.logs.some((l) => /security\.payloadKeys not set/.test(l) && !l.includes(readFileSync(join(gw.config.dataDir, 'payload.key'), 'utf8'))), 'the log says a key was generated, without it');
});

t.test('a changed sealed value is detected: the record says so, is not sent, and no answer is a 5xx', async (t) => {
  const key = keysOf(gw.config).record(ids.b!);
  for (const field of [F.record, F.bundle]) {
    const sealed = (await redis.hgetBuffer(key, field))!;
    sealed[sealed.length - 20]! ^= 0x01;
    await redis.hset(key, field, sealed);
  }
  fhir.clearRejections();
  const sentBefore = fhir.requests.length;
  t.equal((await postJson(`${gw.url}/v1/records/${ids.b}/$retry?upstream=sandbox`, {})).status, 202, 'replayed');
  const record = await waitFor(async () => {
    const r = (await getJson(`${gw.url}/v1/records/${ids.b}`)).body;
    return r.upstreams.sandbox.state === 'failed' && r.upstreams.sandbox.lastError?.code === 'payload.tampered' ? r : undefined;
  }, 15_000, 'failed as tampered');
  t.match(record.payloadUnreadable, { reason: 'tampered' });
  t.match(record.upstreams.sandbox.lastError.message, /integrity check/);
  t.equal(fhir.requests.slice(sentBefore).filter((r) => r.body.includes(refusedChild.nik)).length, 0, 'nothing of it sent again');
  const failures = await getJson(`${gw.url}/v1/sync/failures?upstream=sandbox`);
  t.equal(failures.status, 200);
  t.match(failures.body.items, [{ id: ids.b, reason: { code: 'payload.tampered' }, payloadUnreadable: { reason: 'tampered' } }]);
  t.notOk(failures.body.items[0].subject, 'no person to show');
  t.ok(gw.logs.some((l) => /"level":(50|"error")/.test(l) && l.includes('integrity check') && l.includes(ids.b!)), 'the worker logs it as an error');
});

t.test("retention drops the upstream's words with the payload; the states stay", async (t) => {
  const sweeper = new RetentionSweeper({ ledger: new RedisLedger(redis, keysOf(gw.config), payloadOf(gw.config)), retention: gw.config.retention, logger: memoryLogger('info').logger });
  t.ok((await sweeper.sweep(Date.now() + (gw.config.retention.unsyncedPayloadDays + 1) * 86_400_000)) >= 4, 'every payload dropped');
  for (const id of Object.values(ids)) {
    const raw = (await redis.hget(keysOf(gw.config).record(id), upstreamField('sandbox')))!;
    t.notMatch(raw, /"sealed"/, 'no words kept');
    t.doesNotThrow(() => JSON.parse(raw), 'still JSON');
  }
  const refused = (await getJson(`${gw.url}/v1/records/${ids.b}`)).body;
  t.ok(refused.payloadDroppedAt);
  t.match(refused.upstreams.sandbox, { state: 'failed', lastError: { code: 'payload.tampered' } });
  t.notOk(refused.upstreams.sandbox.lastError.message, 'the words went with the payload');
  t.notOk(refused.payloadUnreadable, 'nothing left to read');
  const synced = (await getJson(`${gw.url}/v1/records/${ids.a}`)).body;
  t.equal(synced.upstreams.sandbox.state, 'synced');
  t.ok(synced.upstreams.sandbox.resources.some((r: { resourceType: string; id: string }) => r.resourceType === 'Patient' && r.id), 'a synced state keeps the upstream ids');
});
