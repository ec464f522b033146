import { readFileSync } from 'node:fs';
import t from 'tap';
import { hashApiKey } from '../../src/http/auth/api-keys.js';
import { validAnthropometry, validImmunization, withChanges } from '../fixtures/records.js';
import { startFhirServer } from '../helpers/fhir-server.js';
import { sandboxUpstream, startGateway, waitFor } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';

// What each key sees, beyond route access (access.test.ts): upstream words and provenance without
// names and NIKs for every role but admin, $map history only from the key's own scope, a record
// that stays at its place, and failed authentication throttled per address. Puskesmas A
// (P3201010101) has posyandu 3201010001-01 and -02; puskesmas B (P5271010101) has 5271010002-01.

const A1 = '3201010001-01';
const A2 = '3201010001-02';
const B1 = '5271010002-01';
const keys = {
  adminA: 'gbk_scope-admin-a',
  monitorA: 'gbk_scope-monitor-a',
  submitterA: 'gbk_scope-submitter-a',
  submitterB: 'gbk_scope-submitter-b',
  national: 'gbk_scope-national',
};
const scopeA = { puskesmas: ['P3201010101'] };
const scopeB = { puskesmas: ['P5271010101'] };
const AUTH_FAILURES = 5;

const redis = await startRedis();
const fhir = await startFhirServer();
const gw = await startGateway({
  redisUrl: redis.url,
  upstreams: [{ name: 'sandbox', ...sandboxUpstream(fhir.baseUrl) }],
  apiKeys: [
    { id: 'adm-a', hash: hashApiKey(keys.adminA), role: 'admin', scope: scopeA },
    { id: 'mon-a', hash: hashApiKey(keys.monitorA), role: 'monitor', scope: { regency: ['3201'] } },
    { id: 'sub-a', hash: hashApiKey(keys.submitterA), role: 'submitter', scope: scopeA },
    { id: 'sub-b', hash: hashApiKey(keys.submitterB), role: 'submitter', scope: scopeB },
    { id: 'national', hash: hashApiKey(keys.national), role: 'admin' },
  ],
  server: { host: '127.0.0.1', authFailuresPerMinute: AUTH_FAILURES },
});
t.teardown(async () => {
  await gw.close();
  await fhir.stop();
  await redis.stop();
});

async function call(method: string, path: string, key: string | undefined, body?: unknown) {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, text, body: text.startsWith('{') ? JSON.parse(text) : undefined, headers: res.headers };
}
const code = (body: any) => body?.issue?.[0]?.details?.coding?.[0]?.code;

/** Every way the test writes a NIK into upstream words, found again in an answer. */
function nikForms(nik: string): RegExp {
  const d = nik.split('');
  return new RegExp(`${d.join('[^0-9A-Za-z]{0,3}')}`);
}

