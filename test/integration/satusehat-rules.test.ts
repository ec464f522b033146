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

function expectRules(t: Test, outcome: OperationOutcome) {
  const byRule = new Map(outcome.issue.filter(ruleOf).map((i) => [ruleOf(i), i]));
  const lot = byRule.get('10306');
  t.ok(lot, 'rule 10306 named');
  t.equal(lot?.details?.coding?.[0]?.code, 'mapping.satusehat-rule');
  t.match(lot?.expression?.[0], /^Bundle\.entry\[\d+\]\.resource\.lotNumber$/, 'the element in the Bundle');
  t.match(lot?.details?.text, /RuleNumber: 10306.*Data immunization\.lotNumber harus terisi pada pengiriman resource Immunization dengan use case imunisasi dilakukan oleh nakes/s, "the platform's message");
  const expiry = byRule.get('10307');
  t.match(expiry?.expression?.[0], /^Bundle\.entry\[\d+\]\.resource\.expirationDate$/);
  t.equal(outcome.issue.filter((i) => ruleOf(i) === '10306').length, 1, 'one issue per violation');
}

t.test('POST /v1/records: 422 naming rules 10306 and 10307, nothing queued', async (t) => {
  const res = await postJson(`${gw.url}/v1/records?source=rules-test`, withoutLot);
  t.equal(res.status, 422);
  t.equal(res.body.resourceType, 'OperationOutcome');
  expectRules(t, res.body as OperationOutcome);
  const outbox = join(gw.config.dataDir, 'outbox');
  t.same(existsSync(outbox) ? readdirSync(outbox) : [], [], 'nothing sent anywhere');
  const en = await postJson(`${gw.url}/v1/records?source=rules-test`, withoutLot, { 'accept-language': 'en' });
  t.match(en.body.issue.find((i: OperationOutcomeIssue) => ruleOf(i) === '10306')?.details?.text, /^SATUSEHAT would refuse this Immunization \(RuleNumber: 10306\)/);
});

t.test('POST /v1/$map: the dry run shows the same issues', async (t) => {
  const res = await postJson(`${gw.url}/v1/$map?source=rules-test`, withoutLot);
  t.equal(res.body.valid, false);
  expectRules(t, res.body.outcome as OperationOutcome);
});
