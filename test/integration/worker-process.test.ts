import t from 'tap';
import { startFhirServer } from '../helpers/fhir-server.js';
import { getJson, postJson, sandboxUpstream, spawnGateway, waitFor, withLedgerDatabase, writeTestConfig } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { withChanges } from '../fixtures/records.js';

// Scaling out: the gateway only takes records (runWorker: false); `gerbang worker` processes push them.

const redis = await startRedis();
const fhir = await startFhirServer();
// one ledger database on the file's PostgreSQL server for both processes (not a private server)
const cfg = writeTestConfig(await withLedgerDatabase({ redisUrl: redis.url, upstreams: [{ name: 'sandbox', ...sandboxUpstream(fhir.baseUrl) }], delivery: { runWorker: false } }));
const env = { GERBANG_CONFIG: cfg.path, REDIS_URL: redis.url, HOST: '127.0.0.1', PORT: '0' };
t.teardown(async () => {
  await fhir.stop();
  await redis.stop();
  cfg.cleanup();
});

t.test('records wait until a worker process runs, then go through', async (t) => {
  const gateway = await spawnGateway(env);
  t.teardown(async () => {
    gateway.child.kill('SIGTERM');
    await gateway.exited;
  });
  const res = await postJson(`${gateway.url}/v1/records?source=scale`, withChanges({ recordId: 'W-1' }));
  t.equal(res.status, 202);
  await new Promise((r) => setTimeout(r, 700));
  t.equal((await getJson(`${gateway.url}/v1/records/${res.body.id}`)).body.status, 'queued', 'no worker in the gateway');
  t.equal(fhir.requests.length, 0);

  const worker = await spawnGateway(env, ['worker']);
  const rec = await waitFor(async () => {
    const r = await getJson(`${gateway.url}/v1/records/${res.body.id}`);
    return r.body.status === 'synced' ? r.body : undefined;
  }, 20_000, 'synced by the worker process');
  t.equal(rec.upstreams.sandbox.attempts, 1);
  worker.child.kill('SIGTERM');
  t.equal(await worker.exited, 0, 'the worker stops cleanly');
});
