import { join } from 'node:path';
import t from 'tap';
import { hashApiKey } from '../../src/http/auth/api-keys.js';
import { validAnthropometry, withChanges } from '../fixtures/records.js';
import { startFhirServer } from '../helpers/fhir-server.js';
import { sandboxUpstream, startGateway, waitFor } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { openLedgerOf } from '../helpers/store.js';

// A district's day: records from three posyandu in two puskesmas, some refused by the upstream,
// then the summary, the failures list, the record list and the metrics compared with what was
// sent; a replay of one record and a bulk replay of the rest; retention of synced payloads.

const A1 = '3201010001-01';
const A2 = '3201010001-02';
const B = '5271010002-01';
const keys = { admin: 'gbk_status-admin', monitorA: 'gbk_status-monitor-a' };

const redis = await startRedis();
const fhir = await startFhirServer();
const gw = await startGateway({
  redisUrl: redis.url,
  upstreams: [
    { name: 'sandbox', ...sandboxUpstream(fhir.baseUrl) },
    { name: 'outbox', kind: 'outbox', directory: join(process.cwd(), '.tap', `outbox-${process.pid}`) },
  ],
  apiKeys: [
    { id: 'dinkes', hash: hashApiKey(keys.admin), role: 'admin' },
    { id: 'pkm-a', hash: hashApiKey(keys.monitorA), role: 'monitor', scope: { puskesmas: ['P3201010101'] } },
  ],
  retention: { payloadDays: 0, sweepIntervalMinutes: 0.01 },
});
t.teardown(async () => {
  await gw.close();
  await fhir.stop();
  await redis.stop();
});

async function call(method: string, path: string, key: string, body?: unknown) {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text };
}

// Each child its own NIK (serial 0101…) and name, so that masking can be checked per record.
let serial = 100;
function child(recordId: string, posyandu: string) {
  serial += 1;
  return withChanges({
    recordId,
    posyandu,
    subject: { ...validAnthropometry.subject, nik: `320101550323${String(serial).padStart(4, '0')}`, name: `Anak Nomor ${serial}` },
  });
}

const plan: Array<[string, string]> = [
  ['ST-1', A1], ['ST-2', A1], ['ST-3', A1], ['FAIL-1', A1],
  ['ST-4', A2], ['ST-5', A2],
  ['ST-6', B], ['FAIL-2', B],
];
// The upstream refuses the two FAIL records, quoting the patient back as some servers do.
const refusal = (nik: string, name: string) => ({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'business-rule', diagnostics: `Patient ${name} (NIK ${nik}) is not registered at this facility` }],
});
const ids = new Map<string, string>();
const sent = new Map<string, ReturnType<typeof child>>();
for (const [recordId, posyandu] of plan) {
  const rec = child(recordId, posyandu);
  sent.set(recordId, rec);
  if (recordId.startsWith('FAIL')) {
    const s = rec.subject as { nik: string; name: string };
    fhir.rejectContaining(recordId, 422, refusal(s.nik, s.name));
  }
  const res = await call('POST', '/v1/records', keys.admin, rec);
  // (set-up: tap ends a file's root test at its first idle assertion, so no assertions out here)
  if (res.status !== 202) throw new Error(`${recordId} was not accepted: ${JSON.stringify(res.body)}`);
  ids.set(recordId, res.body.id);
}
const refusedBad = await call('POST', '/v1/records', keys.admin, withChanges({ recordId: 'BAD-1', weightKg: 'berat' }));

const summary = async (key = keys.admin) => (await call('GET', '/v1/sync/summary', key)).body;
const sandboxOf = (s: any) => s.upstreams.find((u: any) => u.upstream === 'sandbox');
const outboxOf = (s: any) => s.upstreams.find((u: any) => u.upstream === 'outbox');

await waitFor(async () => {
  const s = await summary();
  return sandboxOf(s).totals.counts.synced === 6 && sandboxOf(s).totals.counts.failed === 2 && outboxOf(s).totals.counts.synced === 8;
}, 30_000, 'all records settled');