t.test('upstream words and provenance: masked for monitor and submitter keys, in every answer; whole for admins', async (t) => {
  const subject = { ...validAnthropometry.subject, nik: '3201015503230101', name: 'Nur Aisyah Rahma', mother: { nik: '3201014507950102', name: 'Lestari Wulandari' } };
  const spaced = '3201 0155 0323 0101';
  const dashed = '3201-0145-0795-0102';
  // The upstream quotes the patient as servers do: grouped NIKs, names in upper and lower case.
  fhir.rejectContaining('LEAK-1', 422, {
    resourceType: 'OperationOutcome',
    issue: [
      { severity: 'error', code: 'business-rule', diagnostics: `Patient NUR AISYAH RAHMA (NIK ${spaced}) is not registered; mother nik ${dashed}` },
      { severity: 'error', code: 'business-rule', diagnostics: 'family name rahma, mother lestari  wulandari: check Dukcapil', details: { text: 'nik.3201.0155.0323.0101' } },
    ],
  });
  const posted = await call('POST', '/v1/records', keys.adminA, withChanges({ recordId: 'LEAK-1', posyandu: A1, subject }));
  t.equal(posted.status, 202);
  const id = posted.body.id;
  await waitFor(async () => (await call('GET', `/v1/records/${id}`, keys.adminA)).body.upstreams.sandbox.state === 'failed', 20_000, 'LEAK-1 failed');

  const leaks = (text: string) => {
    const found: string[] = [];
    for (const nik of [subject.nik, subject.mother.nik]) if (nikForms(nik).test(text)) found.push(`NIK ${nik}`);
    for (const word of ['nur aisyah', 'aisyah', 'rahma', 'lestari', 'wulandari']) if (text.toLowerCase().includes(word)) found.push(word);
    if (/\d{16}/.test(text)) found.push('16 digits');
    return found;
  };

  const admin = await call('GET', `/v1/records/${id}`, keys.adminA);
  t.ok(admin.text.includes('NUR AISYAH RAHMA') && admin.text.includes(spaced), 'an admin reads the upstream words as they came');
  t.ok(admin.body.upstreams.sandbox.outcome.issue.length === 2);
  for (const [who, key] of [['monitor', keys.monitorA], ['submitter', keys.submitterA]] as const) {
    const one = await call('GET', `/v1/records/${id}`, key);
    t.equal(one.status, 200);
    t.same(leaks(one.text), [], `${who}: GET /v1/records/{id} holds no name or NIK`);
    t.equal(one.body.upstreams.sandbox.outcome.issue.length, 2, `${who}: the upstream's OperationOutcome is still there`);
    t.match(one.body.upstreams.sandbox.outcome.issue[0].diagnostics, /^Patient \*\*\* \(NIK \*{16}\) is not registered/, `${who}: masked, the rest of the words kept`);
    const list = await call('GET', `/v1/records?posyandu=${A1}`, key);
    t.equal(list.status, 200);
    t.same(leaks(list.text), [], `${who}: the record list holds no name or NIK`);
  }
  const failures = await call('GET', `/v1/sync/failures?posyandu=${A1}`, keys.monitorA);
  t.equal(failures.body.items.length, 1);
  t.same(leaks(failures.text), [], 'the failures list: no grouped NIK, no name in another case');
  t.ok(leaks((await call('GET', `/v1/sync/failures?posyandu=${A1}`, keys.adminA)).text).length > 0, 'the admin list shows them');

  // An adapter's provenance quotes what the app sent: its name and NIK columns.
  const native = JSON.parse(readFileSync(new URL('../fixtures/samples/sim-posyandu__pemeriksaan_balita__01.json', import.meta.url), 'utf8'));
  const adapted = await call('POST', `/v1/records?source=sim-posyandu&posyandu=${A1}`, keys.submitterA, native);
  t.equal(adapted.status, 202, adapted.text.slice(0, 300));
  const child = native.balita as { nik: string; nama_lengkap: string; nama_ibu: string; nik_ibu: string };
  const adminView = await call('GET', `/v1/records/${adapted.body.id}`, keys.adminA);
  t.ok(adminView.text.includes(child.nama_lengkap), 'the admin sees what the app sent');
  for (const key of [keys.monitorA, keys.submitterA]) {
    const view = await call('GET', `/v1/records/${adapted.body.id}`, key);
    t.ok(view.body.provenance.length > 5, 'provenance is shown');
    for (const secret of [child.nik, child.nik_ibu, ...child.nama_lengkap.split(' '), ...child.nama_ibu.split(' ')]) {
      t.notOk(view.text.toLowerCase().includes(secret.toLowerCase()), `provenance without ${secret.length > 10 ? 'a NIK' : 'a name part'}`);
    }
  }
});

