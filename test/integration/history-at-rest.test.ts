import { createHash, createHmac } from 'node:crypto';
import { Redis } from 'ioredis';
import t from 'tap';
import { postJson, startGateway } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';
import { keysOf } from '../helpers/store.js';
import { RECORD_FIELDS } from '../../src/sync/store/keys.js';
import { withChanges } from '../fixtures/records.js';

// What Gerbang remembers of a child is keyed by an HMAC of the identity (a plain SHA-256 of a NIK
// is reversed by trying every NIK), carries a 0.3.x history over, and does not outlive its use.
// This file reads the Redis store's keys, so its gateway keeps its ledger (and the history beside
// it) in Redis; the PostgreSQL history meets the same assertions in pg-subject-history.test.ts.

const historyKey = 'k'.repeat(8) + '0123456789abcdef0123456789abcdef';
const redis = await startRedis({ appendonly: false });
const admin = new Redis(redis.url);
const gw = await startGateway({ redisUrl: redis.url, ledgerStore: 'redis', security: { historyKey } });
t.teardown(async () => {
  admin.disconnect();
  await gw.close();
  await redis.stop();
});

const store = keysOf(gw.config);
const hmac = (identity: string) => createHmac('sha256', historyKey).update(identity).digest('hex').slice(0, 40);
const sha = (identity: string) => createHash('sha256').update(identity).digest('hex').slice(0, 40);

function weighing(nik: string, recordId: string, occurredAt: string, weightKg: number) {
  return withChanges({ recordId, occurredAt, weightKg, subject: { nik, name: 'Siti Aminah', sex: 'female', birthDate: '2023-03-15' } });
}

t.test('a history key is an HMAC with the configured secret, not a plain hash of the NIK', async (t) => {
  const nik = '3201015503230021';
  const res = await postJson(`${gw.url}/v1/records?source=rest`, weighing(nik, 'H-1', '2025-10-05T09:00:00+07:00', 9.5));
  t.equal(res.status, 202);
  const keys = await admin.keys(store.history('weighing', '*'));
  t.same(keys, [store.history('weighing', hmac(`nik:${nik}`))], 'named by the keyed hash');
  t.notOk(await admin.exists(store.history('weighing', sha(`nik:${nik}`))), 'not by the plain hash an enumeration finds');
  const subject = await admin.hget(store.record(res.body.id), RECORD_FIELDS.subject);
  t.equal(subject, hmac(`nik:${nik}`), 'the ledger names the person by the same keyed hash');
  const expireAt = Number(await admin.call('EXPIRETIME', keys[0]!));
  t.equal(new Date(expireAt * 1000).toISOString().slice(0, 10), '2028-04-15', 'kept until the child is 61 months old (past the KBM table)');
});

t.test('a 0.3.x history is carried over the first time the child is seen again', async (t) => {
  const nik = '3201015503230039';
  const legacy = store.history('weighing', sha(`nik:${nik}`));
  await admin.hset(legacy, '2025-09', JSON.stringify({ date: '2025-09-05', weightKg: 9.0, status: 'N', recordKey: 'old.1' }));
  const res = await postJson(`${gw.url}/v1/records?source=rest`, weighing(nik, 'H-2', '2025-10-05T09:00:00+07:00', 9.4));
  t.equal(res.status, 202);
  t.equal(res.body.indicators.growth.weightGain.status, 'N', "judged against last month's weight from the 0.3.x history (not B)");
  t.equal(await admin.exists(legacy), 0, 'the plainly hashed key is gone');
  t.same(Object.keys(await admin.hgetall(store.history('weighing', hmac(`nik:${nik}`)))).sort(), ['2025-09', '2025-10']);
});

t.test('weighings older than N/T needs are dropped, but for the newest of them (O, not B)', async (t) => {
  const nik = '3201015503230047';
  for (const [i, month] of ['2025-01', '2025-02', '2025-03', '2025-04', '2025-05'].entries()) {
    t.equal((await postJson(`${gw.url}/v1/records?source=rest`, weighing(nik, `H-3-${i}`, `${month}-05T09:00:00+07:00`, 8 + i * 0.3))).status, 202);
  }
  const late = await postJson(`${gw.url}/v1/records?source=rest`, weighing(nik, 'H-3-late', '2025-09-05T09:00:00+07:00', 9.6));
  t.equal(late.body.indicators.growth.weightGain.status, 'O', 'not weighed last month: O');
  t.same(Object.keys(await admin.hgetall(store.history('weighing', hmac(`nik:${nik}`)))).sort(), ['2025-05', '2025-09'], 'January to April dropped; May kept to tell O from B');
});