t.test('the summary counts what was sent, per upstream and per place', async (t) => {
  t.equal(refusedBad.status, 422, 'a bad record is refused (and counted)');
  const s = await summary();
  const sb = sandboxOf(s);
  t.same(sb.totals.counts, { queued: 0, sending: 0, retrying: 0, 'waiting-identity': 0, synced: 6, failed: 2 });
  t.equal(sb.totals.unsynced, 2);
  t.same(sb.regencies.map((r: any) => r.code).sort(), ['3201', '5271']);
  const regA = sb.regencies.find((r: any) => r.code === '3201');
  const pkA = regA.puskesmas[0];
  t.equal(pkA.code, 'P3201010101');
  t.equal(pkA.name, 'Puskesmas Cibinong (demo)');
  const pos = Object.fromEntries(pkA.posyandu.map((p: any) => [p.code, p]));
  t.same([pos[A1].counts.synced, pos[A1].counts.failed], [3, 1]);
  t.same([pos[A2].counts.synced, pos[A2].counts.failed], [2, 0]);
  t.equal(pos[A1].health, 'problem', 'a failed record is red');
  t.equal(pos[A2].health, 'ok');
  t.equal(pkA.health, 'problem', 'and so is its puskesmas');
  t.ok(pos[A1].oldestUnsyncedAt, 'the backlog has an age');
  t.notOk(pos[A2].oldestUnsyncedAt);
  t.ok(Date.parse(pos[A2].lastSyncedAt) > Date.now() - 60_000, 'last sync just now');
  t.equal(sb.latencySeconds.count, 6);
  t.ok(sb.latencySeconds.p50 > 0 && sb.latencySeconds.p95 >= sb.latencySeconds.p50);
  const today = sb.days.at(-1);
  t.same([today.accepted, today.synced, today.failed], [8, 6, 2]);
  t.equal(sb.days.length, 14);
  t.same(outboxOf(s).totals.counts.synced, 8, 'the other upstream has them all');
});

t.test('failures: reasons in plain words, filters, pages, identity only for admins', async (t) => {
  const all = await call('GET', '/v1/sync/failures?upstream=sandbox', keys.admin);
  t.equal(all.status, 200);
  t.equal(all.body.items.length, 2);
  const f1 = all.body.items.find((i: any) => i.recordId === 'FAIL-1');
  t.equal(f1.reason.category, 'rejected');
  t.equal(f1.reason.code, 'upstream.http-422');
  t.match(f1.reason.text, /^Ditolak server tujuan: Patient Anak Nomor/);
  t.equal(f1.outcome.resourceType, 'OperationOutcome', "the upstream's OperationOutcome is kept");
  t.equal(f1.subject.nik, (sent.get('FAIL-1')!.subject as { nik: string }).nik, 'an admin sees who it is');

  const mine = await call('GET', '/v1/sync/failures', keys.monitorA);
  t.equal(mine.body.items.length, 1, "puskesmas A's monitor sees only A's failure");
  const item = mine.body.items[0];
  t.equal(item.recordId, 'FAIL-1');
  t.notOk(item.subject, 'no subject for a monitor');
  const text = JSON.stringify(item);
  t.notOk(/\d{16}/.test(text), 'no NIK, even inside the upstream words');
  t.notOk(text.includes((sent.get('FAIL-1')!.subject as { name: string }).name), 'no name either');

  const en = await fetch(`${gw.url}/v1/sync/failures?posyandu=${B}`, { headers: { authorization: `Bearer ${keys.admin}`, 'accept-language': 'en' } });
  t.match(((await en.json()) as any).items[0].reason.text, /^Refused by the upstream server/);

  const count = async (q: string) => (await call('GET', `/v1/sync/failures?${q}`, keys.admin)).body.items.length;
  t.equal(await count('reason=rejected'), 2);
  t.equal(await count('reason=upstream.http-422'), 2);
  t.equal(await count('reason=gave-up'), 0);
  t.equal(await count('kind=screening'), 0);
  t.equal(await count(`posyandu=${A2}`), 0);
  t.equal(await count('puskesmas=P5271010101'), 1);
  t.equal(await count('upstream=outbox'), 0);
  t.equal(await count(`from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`), 0);
  t.equal(await count(`to=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`), 0);

  const page1 = await call('GET', '/v1/sync/failures?limit=1', keys.admin);
  t.equal(page1.body.items.length, 1);
  t.ok(page1.body.links.next);
  const page2 = await call('GET', page1.body.links.next, keys.admin);
  t.equal(page2.body.items.length, 1);
  t.not(page2.body.items[0].id, page1.body.items[0].id);
  t.notOk(page2.body.links, 'no further page');

  const bad = await call('GET', '/v1/sync/failures?from=yesterday', keys.admin);
  t.equal(bad.status, 400);
  t.equal(bad.body.resourceType, 'OperationOutcome');
});

t.test('an app lists what it sent, by posyandu and state', async (t) => {
  const failed = await call('GET', `/v1/records?posyandu=${A1}&state=failed`, keys.admin);
  t.same(failed.body.items.map((i: any) => i.recordId), ['FAIL-1']);
  const all = await call('GET', `/v1/records?posyandu=${A1}`, keys.admin);
  t.same(all.body.items.map((i: any) => i.recordId), ['FAIL-1', 'ST-3', 'ST-2', 'ST-1'], 'newest first');
  const two = await call('GET', `/v1/records?posyandu=${A1}&limit=2`, keys.admin);
  t.equal(two.body.items.length, 2);
  const rest = await call('GET', two.body.links.next, keys.admin);
  t.same(rest.body.items.map((i: any) => i.recordId), ['ST-2', 'ST-1']);
});