t.test('$map judges a record against history from the key\'s scope only', async (t) => {
  // A child of puskesmas B, weighed there in October and given DPT-HB-Hib 1 there in September.
  const childB = { nik: '5271014503230011', name: 'Putri Lombok', sex: 'female', birthDate: '2023-03-05' };
  const weighing = (recordId: string, posyandu: string, occurredAt: string, weightKg: number) =>
    withChanges({ recordId, posyandu, occurredAt, weightKg, subject: { ...childB, mother: { nik: '5271014507950012', name: 'Ibu Lombok' } } });
  t.equal((await call('POST', '/v1/records', keys.submitterB, weighing('HIST-B-1', B1, '2025-10-05T09:00:00+08:00', 9.4))).status, 202);
  const baby = { nik: '5271011508250013', name: 'Bayi Lombok', sex: 'male', birthDate: '2025-08-15' };
  const dose = (recordId: string, posyandu: string, vaccine: string, occurredAt: string) =>
    withChanges({ recordId, posyandu, vaccine, occurredAt, subject: baby }, validImmunization);
  t.equal((await call('POST', '/v1/records', keys.submitterB, dose('HIST-B-2', B1, 'DPT-HB-Hib 1', '2025-09-20T09:00:00+08:00'))).status, 202);

  const november = (posyandu: string) => weighing('MAP-1', posyandu, '2025-11-05T09:30:00+07:00', 9.9);
  const pentabio = (posyandu: string) => dose('MAP-2', posyandu, 'Pentabio', '2025-11-05T08:30:00+07:00');
  const gain = (res: Awaited<ReturnType<typeof call>>) => res.body?.indicators?.growth?.weightGain;
  const codes = (res: Awaited<ReturnType<typeof call>>) => (res.body?.outcome?.issue ?? []).map((i: any) => i.details.coding[0].code);

  // B's own key and a national key see B's history: the October weighing and the first dose.
  const own = await call('POST', '/v1/$map', keys.submitterB, november(B1));
  t.equal(gain(own)?.gainGrams, 500, "B's key: gain from B's own October weighing");
  t.notOk(codes(own).includes('map.history-not-consulted'));
  const ownDose = await call('POST', '/v1/$map', keys.submitterB, pentabio(B1));
  t.match(ownDose.body.indicators.immunization, { dose: 2, doseFrom: 'history' }, "B's key: the dose follows B's dose 1");
  t.equal(gain(await call('POST', '/v1/$map', keys.national, november(A1)))?.gainGrams, 500, 'a key without a scope sees every history');

  // A's key, the same child at A's posyandu: B's history is not read, and nothing says it exists.
  const inA = await call('POST', '/v1/$map', keys.submitterA, november(A1));
  t.equal(inA.status, 200);
  t.equal(gain(inA)?.gainGrams, undefined, "A's key: no gain computed from B's weighing");
  t.notOk(inA.text.includes('9.4') || inA.text.includes('2025-10-05'), "B's weight and date are nowhere");
  const unknownChild = await call('POST', '/v1/$map', keys.submitterA, withChanges({ ...november(A1), subject: { ...childB, nik: '3201014503230019', mother: undefined } }));
  t.same(gain(inA), gain(unknownChild), 'the same answer as for a child Gerbang never saw');
  t.same(codes(inA), codes(unknownChild), 'with the same issues');
  const doseA = await call('POST', '/v1/$map', keys.submitterA, pentabio(A1));
  t.notOk(doseA.text.includes('2025-09-20'), "B's dose date is nowhere");
  t.notOk(codes(doseA).includes('vaccine.dose-from-history'), 'the dose is not read from B');

  // A's key asking about a posyandu of B: no history at all, and a warning that says so.
  const atB = await call('POST', '/v1/$map', keys.submitterA, november(B1));
  t.equal(atB.status, 200);
  t.equal(gain(atB)?.gainGrams, undefined);
  const notice = atB.body.outcome.issue.find((i: any) => i.details.coding[0].code === 'map.history-not-consulted');
  t.match(notice, { severity: 'warning', expression: ['posyandu'] }, 'a warning names the posyandu field');
  t.match(notice.details.text, /Riwayat sasaran tidak dibaca/);

  // History A records itself is read again for A.
  t.equal((await call('POST', '/v1/records', keys.submitterA, weighing('HIST-A-1', A2, '2025-10-06T09:00:00+07:00', 9.5))).status, 202);
  t.equal(gain(await call('POST', '/v1/$map', keys.submitterA, november(A1)))?.gainGrams, 400, "A's key: gain from A's own weighing only");
});

