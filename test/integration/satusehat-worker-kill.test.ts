import { randomBytes } from 'node:crypto';
import t from 'tap';
import { spawnGateway, startGateway, waitFor, withLedgerDatabase, writeTestConfig, type ChildGateway } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { FHIR_PATH, isTransaction, startSatusehatServer } from '../helpers/satusehat-server.js';
import { ancRecord, checkServerMatchesAccepted, childRecord, postAll, satusehatFacilities, satusehatUpstream, seedPeople, untilAllSynced } from '../helpers/satusehat-drain.js';

// The delivery worker as its own process (`gerbang worker`), SIGKILLed three times while
// SATUSEHAT has committed a transaction and not yet answered it (a timeout after the write, as
// seen from the gateway). Each new worker takes the dead one's jobs again; the SATUSEHAT path must
// look the resources up before sending again (resend marker) or adopt them on a duplicate answer.

const KILLS = 3;

t.test('worker SIGKILLed mid-push three times: no record lost, no resource twice on SATUSEHAT', async (t) => {
  const redis = await startRedis();
  const srv = await startSatusehatServer();
  // Separate processes with their own data directories share the payload key by configuration.
  const security = { payloadKeys: { current: 'test-1', keys: { 'test-1': randomBytes(32).toString('hex') } } };
  // and one ledger database (on PostgreSQL), which the worker processes must see too
  const options = await withLedgerDatabase({ redisUrl: redis.url, upstreams: [satusehatUpstream(srv)], facilities: satusehatFacilities(), delivery: { runWorker: false }, security });
  // The HTTP gateway takes records and runs no worker; the worker processes read the same configuration.
  const gw = await startGateway(options);
  const cfg = writeTestConfig(options);
  const env = { GERBANG_CONFIG: cfg.path, REDIS_URL: redis.url, HOST: '127.0.0.1', LOG_LEVEL: 'info' };
  const workers: ChildGateway[] = [];
  t.teardown(async () => {
    for (const w of workers) {
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
      await w.exited;
    }
    await gw.close();
    cfg.cleanup();
    await srv.close();
    await redis.stop();
  });

  const records = Array.from({ length: 24 }, (_, i) => (i % 3 === 2 ? ancRecord(600 + i) : childRecord(600 + i)));
  await seedPeople(srv, records);
  // Every transaction is carried out at once and answered 1.2 s later: a kill then lands after the write.
  srv.delayNext(100_000, 1_200, { on: 'transaction' });
  const sent = await postAll(gw.url, 'kill', records);

  const unanswered: number[] = [];
  for (let i = 0; i < KILLS; i++) {
    const spawnedAt = Date.now();
    const w = await spawnGateway(env, ['worker']);
    workers.push(w);
    // This worker's own transactions, not the dead one's, whose answers may still be held.
    const inFlight = () => srv.heldAnswers().filter((r) => isTransaction(r) && r.status === 200 && r.at >= spawnedAt);
    await waitFor(() => inFlight().length > 0, 30_000, `worker ${i + 1} has a transaction in flight`);
    unanswered.push(inFlight().length);
    w.child.kill('SIGKILL');
    await w.exited;
  }
  const encountersAfterKills = (await srv.resources('Encounter')).length;
  srv.clearFaults();
  const last = await spawnGateway(env, ['worker']);
  workers.push(last);
  await untilAllSynced(gw.url, sent, 60_000);

  t.equal(unanswered.length, KILLS, `killed ${KILLS} times, each time with committed transactions unanswered (${unanswered.join(', ')})`);
  t.ok(encountersAfterKills < records.length, `the last worker still had ${records.length - encountersAfterKills} records to deliver`);
  const lookups = srv.requests.filter((r) => r.method === 'GET' && r.path === `${FHIR_PATH}/Encounter`).length;
  t.ok(lookups >= unanswered.reduce((a, b) => a + b, 0), `records pushed again were looked up by identifier first (${lookups} Encounter searches)`);
  // Pushes that raced to create a posyandu's Location met SATUSEHAT's duplicate rule and adopted it.
  const duplicates = srv.requests.filter((r) => isTransaction(r) && r.status === 400).length;
  t.comment(`${lookups} Encounter lookups, ${duplicates} transactions refused as duplicates and adopted`);
  await checkServerMatchesAccepted(t, srv, gw.url, sent);

  last.child.kill('SIGTERM');
  t.equal(await last.exited, 0, 'the last worker stops cleanly');
});
