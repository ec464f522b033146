import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import t from 'tap';
import { gunzipSync } from 'node:zlib';
import { PayloadCipher } from '../../src/sync/payload-cipher.js';
import { StoredPayload } from '../../src/sync/stored-payload.js';
import { RECORD_FIELDS as F, SEALED_WORDS_PROPERTY, storeKeys, upstreamOfField } from '../../src/sync/store/keys.js';
import { startFhirServer } from '../helpers/fhir-server.js';
import { getJson, postJson, runGerbang, sandboxUpstream, startGateway, waitFor, writeTestConfig, type InProcessGateway } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { withChanges } from '../fixtures/records.js';

// Rotating the payload key as docs/at-rest.md says: records sealed with key A, key B added and made
// current, `gerbang keys rotate-payloads`, key A removed; the records are still read and delivered.
// A gateway that lacks a record's key says so and keeps the record, and the command refuses to call
// the rotation done while a value is still sealed with a key it does not have. A record stored in
// clear by 0.4.x is sealed by the same command. The gateways and the command share a key prefix
// other than the default one: the command finds the records under the configured prefix. This file
// rotates the Redis ledger (its gateways keep `ledger.store: "redis"`); pg-payload-rotation.test.ts
// the PostgreSQL one.

const NIK_SYSTEM = 'https://fhir.kemkes.go.id/id/nik';
const KEY_A = randomBytes(32).toString('hex');
const KEY_B = randomBytes(32).toString('hex');
const onlyA = { payloadKeys: { current: 'a', keys: { a: KEY_A } } };
const both = { payloadKeys: { current: 'b', keys: { a: KEY_A, b: KEY_B } } };
const onlyB = { payloadKeys: { current: 'b', keys: { b: KEY_B } } };
const prefixes = { keyPrefix: 'rot:', queuePrefix: 'rot-q' };
const keys = storeKeys(prefixes.keyPrefix, prefixes.queuePrefix);

const redisServer = await startRedis();
const fhir = await startFhirServer();
const redis = new Redis(redisServer.url);
const upstreams = [{ name: 'sandbox', ...sandboxUpstream(fhir.baseUrl) }];
let gw: InProcessGateway | undefined;
t.teardown(async () => {
  redis.disconnect();
  await gw?.close();
  await fhir.stop();
  await redisServer.stop();
});

const people = [
  { nik: '3201016209240017', name: 'Anindya Maharani' },
  { nik: '3201011404240025', name: 'Rafael Nugroho' },
  { nik: '3201013011240009', name: 'Citra Ayuningtyas' },
];
const ids: string[] = [];

/** The key ids of every sealed value in the store: record, bundle and provenance fields, and the upstream words. */
async function keyIdsInStore(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const add = (b: Buffer) => {
    const id = PayloadCipher.keyIdOf(b) ?? 'clear';
    counts[id] = (counts[id] ?? 0) + 1;
  };
  for (const key of await redis.keys(keys.record('*'))) {
    const h = await redis.hgetallBuffer(key);
    for (const f of [F.record, F.bundle, F.provenance]) if (h[f]) add(h[f]!);
    for (const [f, v] of Object.entries(h)) {
      const sealed = upstreamOfField(f) !== undefined ? (JSON.parse(v.toString()) as Record<string, string | undefined>)[SEALED_WORDS_PROPERTY] : undefined;
      if (sealed) add(Buffer.from(sealed, 'base64'));
    }
  }
  return counts;
}

/** Every file of Redis' append-only file, concatenated. */
function appendOnlyFiles(): Buffer {
  const dir = join(redisServer.dir, 'appendonlydir');
  return Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
}

/** The header that starts a value sealed with `keyId`. */
const sealedWith = (keyId: string) => Buffer.concat([Buffer.from([0x00, 0xe1, keyId.length]), Buffer.from(keyId)]);

async function rotate(security: Record<string, unknown>): Promise<{ code: number; stdout: string; stderr: string }> {
  const cfg = writeTestConfig({ redisUrl: redisServer.url, upstreams, security, redis: prefixes, ledgerStore: 'redis' });
  try {
    const env = { GERBANG_CONFIG: cfg.path, REDIS_URL: redisServer.url, HOST: '127.0.0.1' };
    return await runGerbang(['keys', 'rotate-payloads'], env);
  } finally {
    cfg.cleanup();
  }
}

t.test('records are sealed with key A while the upstream is not pushed to', async (t) => {
  gw = await startGateway({ redisUrl: redisServer.url, upstreams, security: onlyA, delivery: { runWorker: false }, redis: prefixes, ledgerStore: 'redis' });
  for (const [i, p] of people.entries()) {
    const res = await postJson(`${gw.url}/v1/records?source=app`, withChanges({ recordId: `ROT-${i}`, subject: { ...p, sex: 'female', birthDate: '2024-09-22' } }));
    t.equal(res.status, 202);
    ids.push(res.body.id);
  }
  t.same(await keyIdsInStore(), { a: 6 }, 'record and Bundle of each, under key a');
  await gw.close();
  gw = undefined;
});

