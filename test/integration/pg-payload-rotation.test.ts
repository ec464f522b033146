import { randomBytes } from 'node:crypto';
import t from 'tap';
import pg from 'pg';
import { PayloadCipher } from '../../src/sync/payload-cipher.js';
import { SEALED_WORDS_PROPERTY } from '../../src/sync/store/keys.js';
import { startFhirServer } from '../helpers/fhir-server.js';
import { getJson, postJson, runGerbang, sandboxUpstream, startGateway, waitFor, writeTestConfig, type InProcessGateway } from '../helpers/gateway.js';
import { freshLedgerDatabase } from '../helpers/ledger-database.js';
import { startRedis } from '../helpers/redis-server.js';
import { withChanges } from '../fixtures/records.js';

// Rotating the payload key of the PostgreSQL ledger as docs/at-rest.md says: records sealed with
// key A, key B added and made current,
// `gerbang keys rotate-payloads`, key A removed; the records are still read and delivered. Without
// key A the command refuses to call the rotation done, and changes nothing.

const KEY_A = randomBytes(32).toString('hex');
const KEY_B = randomBytes(32).toString('hex');
const onlyA = { payloadKeys: { current: 'a', keys: { a: KEY_A } } };
const both = { payloadKeys: { current: 'b', keys: { a: KEY_A, b: KEY_B } } };
const onlyB = { payloadKeys: { current: 'b', keys: { b: KEY_B } } };

const redis = await startRedis();
const fhir = await startFhirServer();
const databaseUrl = await freshLedgerDatabase();
const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
const upstreams = [{ name: 'sandbox', ...sandboxUpstream(fhir.baseUrl) }];
let gw: InProcessGateway | undefined;
t.teardown(async () => {
  await gw?.close();
  await pool.end();
  await fhir.stop();
  await redis.stop();
});
const people = [
  { nik: '3201016209240017', name: 'Anindya Maharani' },
  { nik: '3201011404240025', name: 'Rafael Nugroho' },
];
const ids: string[] = [];

/** The key ids of every sealed value in the ledger's tables: payloads and the upstream words in the states. */
async function keyIdsInStore(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const add = (b: Buffer) => {
    const id = PayloadCipher.keyIdOf(b) ?? 'clear';
    counts[id] = (counts[id] ?? 0) + 1;
  };
  for (const row of (await pool.query<{ record: Buffer; bundle: Buffer; provenance: Buffer | null }>('SELECT record, bundle, provenance FROM record_payloads')).rows) {
    for (const b of [row.record, row.bundle, row.provenance]) if (b) add(b);
  }
  for (const row of (await pool.query<{ status: string }>('SELECT status FROM upstream_states')).rows) {
    const sealed = (JSON.parse(row.status) as Record<string, string | undefined>)[SEALED_WORDS_PROPERTY];
    if (sealed) add(Buffer.from(sealed, 'base64'));
  }
  return counts;
}

async function rotate(security: Record<string, unknown>): Promise<{ code: number; stdout: string; stderr: string }> {
  const cfg = writeTestConfig({ redisUrl: redis.url, databaseUrl, upstreams, security });
  try {
    const env = { GERBANG_CONFIG: cfg.path, REDIS_URL: redis.url, HOST: '127.0.0.1' };
    return await runGerbang(['keys', 'rotate-payloads'], env);
  } finally {
    cfg.cleanup();
  }
}

t.test('records sealed with key A while the upstream is not pushed to', async (t) => {
  fhir.setDelay(0);
  gw = await startGateway({ redisUrl: redis.url, databaseUrl, upstreams, security: onlyA, delivery: { runWorker: false } });
  for (const [i, p] of people.entries()) {
    const res = await postJson(`${gw.url}/v1/records?source=app`, withChanges({ recordId: `PROT-${i}`, subject: { ...p, sex: 'female', birthDate: '2024-09-22' } }));
    t.equal(res.status, 202);
    ids.push(res.body.id);
  }
  t.same(await keyIdsInStore(), { a: 4 }, 'record and Bundle of each, under key a');
  await gw.close();
  gw = undefined;
});

t.test('without key A the command exits 1 and changes nothing', async (t) => {
  const before = await keyIdsInStore();
  const r = await rotate(onlyB);
  t.equal(r.code, 1, 'exit 1');
  t.match(r.stderr, /sealed with key "a", which is not in security\.payloadKeys: add it back/);
  t.same(await keyIdsInStore(), before);
});

t.test('with A kept and B current, everything is sealed with B; a second run finds nothing to do', async (t) => {
  const r = await rotate(both);
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { records: number; resealed: number; unreadable: object; currentKey: string };
  t.match(report, { currentKey: 'b', records: 2, unreadable: {} });
  t.equal(report.resealed, 4, 'record and Bundle of each');
  t.notOk(r.stderr.includes(KEY_A) || r.stderr.includes(KEY_B) || r.stdout.includes(KEY_B), 'no key printed');
  t.same(await keyIdsInStore(), { b: 4 }, 'every sealed value under b');
  const again = await rotate(both);
  t.equal(again.code, 0);
  t.match(JSON.parse(again.stdout), { resealed: 0 });
});

t.test('with A removed, the records are read and delivered', async (t) => {
  gw = await startGateway({ redisUrl: redis.url, databaseUrl, upstreams, security: onlyB });
  for (const [i, id] of ids.entries()) {
    const r = await waitFor(async () => {
      const b = (await getJson(`${gw!.url}/v1/records/${id}`)).body;
      return b.upstreams?.sandbox?.state === 'synced' ? b : undefined;
    }, 30_000, `record ${i} synced`);
    t.notOk(r.payloadUnreadable);
  }
});
