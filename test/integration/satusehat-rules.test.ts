import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { postJson, startGateway } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { validImmunization } from '../fixtures/records.js';

// A record whose Bundle SATUSEHAT would refuse is refused at once, naming the platform's rule:
// a health worker's dose without lot number and expiry date breaks rules 10306 and 10307.

const redis = await startRedis();
const gw = await startGateway({ redisUrl: redis.url });
t.teardown(async () => {
  await gw.close();
  await redis.stop();
});

const { lotNumber: _lot, expirationDate: _expiry, ...withoutLot } = validImmunization;
const RULE_SYSTEM = 'https://gerbang.id/fhir/CodeSystem/satusehat-rule';
const ruleOf = (i: OperationOutcomeIssue) => i.details?.coding?.find((c) => c.system === RULE_SYSTEM)?.code;

// The record check refuses the dose before it is mapped (a refusal the app can act on, naming
// its own fields); the same rules are in profiles/ as the last line of defence for the Bundle.
function expectRules(t: Test, outcome: OperationOutcome) {
  const missing = outcome.issue.filter((i) => i.details?.coding?.[0]?.code === 'vaccine.lot-missing');
  t.same(missing.map((i) => i.expression?.[0]).sort(), ['expirationDate', 'lotNumber'], 'each missing field named');
  for (const i of missing) t.match(i.details?.text, /10306, 10307/, 'with the platform rules it would break');
  t.equal(outcome.issue.filter(ruleOf).length, 0, 'refused before mapping: no Bundle rule reported twice');
}

t.test('POST /v1/records: 422 naming lotNumber and expirationDate with rules 10306 and 10307, nothing queued', async (t) => {
  const res = await postJson(`${gw.url}/v1/records?source=rules-test`, withoutLot);
  t.equal(res.status, 422);
  t.equal(res.body.resourceType, 'OperationOutcome');
  expectRules(t, res.body as OperationOutcome);
  const outbox = join(gw.config.dataDir, 'outbox');
  t.same(existsSync(outbox) ? readdirSync(outbox) : [], [], 'nothing sent anywhere');
  const en = await postJson(`${gw.url}/v1/records?source=rules-test`, withoutLot, { 'accept-language': 'en' });
  t.match(en.body.issue.find((i: OperationOutcomeIssue) => i.expression?.[0] === 'lotNumber')?.details?.text, /required for a dose a health worker gives \(SATUSEHAT rules 10306, 10307\)/);
});

t.test('POST /v1/$map: the dry run shows the same issues', async (t) => {
  const res = await postJson(`${gw.url}/v1/$map?source=rules-test`, withoutLot);
  t.equal(res.body.valid, false);
  expectRules(t, res.body.outcome as OperationOutcome);
});