t.test('a gateway without key A keeps the records, says why, and answers without a 5xx', async (t) => {
  gw = await startGateway({ redisUrl: redisServer.url, upstreams, security: onlyB, redis: prefixes, ledgerStore: 'redis' });
  const first = ids[0]!;
  const shown = await waitFor(async () => {
    const r = await getJson(`${gw!.url}/v1/records/${first}`);
    return r.body.upstreams?.sandbox?.lastError?.code === 'payload.key-missing' ? r : undefined;
  }, 20_000, 'retrying for its key');
  t.equal(shown.status, 200);
  t.equal(shown.body.upstreams.sandbox.state, 'retrying', 'kept, retried');
  t.match(shown.body.payloadUnreadable, { keyId: 'a', reason: 'key-missing' });
  t.match(shown.body.upstreams.sandbox.lastError.message, /payload key "a".*security\.payloadKeys/);
  t.notMatch(JSON.stringify(shown.body), people[0]!.name);
  t.ok(gw.logs.some((l) => /"level":(50|"error")/.test(l) && l.includes('"payloadKey":"a"')), 'an error line for the operator names the key');
  t.equal(fhir.requests.filter((r) => r.method === 'POST').length, 0, 'nothing sent');
  await gw.close();
  gw = undefined;
});

t.test('the command refuses to finish without key A, and changes nothing', async (t) => {
  const before = await keyIdsInStore();
  const r = await rotate(onlyB);
  t.equal(r.code, 1, 'exit 1');
  t.match(r.stderr, /sealed with key "a", which is not in security\.payloadKeys: add it back/);
  t.same(await keyIdsInStore(), before);
});

t.test('with A kept and B current, the command seals everything with B (also a record 0.4 stored in clear)', async (t) => {
  // One record as 0.4.x left it: the record as JSON text, the Bundle gzip, nothing sealed.
  const legacy = keys.record(ids[2]!);
  const withA = new StoredPayload(new PayloadCipher(onlyA.payloadKeys));
  const h = await redis.hgetallBuffer(legacy);
  const [source, recordId] = [h[F.source]!.toString(), h[F.recordId]!.toString()];
  await redis.hset(legacy, F.record, gunzipSync(withA.openField(F.record, source, recordId, h[F.record]!)).toString());
  await redis.hset(legacy, F.bundle, withA.openField(F.bundle, source, recordId, h[F.bundle]!));
  t.match(await keyIdsInStore(), { clear: 2 });
  t.ok(appendOnlyFiles().includes(sealedWith('a')), 'the append-only file holds values sealed with a');
  const r = await rotate(both);
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { records: number; resealed: number; unreadable: object; currentKey: string };
  t.match(report, { currentKey: 'b', records: 3, unreadable: {}, appendOnlyFileRewrite: 'done' });
  t.ok(report.resealed >= 6, `${report.resealed} values sealed again (record, Bundle and the upstream words of each)`);
  t.notOk(r.stderr.includes(KEY_A) || r.stderr.includes(KEY_B) || r.stdout.includes(KEY_B), 'no key printed');
  const counts = await keyIdsInStore();
  t.same(Object.keys(counts), ['b'], 'every sealed value under b');
  const aof = appendOnlyFiles();
  t.ok(aof.includes(sealedWith('b')), 'the rewritten append-only file holds the values sealed with b');
  t.notOk(aof.includes(sealedWith('a')), 'and none sealed with a any more');
  t.notOk(aof.includes(Buffer.from(people[2]!.name)), 'nor the record that was in clear');
  t.same((await rotate(both)).code, 0, 'a second run finds nothing to do');
});

t.test('with A removed, the records are read and delivered', async (t) => {
  gw = await startGateway({ redisUrl: redisServer.url, upstreams, security: onlyB, redis: prefixes, ledgerStore: 'redis' });
  for (const [i, id] of ids.entries()) {
    const r = await waitFor(async () => {
      const b = (await getJson(`${gw!.url}/v1/records/${id}`)).body;
      return b.upstreams?.sandbox?.state === 'synced' ? b : undefined;
    }, 30_000, `record ${i} synced`);
    t.notOk(r.payloadUnreadable);
    const [patient] = await fhir.search<{ resourceType: 'Patient'; name?: Array<{ text?: string }> }>('Patient', { identifier: `${NIK_SYSTEM}|${people[i]!.nik}` });
    t.equal(patient?.name?.[0]?.text, people[i]!.name, `${people[i]!.name} at the upstream`);
  }
});
