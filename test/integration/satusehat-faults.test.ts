import t, { type Test } from 'tap';
import { getJson, postJson, startGateway, waitFor } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { DEFAULT_CLIENT, FHIR_PATH, isTransaction, startSatusehatServer, type SatusehatServerOptions } from '../helpers/satusehat-server.js';
import {
  BIDAN_NIK,
  SUPERVISOR_NIK,
  ancRecord,
  checkServerMatchesAccepted,
  childRecord,
  metric,
  postAll,
  recordState,
  satusehatFacilities,
  satusehatUpstream,
  seedPeople,
  untilAllSynced,
} from '../helpers/satusehat-drain.js';

// Proof under faults, SATUSEHAT path: a real redis-server, the real gateway (HTTP and worker in
// this process), and the SATUSEHAT test server. Each test ends by comparing what the server holds
// with what the gateway accepted (checkServerMatchesAccepted). The worker killed mid-push is in
// satusehat-worker-kill.test.ts.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stack(t: Test, o: { server?: SatusehatServerOptions; upstream?: Record<string, unknown>; appendonly?: boolean } = {}) {
  const redis = await startRedis({ appendonly: o.appendonly ?? false });
  const srv = await startSatusehatServer(o.server);
  const gw = await startGateway({ redisUrl: redis.url, upstreams: [satusehatUpstream(srv, o.upstream)], facilities: satusehatFacilities() });
  t.teardown(async () => {
    await gw.close();
    await srv.close();
    await redis.stop();
  });
  return { redis, srv, gw };
}

interface LogLine {
  time: number;
  msg: string;
  outcome?: string;
  probe?: boolean;
}
const logLines = (logs: string[]): LogLine[] =>
  logs.flatMap((l) => {
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return [];
    }
  });

const metricsText = async (url: string) => (await fetch(`${url}/metrics`)).text();
const isFhir = (r: { path: string }) => r.path.startsWith(FHIR_PATH);

t.test('SATUSEHAT refusing connections, then answering 503, then back: the circuit rests it; every record goes once', async (t) => {
  const { srv, gw } = await stack(t);
  const warm = [childRecord(1)];
  const records = Array.from({ length: 16 }, (_, i) => (i % 4 === 3 ? ancRecord(i + 2) : childRecord(i + 2)));
  await seedPeople(srv, [...warm, ...records]);
  const sent = await postAll(gw.url, 'outage', warm);
  await untilAllSynced(gw.url, sent, 15_000); // a token, the Location and the supervisor are known from here on

  // Sample the circuit gauge all along, as Prometheus would.
  const gauges: Array<{ at: number; value: number | undefined }> = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      gauges.push({ at: Date.now(), value: metric(await metricsText(gw.url), 'gerbang_circuit_state', 'upstream="satusehat"') });
      await sleep(100);
    }
  })();
  t.teardown(() => {
    sampling = false;
  });

  await srv.down();
  const downAt = Date.now();
  sent.push(...(await postAll(gw.url, 'outage', records)));
  await waitFor(() => gauges.some((g) => g.value === 2), 15_000, 'gerbang_circuit_state 2 (open)');
  await sleep(2_000); // the outage goes on with the circuit open

  // Back, but answering 503 to every FHIR call until told otherwise.
  srv.failNext(100_000, 503);
  const upAt = Date.now();
  await srv.up();
  const pushesWhileDown = logLines(gw.logs).filter((l) => l.msg === 'push' && l.time >= downAt && l.time < upAt);
  // A probe's look-up is tried up to 3 times within the push (100 and ~200 ms apart): requests
  // less than openSeconds apart belong to one probe.
  const probesOf = (rs: Array<{ at: number }>) => {
    const probes: number[][] = [];
    for (const [i, r] of rs.entries()) {
      if (i > 0 && r.at - rs[i - 1]!.at < 900) probes.at(-1)!.push(r.at);
      else probes.push([r.at]);
    }
    return probes;
  };
  await waitFor(() => probesOf(srv.requests.filter((r) => r.at >= upAt && r.status === 503)).length >= 2, 15_000, 'two probes answered 503');
  srv.clearFaults();
  const clearAt = Date.now();
  const during503 = srv.requests.filter((r) => isFhir(r) && r.at >= upAt && r.at < clearAt);

  await untilAllSynced(gw.url, sent, 30_000);
  sampling = false;
  await sampler;

  t.ok(gauges.some((g) => g.value === 2), 'GET /metrics showed gerbang_circuit_state{upstream="satusehat"} 2');
  t.ok(gw.logs.some((l) => l.includes('circuit open')), 'the log says the circuit opened');
  const downSeconds = (upAt - downAt) / 1000;
  // Without a circuit, 16 records retried every 0.1–1 s make well over 50 pushes in this time.
  t.ok(
    pushesWhileDown.length <= 5 + 3 + Math.ceil(downSeconds) + 1,
    `while refused: ${pushesWhileDown.length} pushes in ${downSeconds.toFixed(1)} s (5 to open it, 3 in flight at most, then about one probe a second)`,
  );
  t.ok(during503.length >= 2 && during503.every((r) => r.status === 503), 'the server answered 503 meanwhile');
  const window = (clearAt - upAt) / 1000;
  const probes = probesOf(during503);
  t.ok(probes.length <= Math.ceil(window) + 1, `while answering 503: ${probes.length} probes (${during503.length} requests) in ${window.toFixed(1)} s, probes only, not a retry storm`);
  t.ok(probes.every((p) => p.length <= 3 && p.at(-1)! - p[0]! < 900), `one probe per rest of at least openSeconds, each at most 3 tries (${probes.map((p) => p.length).join(', ')})`);
  t.equal(metric(await metricsText(gw.url), 'gerbang_circuit_state', 'upstream="satusehat"'), 0, 'closed again');

  await checkServerMatchesAccepted(t, srv, gw.url, sent);
});

