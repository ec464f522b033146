import t from 'tap';
import { getJson, postJson, waitFor } from '../helpers/gateway.js';
import { startStack } from '../helpers/stack.js';
import { newbornAnthropometry, validAnthropometry, withChanges } from '../fixtures/records.js';

// NIK and names never reach a log line: records pushed end to end, through failures whose
// upstream answers echo the payload back, and every captured line searched.

const { fhir, gw } = await startStack(t);

const secrets: string[] = [
  validAnthropometry.subject.nik,
  validAnthropometry.subject.name,
  validAnthropometry.subject.mother.nik,
  validAnthropometry.subject.mother.name,
  'Rina',
  (newbornAnthropometry.subject as { name: string }).name,
];

t.test('no NIK or name in any log line', async (t) => {
  const ids: string[] = [];
  ids.push((await postJson(`${gw.url}/v1/records?source=logs`, validAnthropometry)).body.id);
  ids.push((await postJson(`${gw.url}/v1/records?source=logs`, newbornAnthropometry)).body.id);
  // An upstream that echoes the NIK and name back in its error.
  fhir.failNext(1, 500, { body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: `Patient ${validAnthropometry.subject.nik} ${validAnthropometry.subject.name} failed` }] } });
  ids.push((await postJson(`${gw.url}/v1/records?source=logs`, withChanges({ recordId: 'L-echo' }))).body.id);
  fhir.failNext(1, 422, { body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: `NIK ${validAnthropometry.subject.nik} rejected` }] } });
  ids.push((await postJson(`${gw.url}/v1/records?source=logs`, withChanges({ recordId: 'L-reject' }))).body.id);
  // Refused records (their problems are logged as codes only).
  await postJson(`${gw.url}/v1/records?source=logs`, withChanges({ weightKg: 9800 }));
  await postJson(`${gw.url}/v1/records?source=logs`, '{"subject": {"nik": "3201015503230004", "name": "Siti Aminah"');
  for (const id of ids) {
    await waitFor(async () => {
      const s = (await getJson(`${gw.url}/v1/records/${id}`)).body.status;
      return s === 'synced' || s === 'failed';
    }, 20_000, `record ${id} settled`);
  }
  t.ok(gw.logs.length > 10, `${gw.logs.length} log lines captured`);
  t.ok(gw.logs.some((l) => l.includes('"msg":"push"')), 'pushes are logged');
  for (const secret of secrets) {
    const hits = gw.logs.filter((l) => l.includes(secret));
    t.same(hits, [], `"${secret.slice(0, 4)}…" appears in no log line`);
  }
  // A NIK is 16 digits standing alone; float fractions such as responseTime are not.
  t.same(gw.logs.filter((l) => /(?<![\d.])\d{16}(?!\d)/.test(l)), [], 'nothing that looks like a NIK');
});
