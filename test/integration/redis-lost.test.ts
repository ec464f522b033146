import t from 'tap';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Encounter } from '@medplum/fhirtypes';
import { validAnthropometry, withChanges } from '../fixtures/records.js';
import { startFhirServer } from '../helpers/fhir-server.js';
import { getJson, postJson, sandboxUpstream, startGateway, waitFor } from '../helpers/gateway.js';
import { freshLedgerDatabase } from '../helpers/ledger-database.js';
import { startRedis } from '../helpers/redis-server.js';

// The ledger is in PostgreSQL, the jobs in Redis. A Redis that loses its data (a restart without
// its append-only file, a failover to an empty replica, a FLUSHALL) takes the jobs with it, but
// not the records: the dispatcher makes every delivery not settled due again when it takes its
// lock anew, with the job ids they had, and they go through, once each. Counted at a real FHIR
// engine.

const redis = await startRedis({ appendonly: false });
const fhir = await startFhirServer();
const flush = async () => {
  const r = new Redis(redis.url);
  await r.flushall();
  r.disconnect();
};
t.teardown(async () => {
  await fhir.stop();
  await redis.stop();
});
const upstreams = [{ name: 'sandbox', ...sandboxUpstream(fhir.baseUrl) }];
// the gateways of one deployment share their keys (each test gateway has a data directory of its own)
const security = { payloadKeys: { current: 'k', keys: { k: 'ef'.repeat(32) } }, historyKey: 'x'.repeat(40) };

async function scenario(databaseUrl: string, prefix: string) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  const queuedAsJobs = () => waitFor(async () => Number((await pool.query('SELECT count(*) AS n FROM outbox')).rows[0].n) === 0, 15_000, 'the outbox turned into jobs');
  return { pool, queuedAsJobs, body: (n: number) => withChanges({ recordId: `${prefix}-${n}`, subject: { ...validAnthropometry.subject, nik: `320101450123${String(1000 + n)}`, name: `Anak ${prefix}` } }) };
}

async function encountersOf(prefix: string): Promise<number> {
  const all = await fhir.search<Encounter>('Encounter', {});
  return all.filter((e) => e.identifier?.some((i) => i.value?.startsWith(`${prefix}-`) || i.value?.includes(`.${prefix}-`))).length;
}

t.test('Redis emptied while no gateway runs: the next one delivers every record, once', async (t) => {
  const databaseUrl = await freshLedgerDatabase();
  const s = await scenario(databaseUrl, 'LOST');
  t.teardown(() => s.pool.end());
  const accepting = await startGateway({ redisUrl: redis.url, databaseUrl, upstreams, security, delivery: { runWorker: false } });
  const ids: string[] = [];
  for (let n = 0; n < 3; n++) ids.push((await postJson(`${accepting.url}/v1/records?source=app`, s.body(n))).body.id);
  await s.queuedAsJobs();
  await accepting.close();
  await flush();

  const delivering = await startGateway({ redisUrl: redis.url, databaseUrl, upstreams, security });
  t.teardown(() => delivering.close());
  for (const id of ids) await waitFor(async () => (await getJson(`${delivering.url}/v1/records/${id}`)).body.status === 'synced', 60_000, `${id} synced`);
  t.ok(delivering.logs.some((l) => l.includes('every delivery not settled is due again') && l.includes('"deliveries":3')), 'the dispatcher made the three due again');
  t.equal(await encountersOf('LOST'), 3, 'three visits at the FHIR engine, none twice');
});

t.test('Redis emptied under a running gateway: its dispatcher takes the lock anew and makes them due again', async (t) => {
  const databaseUrl = await freshLedgerDatabase();
  const s = await scenario(databaseUrl, 'FLUSH');
  t.teardown(() => s.pool.end());
  const accepting = await startGateway({ redisUrl: redis.url, databaseUrl, upstreams, security, delivery: { runWorker: false } });
  t.teardown(() => accepting.close());
  const ids: string[] = [];
  for (let n = 0; n < 2; n++) ids.push((await postJson(`${accepting.url}/v1/records?source=app`, s.body(n))).body.id);
  await s.queuedAsJobs();
  const before = accepting.logs.length;
  await flush();
  await waitFor(() => accepting.logs.slice(before).some((l) => l.includes('every delivery not settled is due again') && l.includes('"deliveries":2')), 15_000, 'the deliveries due again');
  await s.queuedAsJobs();
  // a worker of its own (this gateway's dispatcher holds the lock, so it is the one that did it)
  const worker = await startGateway({ redisUrl: redis.url, databaseUrl, upstreams, security });
  t.teardown(() => worker.close());
  for (const id of ids) await waitFor(async () => (await getJson(`${worker.url}/v1/records/${id}`)).body.status === 'synced', 60_000, `${id} synced`);
  t.equal(await encountersOf('FLUSH'), 2, 'two visits, none twice');
});