t.test('SATUSEHAT refusing connections when a token is due: no platform penalty is waited out once it is back', async (t) => {
  const { srv, gw } = await stack(t);
  const records = Array.from({ length: 6 }, (_, i) => childRecord(700 + i));
  await seedPeople(srv, records);
  await srv.down(); // before the gateway ever had a token
  const sent = await postAll(gw.url, 'no-token', records);
  await waitFor(async () => (await recordState(gw.url, sent[0]!.id)).upstreams.satusehat.state === 'retrying', 10_000, 'a push without a token');
  const state = (await recordState(gw.url, sent[0]!.id)).upstreams.satusehat;
  await sleep(1_500);
  const upAt = Date.now();
  await srv.up();
  await untilAllSynced(gw.url, sent, 30_000);
  const took = Date.now() - upAt;
  // A refused connection never reached SATUSEHAT, so it cannot have cost the 1-minute penalty (§1).
  t.match(state.lastError, { code: 'satusehat.token-unreachable' }, 'the push said why it could not go');
  t.ok(took < 20_000, `delivered ${took} ms after SATUSEHAT came back, not after a 60 s penalty`);
  t.equal(srv.tokenRequests(), 1, 'one token for all of them once it was back');
  await checkServerMatchesAccepted(t, srv, gw.url, sent);
});

t.test('Redis SIGKILLed and restarted (append-only file) in the middle of a drain of 40 records: none lost, none twice', async (t) => {
  const { redis, srv, gw } = await stack(t, { appendonly: true });
  const records = Array.from({ length: 40 }, (_, i) => (i % 5 === 4 ? ancRecord(100 + i) : childRecord(100 + i)));
  const late = childRecord(150, 'A-late');
  await seedPeople(srv, [...records, late]);
  srv.delayNext(10_000, 250, { on: 'transaction' }); // a drain that lasts a few seconds
  const sent = await postAll(gw.url, 'redis', records);

  // Killed while SATUSEHAT holds the answer of a transaction it has carried out.
  const written = () => srv.heldAnswers().filter((r) => isTransaction(r) && r.status === 200);
  await waitFor(async () => (await srv.resources('Encounter')).length >= 8 && written().length > 0, 20_000, 'the drain under way');
  await redis.kill();
  const deliveredBeforeKill = (await srv.resources('Encounter')).length;
  const unansweredAtKill = written().length;
  // Not accepted while Redis is away: the app is told to send again, and does.
  const refused = await postJson(`${gw.url}/v1/records?source=redis`, late);
  await sleep(1_000);
  await redis.restart();
  const again = await waitFor(async () => {
    const r = await postJson(`${gw.url}/v1/records?source=redis`, late);
    return r.status === 202 ? r : undefined;
  }, 20_000, 'ingest back');
  sent.push({ id: again.body.id, source: 'redis', recordId: 'A-late' });
  srv.clearFaults();

  await untilAllSynced(gw.url, sent, 60_000);
  t.ok(deliveredBeforeKill < records.length, `Redis died with ${records.length - deliveredBeforeKill} records still to deliver, ${unansweredAtKill} of them written and unanswered`);
  const lookups = srv.requests.filter((r) => r.method === 'GET' && r.path === `${FHIR_PATH}/Encounter`).length;
  t.comment(`${lookups} Encounter lookups before sending again, ${srv.requests.filter((r) => isTransaction(r) && r.status === 400).length} duplicate answers adopted`);
  if (gw.config.ledger.store === 'postgres') {
    // the ledger and its outbox are in PostgreSQL: kept, and delivered once Redis is back (checked next)
    t.equal(refused.status, 202, 'a record posted while Redis was away was accepted into the PostgreSQL ledger');
    t.equal(again.body.id, refused.body.id, 'and sent again it is the same record');
  } else {
    t.equal(refused.status, 503, 'a record posted while Redis was away was refused, not half-accepted');
  }
  await checkServerMatchesAccepted(t, srv, gw.url, sent);
});

