import t from 'tap';
import pg from 'pg';
import type { Encounter } from '@medplum/fhirtypes';
import { ledgerServer } from '../helpers/ledger-database.js';
import { openLedgerOf } from '../helpers/store.js';
import { waitFor } from '../helpers/gateway.js';
import { checkEngine, isRunning, killHard, postRecord, recordOfKind, SOURCE, startProcessStack, untilAllSynced, type Posted } from '../helpers/process-stack.js';

// Issue 15's faults on the PostgreSQL ledger, with real processes (two API processes without a
// worker, two `gerbang worker` processes, one database, one Redis): PostgreSQL SIGKILLed and
// restarted in the middle of a drain, then SIGKILL of an API process right after its 202s and of
// a worker in the middle of its pushes. Whatever was answered 202 reaches the FHIR engine exactly
// once; what was refused while PostgreSQL was away is nowhere.

const stack = await startProcessStack({ apis: 2, workers: 2 });
const { fhir } = stack;
const databaseUrl = stack.config.database.url ?? '';
const api = () => {
  const running = stack.apis.filter(isRunning);
  const a = running[0];
  if (!a) throw new Error('no API process running');
  return a;
};

/** rows in record_keys: one per record the ledger accepted */
async function recordKeys(): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM record_keys')).rows[0]?.n);
  } finally {
    await client.end();
  }
}

const accepted: Array<{ id: string; record: Record<string, unknown> }> = [];
const keep = (posted: Posted[], records: Array<Record<string, unknown>>) => {
  posted.forEach((p, i) => {
    if (p.status === 202) accepted.push({ id: p.body.id, record: records[i] ?? {} });
  });
};

t.test('PostgreSQL SIGKILLed mid-drain: ingest is a fast 503, nothing half-accepted, every accepted record synced once after the restart', async (t) => {
  const pgServer = await ledgerServer();
  const [a, b] = stack.apis;
  if (!a || !b) throw new Error('two API processes');
  fhir.setDelay(300); // a drain of some seconds
  const records = Array.from({ length: 12 }, (_, n) => recordOfKind(n, 'R'));
  const posted = await Promise.all(records.map((r, n) => postRecord(n % 2 === 0 ? a : b, r)));
  t.same(posted.map((p) => p.status), Array(records.length).fill(202), `${records.length} records accepted`);
  keep(posted, records);
  await waitFor(() => fhir.requests.filter((r) => r.method === 'POST' && r.status === 200).length >= 2, 20_000, 'the drain under way');
  const deliveredBeforeKill = new Set(fhir.requests.filter((r) => r.status === 200).map((r) => r.body.match(/pgf\.R-\d+/)?.[0])).size;

  await pgServer.kill();
  const killedAt = Date.now();
  const lateRecords = Array.from({ length: 6 }, (_, n) => recordOfKind(100 + n, 'L'));
  const refused: Posted[] = [];
  for (const [n, r] of lateRecords.entries()) refused.push(await postRecord(n % 2 === 0 ? a : b, r));
  await new Promise((r) => setTimeout(r, 1_500)); // the workers meet the outage too
  await pgServer.restart();
  const downMs = Date.now() - killedAt;

  t.same(refused.map((p) => [p.status, p.body?.issue?.[0]?.details?.coding?.[0]?.code]), lateRecords.map(() => [503, 'store.unavailable']), 'every record posted while PostgreSQL was away was refused as store.unavailable');
  t.ok(refused.every((p) => p.ms < 3_000), `fast (${refused.map((p) => p.ms).join(', ')} ms)`);
  t.ok(deliveredBeforeKill < records.length, `killed with records still to deliver (${deliveredBeforeKill} of ${records.length} begun)`);

  const restarted = Date.now();
  await untilAllSynced(api, accepted.map((x) => x.id), 90_000);
  t.comment(`PostgreSQL away ${downMs} ms; all ${accepted.length} synced ${Date.now() - restarted} ms after the restart`);
  t.equal(await recordKeys(), accepted.length, 'record_keys holds the accepted records and none of the refused');
  const resources = await checkEngine(t, api(), fhir, accepted.map((x) => x.record));
  for (const r of lateRecords) {
    const enc = await fhir.search<Encounter>('Encounter', { identifier: `http://sys-ids.kemkes.go.id/encounter/10000004|${SOURCE}.${String(r.recordId)}` });
    const enc5 = await fhir.search<Encounter>('Encounter', { identifier: `http://sys-ids.kemkes.go.id/encounter/10000005|${SOURCE}.${String(r.recordId)}` });
    t.equal(enc.length + enc5.length, 0, `refused ${String(r.recordId)} is not at the engine`);
  }
  t.comment(`${resources} resources checked`);
});

t.test('SIGKILL of an API process right after its 202s and of a worker mid-push: replacements deliver every record once', async (t) => {
  const [a, b] = stack.apis;
  const [w1] = stack.workers;
  if (!a || !b || !w1) throw new Error('the processes of the stack');
  const store = await openLedgerOf(stack.config);
  t.teardown(() => store.close());
  fhir.setDelay(800); // pushes stay in flight long enough to be killed in the middle
  const records = Array.from({ length: 12 }, (_, n) => recordOfKind(200 + n, 'K'));
  // the first half to the API process that is killed as soon as it has answered them
  const toA = records.slice(0, 6);
  const toB = records.slice(6);
  const postedA = await Promise.all(toA.map((r) => postRecord(a, r)));
  await killHard(a);
  const postedB = await Promise.all(toB.map((r) => postRecord(b, r)));
  t.same([...postedA, ...postedB].map((p) => p.status), Array(records.length).fill(202), 'all accepted (the first 6 by the process killed after answering)');
  keep(postedA, toA);
  keep(postedB, toB);
  const ids = [...postedA, ...postedB].map((p) => p.body.id as string);

  // Killed while it pushes: records sending, with the engine slow to answer.
  const sending = await waitFor(async () => {
    const states = await Promise.all(ids.map((id) => store.ledger.stateAt(id, 'sandbox')));
    const n = states.filter((s) => s?.status.state === 'sending').length;
    return n >= 2 ? n : undefined;
  }, 30_000, 'the workers pushing');
  await killHard(w1);
  // no exit code: it ended by the signal, in the middle of its pushes, not on its own
  t.equal(await w1.exited, null, `worker SIGKILLed with ${sending} records sending`);
  await Promise.all([stack.spawnApi(), stack.spawnWorker()]);
  fhir.setDelay(100);

  const started = Date.now();
  await untilAllSynced(api, ids, 90_000);
  t.comment(`${ids.length} records synced ${Date.now() - started} ms after the replacements started`);
  const retried = (await Promise.all(ids.map((id) => store.ledger.stateAt(id, 'sandbox')))).filter((s) => (s?.status.attempts ?? 0) >= 2).length;
  // the engine failed nothing here: a record pushed twice is one whose push was cut by the kill and taken again
  t.ok(retried >= 1, `the killed worker's pushes were taken again (${retried} records pushed more than once)`);
  t.equal(await recordKeys(), accepted.length, 'record_keys holds every accepted record, once');
  const resources = await checkEngine(t, api(), fhir, accepted.map((x) => x.record));
  t.comment(`${resources} resources checked for ${accepted.length} records`);
});