t.test('metrics count what happened', async (t) => {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(text, /gerbang_records_accepted_total\{kind="anthropometry",outcome="created"\} 8/);
  t.match(text, /gerbang_records_refused_total\{kind="anthropometry",reason="record.invalid"\} 1/);
  t.match(text, /gerbang_delivery_failures_total\{upstream="sandbox",code="upstream.http-422"\} 2/);
  t.match(text, /gerbang_backlog_records\{upstream="sandbox"\} 2/);
  t.match(text, /gerbang_backlog_records\{upstream="outbox"\} 0/);
  t.match(text, /gerbang_backlog_oldest_age_seconds\{upstream="sandbox"\} [0-9.]+/);
  t.match(text, /gerbang_push_duration_seconds_count\{upstream="sandbox",outcome="delivered"\} \d+/);
  t.match(text, /gerbang_queue_jobs\{upstream="sandbox",state="waiting"\} 0/);
  t.match(text, /gerbang_circuit_state\{upstream="sandbox"\} 0/);
  for (const rec of sent.values()) t.notOk(text.includes((rec.subject as { nik: string }).nik), 'no NIK in metrics');
});

t.test('retention drops the payload of records synced everywhere, and only those', async (t) => {
  const st1 = ids.get('ST-1')!;
  const { ledger, close } = await openLedgerOf(gw.config);
  t.teardown(close);
  await waitFor(async () => (await ledger.get(st1))?.payloadDroppedAt !== undefined, 10_000, 'payload dropped');
  t.same((await ledger.get(st1))?.people, { names: [], niks: [] }, 'no name or NIK left in the ledger');
  const rec = await call('GET', `/v1/records/${st1}`, keys.admin);
  t.ok(rec.body.payloadDroppedAt);
  t.equal(rec.body.upstreams.sandbox.state, 'synced', 'states stay');
  t.ok(rec.body.upstreams.sandbox.resources.length > 0, 'and the upstream ids');
  const failed = await ledger.get(ids.get('FAIL-1')!);
  t.notOk(failed?.payloadDroppedAt, 'a failed record keeps its payload');
  t.ok((failed?.people.names.length ?? 0) > 0, 'and the names it carries');
  t.equal(sandboxOf(await summary()).totals.counts.synced, 6, 'counts stay');
});

t.test('replay one record, then the rest in bulk: each reaches the upstream once', async (t) => {
  fhir.clearRejections();
  const fail1 = ids.get('FAIL-1')!;
  const monitorTry = await call('POST', `/v1/records/${fail1}/$retry`, keys.monitorA);
  t.equal(monitorTry.status, 403, 'a monitor cannot replay');
  const one = await call('POST', `/v1/records/${fail1}/$retry`, keys.admin);
  t.equal(one.status, 202);
  t.same(one.body.replayed, ['sandbox'], 'only where it failed');
  await waitFor(async () => (await call('GET', `/v1/records/${fail1}`, keys.admin)).body.upstreams.sandbox.state === 'synced', 20_000, 'FAIL-1 synced');
  const again = await call('POST', `/v1/records/${fail1}/$retry`, keys.admin);
  t.equal(again.status, 409, 'a synced record has nothing to replay');

  const bulk = await call('POST', '/v1/records/$retry', keys.admin, { upstream: 'sandbox', state: 'failed' });
  t.equal(bulk.status, 202);
  const task = await waitFor(async () => {
    const r = await call('GET', `/v1/replays/${bulk.body.id}`, keys.admin);
    return r.body.status === 'done' ? r.body : undefined;
  }, 20_000, 'bulk replay done');
  t.equal(task.matched, 1);
  t.equal(task.replayed, 1);
  await waitFor(async () => sandboxOf(await summary()).totals.counts.synced === 8, 20_000, 'all synced');
  const s = sandboxOf(await summary());
  t.equal(s.totals.counts.failed, 0);
  t.equal(s.totals.health, 'ok');
  t.equal((await call('GET', '/v1/sync/failures', keys.admin)).body.items.length, 0);

  // Upstream: one Encounter per record, none twice.
  const encounters = await fhir.search('Encounter', {});
  t.equal(encounters.length, 8);
  const idsUp = encounters.map((e: any) => e.identifier?.[0]?.value);
  t.equal(new Set(idsUp).size, 8);
});