t.test('tokens living 2 s and a revocation mid-drain: refreshed by one caller at a time, no push fails', async (t) => {
  const { srv, gw } = await stack(t, { server: { tokenLifetimeSeconds: 2 }, upstream: { pushesPerSecond: 8 } });
  const records = Array.from({ length: 30 }, (_, i) => (i % 5 === 4 ? ancRecord(300 + i) : childRecord(300 + i)));
  await seedPeople(srv, records);
  const started = Date.now();
  const sent = await postAll(gw.url, 'token', records);
  await waitFor(async () => (await srv.resources('Encounter')).length >= 12, 20_000, 'the drain under way');
  // Revoked just after it was issued, the gateway's cached token still has most of its second to
  // live: the next calls meet the revocation rather than a natural expiry.
  const issued = srv.tokenRequests();
  await waitFor(() => srv.tokenRequests() > issued, 10_000, 'a fresh token');
  const revokedAt = Date.now();
  srv.revokeTokens();
  await untilAllSynced(gw.url, sent, 30_000);
  const seconds = (Date.now() - started) / 1000;

  const tokenRequests = srv.tokenRequests();
  const fhirCalls = srv.requests.filter(isFhir).length;
  t.ok(seconds > 3, `the drain (${seconds.toFixed(1)} s) outlived several tokens`);
  t.ok(srv.requests.some((r) => isFhir(r) && r.status === 401 && r.at >= revokedAt), 'a call met the revoked token (401)');
  t.ok(tokenRequests >= 3, `tokens were refreshed: ${tokenRequests} token requests`);
  // A token is kept for half its 2 s life: about one refresh a second, plus one for the revocation.
  t.ok(tokenRequests <= Math.ceil(seconds) + 3, `one refresher at a time: ${tokenRequests} token requests for ${fhirCalls} FHIR calls in ${seconds.toFixed(1)} s`);
  const attempts = await Promise.all(sent.map(async (s) => (await recordState(gw.url, s.id)).upstreams.satusehat.attempts as number));
  t.same(attempts.filter((a) => a !== 1), [], 'every record went at its first attempt: no push failed on a token');
  const text = await metricsText(gw.url);
  t.equal(metric(text, 'gerbang_token_refreshes_total', 'upstream="satusehat"'), tokenRequests, 'gerbang_token_refreshes_total counts every token asked for');
  t.notMatch(text, /gerbang_delivery_failures_total\{/, 'no delivery failure');
  await checkServerMatchesAccepted(t, srv, gw.url, sent);

  // Peers leak bearer tokens into logs. Nothing secret or personal is in this gateway's log lines.
  const issuedTokens = srv.issuedTokens();
  t.ok(issuedTokens.length >= 3 && gw.logs.length > records.length, `${gw.logs.length} log lines searched for ${issuedTokens.length} tokens`);
  const people = records.flatMap((r) => {
    const s = r.subject as { nik: string; name: string };
    return [s.nik, s.name];
  });
  const secrets = [...issuedTokens, DEFAULT_CLIENT.clientSecret, SUPERVISOR_NIK, BIDAN_NIK, ...people];
  t.same(secrets.filter((s) => gw.logs.some((l) => l.includes(s))), [], 'no token, client secret, NIK or name in any log line');
});

t.test('a burst of 429s with Retry-After: every push waits it out, nothing fails, every record goes once', async (t) => {
  const { srv, gw } = await stack(t);
  const people = 8;
  const RETRY_AFTER_S = 3;
  // Each person's first record warms the caches (token, IHS number, supervisor, Location), so that
  // afterwards a push is exactly one request: any request inside a pause is a push that ignored it.
  const first = Array.from({ length: people }, (_, i) => childRecord(400 + i, `T-${i}-a`));
  const later = Array.from({ length: 2 * people }, (_, i) => childRecord(400 + (i % people), `T-${i % people}-${i < people ? 'b' : 'c'}`));
  await seedPeople(srv, first);
  const sent = await postAll(gw.url, 'throttle', first);
  await untilAllSynced(gw.url, sent, 15_000);

  const from = srv.requests.length;
  srv.throttle(3, RETRY_AFTER_S);
  sent.push(...(await postAll(gw.url, 'throttle', later)));
  await untilAllSynced(gw.url, sent, 40_000);

  const log = srv.requests.slice(from).filter(isFhir);
  const throttled = log.filter((r) => r.status === 429);
  t.equal(throttled.length, 3, 'three pushes were throttled');
  // Caches are warm, and a throttled transaction is known not to have been carried out, so its
  // retry does not look each resource up first.
  t.same(log.filter((r) => r.method !== 'POST').map((r) => `${r.method} ${r.path}`), [], 'every push was a single transaction');
  // A request already on its way when a 429 was answered may still arrive just after it.
  const GRACE_MS = 300;
  for (const [i, r429] of throttled.entries()) {
    const answered = r429.answeredAt!;
    const early = log.filter((r) => r.at > answered + GRACE_MS && r.at < answered + RETRY_AFTER_S * 1000);
    t.same(early.map((r) => `${r.method} ${r.status} at +${r.at - answered} ms`), [], `nothing reached SATUSEHAT within Retry-After of 429 #${i + 1}`);
  }
  const lastThrottle = Math.max(...throttled.map((r) => r.answeredAt!));
  const resumed = log.find((r) => r.at > lastThrottle + GRACE_MS);
  t.ok(resumed && resumed.at - lastThrottle >= RETRY_AFTER_S * 1000, `pushes resumed ${resumed ? resumed.at - lastThrottle : '?'} ms after the last 429`);

  const text = await metricsText(gw.url);
  t.equal(metric(text, 'gerbang_delivery_retries_total', 'upstream="satusehat",code="upstream.http-429"'), 3, 'the throttled pushes were retried');
  t.notMatch(text, /gerbang_delivery_failures_total\{/, 'nothing failed');
  t.notOk(gw.logs.some((l) => l.includes('circuit open')), 'a throttle is not a failure: the circuit stayed closed');
  await checkServerMatchesAccepted(t, srv, gw.url, sent);
});

t.test('a person SATUSEHAT does not know: waiting-identity with words, listed as a failure; registered and replayed, it goes', async (t) => {
  const { srv, gw } = await stack(t);
  const record = childRecord(500, 'I-1');
  const nik = (record.subject as { nik: string }).nik;
  await seedPeople(srv, []); // the health workers only; not the child
  const [sent] = await postAll(gw.url, 'identity', [record]);
  const id = sent!.id;

  const waiting = await waitFor(async () => {
    const r = await recordState(gw.url, id);
    return r.upstreams.satusehat.state === 'waiting-identity' ? r.upstreams.satusehat : undefined;
  }, 15_000, 'waiting-identity');
  t.equal(waiting.lastError.code, 'upstream.identity-unknown');
  t.match(waiting.lastError.message, /NIK is not registered in SATUSEHAT/, 'a reason a person can read');
  t.notMatch(JSON.stringify(waiting), nik, 'without the NIK');
  t.ok(Date.parse(waiting.nextAttemptAt) - Date.parse(waiting.updatedAt) >= 7 * 60_000, 'next look on the slow identity schedule (minutes, not seconds)');
  t.equal(srv.requests.filter((r) => r.method === 'POST' && r.path === FHIR_PATH).length, 0, 'nothing was sent');

  const failures = (await getJson(`${gw.url}/v1/sync/failures?upstream=satusehat`)).body.items as any[];
  const item = failures.find((i) => i.id === id);
  t.match(item, { state: 'waiting-identity', upstream: 'satusehat', reason: { category: 'identity' } }, 'in /v1/sync/failures');
  t.type(item?.reason?.text, 'string');
  t.ok(item?.reason?.text?.length > 10, `with words: "${item?.reason?.text}"`);

  await srv.addPatient({ nik, name: 'Anak 500', birthDate: '2023-03-15', gender: 'female' });
  const replay = await postJson(`${gw.url}/v1/records/${id}/$retry`, {});
  t.equal(replay.status, 202);
  t.same(replay.body.replayed, ['satusehat']);
  await untilAllSynced(gw.url, [sent!], 15_000);
  t.notOk(((await getJson(`${gw.url}/v1/sync/failures?upstream=satusehat`)).body.items as any[]).some((i) => i.id === id), 'no longer a failure');
  t.equal((await postJson(`${gw.url}/v1/records/${id}/$retry`, {})).status, 409, 'a synced record has nothing to replay');
  await checkServerMatchesAccepted(t, srv, gw.url, [sent!]);
});