t.test('POST answers show history-derived indicators only from history the key\'s scope covers', async (t) => {
  // A child of puskesmas B, weighed there in October and given DPT-HB-Hib 1 there in September;
  // the family moves and puskesmas A records the next visits.
  const child = { nik: '5271014503230021', name: 'Putri Pindah', sex: 'female', birthDate: '2023-03-05' };
  const weighing = (recordId: string, posyandu: string, occurredAt: string, weightKg: number) => withChanges({ recordId, posyandu, occurredAt, weightKg, subject: child });
  const baby = { nik: '5271011508250023', name: 'Bayi Pindah', sex: 'male', birthDate: '2025-08-15' };
  const dose = (recordId: string, posyandu: string, vaccine: string, occurredAt: string) => withChanges({ recordId, posyandu, vaccine, occurredAt, subject: baby }, validImmunization);
  t.equal((await call('POST', '/v1/records', keys.submitterB, weighing('MOVE-B-1', B1, '2025-10-05T09:00:00+08:00', 9.4))).status, 202);
  t.equal((await call('POST', '/v1/records', keys.submitterB, dose('MOVE-B-2', B1, 'DPT-HB-Hib 1', '2025-09-20T09:00:00+08:00'))).status, 202);
  const issueCodes = (outcome: any) => (outcome?.issue ?? []).map((i: any) => i.details.coding[0].code);

  // A's submitter: accepted, judged against B's weighing, but the answer does not show the gain.
  const nov = await call('POST', '/v1/records', keys.submitterA, weighing('MOVE-A-1', A1, '2025-11-05T09:30:00+07:00', 9.9));
  t.equal(nov.status, 202);
  t.same(nov.body.indicators.growth.weightGain, { withheld: 'history-outside-scope' }, 'the weight gain is withheld');
  t.ok(nov.body.indicators.growth.zScores.length > 0, 'indicators from the record alone are shown');
  const notice = nov.body.warnings.issue.find((i: any) => i.details.coding[0].code === 'record.history-outside-scope');
  t.match(notice, { severity: 'warning' });
  t.match(notice.details.text, /growth\.weightGain.*di luar cakupan/);
  for (const secret of ['9.4', '2025-10-05', '"gainGrams"', '"minimumGrams"']) t.notOk(nov.text.includes(secret), `the answer holds no ${secret}`);
  // The Bundle and the stored record still use the whole history; a key without a scope sees it.
  t.equal((await call('GET', `/v1/records/${nov.body.id}`, keys.national)).body.indicators.growth.weightGain.gainGrams, 500, 'the gain was computed from the whole history');
  const readByA = await call('GET', `/v1/records/${nov.body.id}`, keys.monitorA);
  t.same(readByA.body.indicators.growth.weightGain, { withheld: 'history-outside-scope' }, 'reading the record back, A still does not see it');

  // December at A: the gain now rests on A's own November weighing, so A sees it.
  const dec = await call('POST', '/v1/records', keys.submitterA, weighing('MOVE-A-2', A1, '2025-12-05T09:30:00+07:00', 10.3));
  t.equal(dec.body.indicators.growth.weightGain.gainGrams, 400, "gain from A's own weighing is shown");
  t.notOk(issueCodes(dec.body.warnings).includes('record.history-outside-scope'));

  // A dose named without its number: dose 2 because of B's dose 1, which A does not hear of.
  const pentabio = await call('POST', '/v1/records', keys.submitterA, dose('MOVE-A-3', A1, 'Pentabio', '2025-11-05T08:30:00+07:00'));
  t.equal(pentabio.status, 202);
  t.match(pentabio.body.indicators.immunization, { antigen: 'dpt-hb-hib', doseFrom: 'history', dose: { withheld: 'history-outside-scope' }, status: { withheld: 'history-outside-scope' } });
  t.notOk(issueCodes(pentabio.body.warnings).includes('vaccine.dose-from-history'), 'the warning quoting B\'s dose is left out');
  t.ok(issueCodes(pentabio.body.warnings).includes('record.history-outside-scope'));
  t.notOk(pentabio.text.includes('2025-09-20'), "B's dose date is nowhere");
  t.equal((await call('GET', `/v1/records/${pentabio.body.id}`, keys.national)).body.indicators.immunization.dose, 2, 'sent as dose 2');

  // In a $batch, the same rule for each record's warnings.
  const batch = await fetch(`${gw.url}/v1/records/$batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys.submitterA}`, 'content-type': 'application/x-ndjson' },
    body: `${JSON.stringify(dose('MOVE-A-4', A1, 'Pentabio', '2025-11-06T08:30:00+07:00'))}\n`,
  });
  const [line, summary] = (await batch.text()).trim().split('\n').map((l) => JSON.parse(l));
  t.equal(line.result, 'accepted');
  t.notOk(issueCodes(line.warnings).includes('vaccine.dose-from-history'));
  t.ok(issueCodes(line.warnings).includes('record.history-outside-scope'));
  t.notOk(JSON.stringify(line).includes('2025-09-20'));
  t.ok(summary.summary, 'the answer ends with its summary');

  // A refusal stands for everyone, but its choices do not tell A which doses B gave.
  const late = { ...baby, nik: '5271011508250041', name: 'Bayi Lain' };
  const lateDose = (recordId: string, posyandu: string, vaccine: string, occurredAt: string) => withChanges({ recordId, posyandu, vaccine, occurredAt, subject: late }, validImmunization);
  t.equal((await call('POST', '/v1/records', keys.submitterB, lateDose('LATE-B-1', B1, 'DPT-HB-Hib 1', '2025-10-20T09:00:00+08:00'))).status, 202);
  t.equal((await call('POST', '/v1/records', keys.submitterB, lateDose('LATE-B-2', B1, 'DPT-HB-Hib 2', '2025-11-20T09:00:00+08:00'))).status, 202);
  const choices = (res: Awaited<ReturnType<typeof call>>) => res.body?.issue?.find((i: any) => i.details.coding[0].code === 'vaccine.dose-missing')?.details.text;
  const refusedA = await call('POST', '/v1/records', keys.submitterA, lateDose('LATE-A-1', A1, 'Pentabio', '2025-11-10T08:30:00+07:00'));
  t.equal(refusedA.status, 422);
  const refusedB = await call('POST', '/v1/records', keys.submitterB, lateDose('LATE-B-3', B1, 'Pentabio', '2025-11-10T08:30:00+08:00'));
  t.equal(refusedB.status, 422);
  const unseen = { ...late, nik: '3201011508250049' };
  const never = await call('POST', '/v1/records', keys.submitterA, withChanges({ recordId: 'LATE-A-2', posyandu: A1, vaccine: 'Pentabio', occurredAt: '2025-11-10T08:30:00+07:00', subject: unseen }, validImmunization));
  t.not(choices(refusedB), choices(refusedA), "B's key hears the doses left after B's");
  t.equal(choices(refusedA), choices(never), "A's key hears every dose, as for a child Gerbang never saw");

  // B's own key sees the indicators of its own history (another child of B's, whose doses are all B's).
  const ownBaby = { ...baby, nik: '5271011508250031', name: 'Bayi Tetap' };
  const ownDose = (recordId: string, vaccine: string, occurredAt: string) => withChanges({ recordId, posyandu: B1, vaccine, occurredAt, subject: ownBaby }, validImmunization);
  t.equal((await call('POST', '/v1/records', keys.submitterB, ownDose('STAY-B-1', 'DPT-HB-Hib 1', '2025-09-20T09:00:00+08:00'))).status, 202);
  const own = await call('POST', '/v1/records', keys.submitterB, ownDose('STAY-B-2', 'Pentabio', '2025-11-05T08:30:00+08:00'));
  t.match(own.body.indicators.immunization, { dose: 2, doseFrom: 'history' });
  t.ok(issueCodes(own.body.warnings).includes('vaccine.dose-from-history'));
});

