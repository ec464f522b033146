import t from 'tap';
import type { Encounter } from '@medplum/fhirtypes';
import { validAncVisit, validAnthropometry, validImmunization, validScreening, withChanges } from '../fixtures/records.js';
import { startFhirServer } from '../helpers/fhir-server.js';
import { getJson, postJson, runGerbang, sandboxUpstream, startGateway, waitFor, writeTestConfig } from '../helpers/gateway.js';
import { freshLedgerDatabase } from '../helpers/ledger-database.js';
import { startRedis } from '../helpers/redis-server.js';

// The upgrade a 0.4/0.5 gateway on the Redis ledger goes through, from the README's commands: a
// gateway on the Redis ledger synced some records to a real FHIR engine and left others queued;
// `gerbang ledger import` brings them into PostgreSQL; the gateway on PostgreSQL then delivers the
// queued ones and sends none of the synced ones again. Counted at the FHIR engine.

const redis = await startRedis();
const fhir = await startFhirServer();
t.teardown(async () => {
  await fhir.stop();
  await redis.stop();
});
// the same keys on both sides of the upgrade, as a deployment has them in its configuration
const security = { payloadKeys: { current: 'k1', keys: { k1: 'cd'.repeat(32) } }, historyKey: 'h'.repeat(40) };
const upstreams = [{ name: 'sandbox', ...sandboxUpstream(fhir.baseUrl) }];
const databaseUrl = await freshLedgerDatabase();

const state = async (url: string, id: string) => (await getJson(`${url}/v1/records/${id}`)).body;
const synced = (url: string, id: string) => waitFor(async () => ((await state(url, id)).status === 'synced' ? true : undefined), 60_000, `${id} synced`);

const ids: string[] = [];
/** pushes each synced record took before the upgrade */
const attemptsBefore = new Map<string, number>();
const post = async (url: string, body: unknown) => {
  const res = await postJson(`${url}/v1/records?source=app`, body);
  if (res.status !== 202) throw new Error(`not accepted: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
};

t.test('a Redis-ledger gateway syncs three records, then accepts three more while it does not deliver', async (t) => {
  const first = await startGateway({ redisUrl: redis.url, ledgerStore: 'redis', upstreams, security });
  for (const body of [validAnthropometry, validImmunization, validAncVisit]) ids.push(await post(first.url, body));
  for (const id of ids) await synced(first.url, id);
  for (const id of ids) attemptsBefore.set(id, (await state(first.url, id)).upstreams.sandbox.attempts);
  await first.close();
  const second = await startGateway({ redisUrl: redis.url, ledgerStore: 'redis', upstreams, security, delivery: { runWorker: false } });
  ids.push(await post(second.url, validScreening));
  ids.push(await post(second.url, withChanges({ recordId: 'ANAK-2', subject: { ...validAnthropometry.subject, nik: '3201014501230099', name: 'Anak Kedua' } })));
  // a correction of a synced record: its next version, queued
  const corrected = await post(second.url, withChanges({ weightKg: validAnthropometry.weightKg + 0.2 }));
  t.equal(corrected, ids[0], 'the correction is the same record');
  t.equal((await state(second.url, corrected)).version, 2);
  await second.close();
  t.equal(ids.length, 5);
});

t.test('gerbang ledger import brings them into PostgreSQL', async (t) => {
  const cfg = writeTestConfig({ redisUrl: redis.url, ledgerStore: 'postgres', databaseUrl, upstreams, security });
  t.teardown(cfg.cleanup);
  const run = (args: string[]) => runGerbang(args, { GERBANG_CONFIG: cfg.path, REDIS_URL: redis.url, DATABASE_URL: databaseUrl });
  const r = await run(['ledger', 'import']);
  t.equal(r.code, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { records: 5, imported: 5, skipped: 0, countsImported: true });
  t.match(r.stderr, /5 records imported into PostgreSQL/);
  t.notMatch(r.stderr + r.stdout, /Anak|3201014501230099|cd{8}/, 'no name, NIK or key in what it wrote');
  const again = await run(['ledger', 'import']);
  t.equal(again.code, 0);
  t.match(JSON.parse(again.stdout), { imported: 0, skipped: 5 }, 'run again: nothing twice');
});

t.test('the gateway on PostgreSQL delivers what was queued and sends nothing synced again', async (t) => {
  const before = await fhir.search<Encounter>('Encounter', {});
  t.equal(before.length, 3, 'three visits at the FHIR engine before the upgrade');
  const gw = await startGateway({ redisUrl: redis.url, ledgerStore: 'postgres', databaseUrl, upstreams, security });
  t.teardown(() => gw.close());
  for (const id of ids) await synced(gw.url, id);
  const after = await fhir.search<Encounter>('Encounter', {});
  t.equal(after.length, 5, 'five records, one visit each: none sent twice');
  const corrected = await state(gw.url, ids[0]!);
  t.equal(corrected.version, 2);
  const encounterId = corrected.upstreams.sandbox.resources.find((r: { resourceType: string }) => r.resourceType === 'Encounter').id;
  t.equal(before.some((e) => e.id === encounterId), true, 'the correction updated the visit it had written, not a new one');
  for (const id of ids.slice(1, 3)) t.equal((await state(gw.url, id)).upstreams.sandbox.attempts, attemptsBefore.get(id), `${id}: synced before the upgrade, not pushed since`);
  const summary = await getJson(`${gw.url}/v1/sync/summary`);
  t.equal(summary.status, 200);
  const sandbox = summary.body.upstreams.find((u: { upstream: string }) => u.upstream === 'sandbox');
  t.same(sandbox.totals.counts, { queued: 0, sending: 0, retrying: 0, 'waiting-identity': 0, synced: 5, failed: 0 }, 'the status API counts them all synced, once');
});
