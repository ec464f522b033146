import t from 'tap';
import { Redis } from 'ioredis';
import type { Composition, Observation, QuestionnaireResponse } from '@medplum/fhirtypes';
import { defaultMaxAnswerBytes, loadConfig } from '../../src/config/load.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import { Corrections, readWithdrawals } from '../../src/upstream/corrections.js';
import { SatusehatUpstream } from '../../src/upstream/satusehat/satusehat-upstream.js';
import { validScreening, withChanges, type RecordLike } from '../fixtures/records.js';
import { startRedis } from '../helpers/redis-server.js';
import { DEFAULT_CLIENT, startSatusehatServer } from '../helpers/satusehat-server.js';

// A Skrining PTM record through the SATUSEHAT upstream (test double with a real FHIR engine, real
// redis-server): the Form Skrining PTM Composition and the Q0013 QuestionnaireResponse are clinical
// entries like the Observations, and every reference inside them ends up on a platform id.

const clock = Date.parse('2025-11-06T02:00:00Z');
const redisServer = await startRedis({ appendonly: false });
const redis = new Redis(redisServer.url);
const srv = await startSatusehatServer({ now: () => clock });
const { facilities } = loadConfig({});
const NURSE_NIK = '3201014404850001';
const up = new SatusehatUpstream({
  name: 'satusehat',
  authUrl: srv.authBase,
  baseUrl: srv.fhirBase,
  credentials: { [DEFAULT_CLIENT.organizationId]: { clientId: DEFAULT_CLIENT.clientId, clientSecret: DEFAULT_CLIENT.clientSecret } },
  timeouts: { connectMs: 2_000, headersMs: 5_000, bodyMs: 5_000, totalMs: 20_000 },
  maxAnswerBytes: defaultMaxAnswerBytes,
  redis,
  corrections: new Corrections(readWithdrawals()),
  now: () => clock,
});
t.teardown(async () => {
  await up.close();
  await srv.close();
  redis.disconnect();
  await redisServer.stop();
});

// The posyandu of the demo registry under the test double's puskesmas, screened by a nurse with a NIK.
const record = withChanges(
  { posyandu: '3201010001-01', occurredAt: '2025-11-05T10:15:00+07:00', performer: { role: 'perawat', name: 'Perawat Dewi', nik: NURSE_NIK }, smoker: true, cigarettesPerDay: 12, hba1cPercent: 6.1 },
  validScreening as unknown as RecordLike,
);

t.test('the Composition and Q0013 arrive with every reference on a SATUSEHAT id', async (t) => {
  const patientId = await srv.addPatient({ nik: validScreening.subject.nik, name: validScreening.subject.name, birthDate: validScreening.subject.birthDate, gender: 'female' });
  const nurseId = await srv.addPractitioner({ nik: NURSE_NIK, name: 'Perawat Dewi', gender: 'female' });
  const prepared = prepareRecord(record, 'default', facilities, new Date(clock));
  if (!prepared.ok) throw new Error(JSON.stringify(prepared.issues));
  const bundle = prepared.prepared.bundle;
  const res = await up.push(bundle, { recordId: `default.${validScreening.recordId}`, version: 1 });
  t.same(res.outcome, { kind: 'delivered' });

  const observations = await srv.resources<Observation>('Observation');
  t.equal(observations.length, bundle.entry!.filter((e) => e.resource?.resourceType === 'Observation').length, 'every Observation is stored');
  const observationIds = new Set(observations.map((o) => `Observation/${o.id}`));
  const encounterId = (await srv.resources('Encounter'))[0]?.id;

  const [composition, ...moreCompositions] = await srv.resources<Composition>('Composition');
  t.equal(moreCompositions.length, 0, 'one Form Skrining PTM');
  t.equal(composition?.type?.coding?.[0]?.code, 'COM000006');
  t.equal(composition?.subject?.reference, `Patient/${patientId}`);
  t.equal(composition?.encounter?.reference, `Encounter/${encounterId}`);
  t.same(composition?.author?.map((a) => a.reference), [`Practitioner/${nurseId}`], 'the nurse, by her Practitioner id');
  const entries = composition?.section?.flatMap((s) => s.entry ?? []).map((e) => e.reference) ?? [];
  t.equal(entries.length, observations.length - 1, 'every result but the smoking status is in a section');
  t.same(entries.filter((r) => !observationIds.has(r ?? '')), [], 'each section entry is a stored Observation');
  t.same(composition?.section?.map((s) => s.code?.coding?.[0]?.code), ['COS000006', 'COS000007', 'COS000009', 'COS000010', 'COS000011', 'COS000013']);

  const [qr] = await srv.resources<QuestionnaireResponse>('QuestionnaireResponse');
  t.equal(qr?.questionnaire, 'https://fhir.kemkes.go.id/Questionnaire/Q0013');
  t.equal(qr?.subject?.reference, `Patient/${patientId}`);
  t.equal(qr?.source?.reference, `Patient/${patientId}`);
  t.equal(qr?.encounter?.reference, `Encounter/${encounterId}`);
  t.equal(qr?.author?.reference, `Practitioner/${nurseId}`);
  const smoking = observations.find((o) => o.code?.coding?.[0]?.code === '72166-2');
  const status = qr?.item?.[0]?.item?.find((i) => i.linkId === '1.4')?.answer?.[0]?.valueReference?.reference;
  t.equal(status, `Observation/${smoking?.id}`, 'item 1.4 refers to the stored smoking status');
  t.notMatch(JSON.stringify([composition, qr]), /urn:uuid|3201014404850001|5271014408700003/, 'no urn:uuid and no NIK left');

  const ids = (type: string) => res.resources?.filter((r) => r.resourceType === type).map((r) => r.id);
  t.same(ids('Composition'), [composition?.id], 'the ledger learns the Composition id');
  t.same(ids('QuestionnaireResponse'), [qr?.id], 'and the QuestionnaireResponse id');
});