t.test("a record for a posyandu outside the key's scope is refused as that, before anything is read of its person", async (t) => {
  // A child of puskesmas A with doses recorded there; B's submitter posts for A's posyandu.
  const child = { nik: '3201011508250061', name: 'Bayi Tamu', sex: 'male', birthDate: '2025-08-15' };
  const dose = (recordId: string, vaccine: string, changes: Record<string, unknown> = {}) => withChanges({ recordId, posyandu: A1, vaccine, occurredAt: '2025-10-20T09:00:00+07:00', subject: child, ...changes }, validImmunization);
  t.equal((await call('POST', '/v1/records', keys.submitterA, dose('GUEST-A-1', 'DPT-HB-Hib 1'))).status, 202);

  const valid = await call('POST', '/v1/records', keys.submitterB, dose('GUEST-B-1', 'Pentabio', { occurredAt: '2025-11-20T09:00:00+07:00' }));
  t.equal(valid.status, 403);
  t.equal(code(valid.body), 'auth.out-of-scope');
  // Invalid as well: still the scope it is refused for, and no word of the child's doses at A.
  const invalid = await call('POST', '/v1/records', keys.submitterB, dose('GUEST-B-2', 'Pentabio', { occurredAt: '2099-01-01T09:00:00+07:00' }));
  t.equal(invalid.status, 403, 'not a 422 judged against the history A recorded');
  t.same(invalid.body.issue.map((i: any) => i.details.coding[0].code), ['auth.out-of-scope'], 'one problem: the place');
  t.notOk(invalid.text.includes('2025-10-20'), "A's dose is nowhere");

  // A posyandu the registry does not know is the record's own problem, for every key.
  const unknown = await call('POST', '/v1/records', keys.submitterB, dose('GUEST-B-3', 'Pentabio', { posyandu: '9999999999-01' }));
  t.equal(unknown.status, 422);
});

t.test('a record belongs to its place: another posyandu cannot take over its (source, recordId)', async (t) => {
  const mine = withChanges({ recordId: 'PLACE-1', posyandu: A1 });
  const first = await call('POST', '/v1/records', keys.submitterA, mine);
  t.equal(first.status, 202);
  const id = first.body.id;

  // B's submitter posts A's recordId under the shared default source, for B's posyandu.
  const takeover = await call('POST', '/v1/records', keys.submitterB, withChanges({ recordId: 'PLACE-1', posyandu: B1, weightKg: 11 }));
  t.equal(takeover.status, 403);
  t.equal(code(takeover.body), 'record.id-out-of-scope');
  t.equal(takeover.body.issue[0].code, 'forbidden');
  t.same(takeover.body.issue[0].expression, ['recordId']);
  for (const secret of [id, A1, 'P3201010101', '3201']) t.notOk(takeover.text.includes(secret), 'nothing of the record is told');

  const still = await call('GET', `/v1/records/${id}`, keys.submitterA);
  t.equal(still.status, 200, 'A still reads its own record');
  t.equal(still.body.version, 1, 'and it is still version 1');
  t.equal(still.body.posyandu, A1);

  // A key that covers both places is told what happened, on the posyandu field.
  const moved = await call('POST', '/v1/records', keys.adminA, withChanges({ recordId: 'PLACE-1', posyandu: A2 }));
  t.equal(moved.status, 409);
  t.equal(code(moved.body), 'record.place-changed');
  t.same(moved.body.issue[0].expression, ['posyandu']);
  t.match(moved.body.issue[0].details.text, new RegExp(`${A1}.*${A2}`));
  const national = await call('POST', '/v1/records', keys.national, withChanges({ recordId: 'PLACE-1', posyandu: B1 }));
  t.equal(national.status, 409);
  t.equal((await call('GET', `/v1/records/${id}`, keys.adminA)).body.version, 1, 'no refused copy became a version');

  // A real correction at the same place is still the next version, and a copy a duplicate.
  const corrected = await call('POST', '/v1/records', keys.submitterA, withChanges({ recordId: 'PLACE-1', posyandu: A1, weightKg: 9.9 }));
  t.equal(corrected.status, 202);
  t.match(corrected.body, { id, version: 2, outcome: 'new-version' });

  // In a $batch, the same refusal for that record alone.
  const batch = await fetch(`${gw.url}/v1/records/$batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys.submitterB}`, 'content-type': 'application/x-ndjson' },
    body: `${JSON.stringify(withChanges({ recordId: 'PLACE-1', posyandu: B1 }))}\n${JSON.stringify(withChanges({ recordId: 'PLACE-B-1', posyandu: B1 }))}\n`,
  });
  const lines = (await batch.text()).trim().split('\n').map((l) => JSON.parse(l));
  t.match(lines[0], { result: 'refused', code: 'auth.out-of-scope' }, 'the batch line carries the error code');
  t.equal(lines[1].result, 'accepted');
});

// Last: it fills this address's allowance of failures for the minute.
t.test('failed authentication is throttled per client address', async (t) => {
  const statuses: number[] = [];
  let last;
  for (let i = 0; i < AUTH_FAILURES + 2; i++) {
    last = await call('GET', '/v1/me', i % 2 === 0 ? 'gbk_guess-' + i : undefined);
    statuses.push(last.status);
  }
  t.same(statuses, [...Array(AUTH_FAILURES).fill(401), 429, 429], 'wrong and missing keys count together');
  t.equal(code(last?.body), 'auth.too-many-failures');
  t.equal(last?.body.issue[0].code, 'throttled');
  t.match(last?.body.issue[0].details.text, /kunci API yang salah/);
  const wait = Number(last?.headers.get('retry-after'));
  t.ok(wait > 0 && wait <= 60, `Retry-After ${wait}`);
  t.equal((await call('GET', '/v1/me', keys.monitorA)).status, 200, 'a valid key from the same address still passes');
  t.equal((await call('GET', '/healthz', undefined)).status, 200, 'public routes are not affected');
  t.equal((await call('GET', '/v1/me', 'gbk_guess-again')).status, 429, 'the next guess is still held back');
});
