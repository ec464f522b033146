import { createHash, createHmac } from 'node:crypto';
import { Redis } from 'ioredis';
import t from 'tap';
import { PgSubjectHistory } from '../../src/sync/pg/pg-subject-history.js';
import { RedisSubjectHistory } from '../../src/sync/store/redis-subject-history.js';
import type { HistoryRetention, Memory, SubjectHistoryStore } from '../../src/sync/subject-history.js';
import { migratedPool } from '../helpers/ledger-database.js';
import { startRedis } from '../helpers/redis-server.js';
import { testKeys } from '../helpers/store.js';

// A person's history behaves the same in Redis and in PostgreSQL: the same assertions run against
// both stores, each on a real server. Keyed names, the months kept, the expiry of the whole
// history, the 0.3.x carry-over, and no NIK anywhere in what is stored.

const secret = 's'.repeat(8) + '0123456789abcdef0123456789abcdef';
const retention: HistoryRetention = { weighingMonthsKept: 2, weighingsUntilAgeMonths: 61, dosesUntilAgeMonths: 60, fallbackDays: 400 };
const hmac = (identity: string) => createHmac('sha256', secret).update(identity).digest('hex').slice(0, 40);
const sha = (identity: string) => createHash('sha256').update(identity).digest('hex').slice(0, 40);
const DAY = 86_400_000;

const redisServer = await startRedis({ appendonly: false });
const redis = new Redis(redisServer.url);
const pool = await migratedPool({ max: 6 });
t.teardown(async () => {
  redis.disconnect();
  await redisServer.stop();
});

type What = Memory['what'];

/** A store, and what the test needs to see behind it. */
interface Subject {
  name: string;
  store: SubjectHistoryStore;
  /** a history as 0.3.x left it (or `gerbang ledger import` copied it): under the plain hash */
  seedLegacy(what: What, plainKey: string, entries: Record<string, object>, expiresAtSeconds: number): Promise<void>;
  /** the fields stored under a person's key (expired ones too, if the store still holds them) */
  storedFields(what: What, key: string): Promise<string[]>;
  /** the expiry of a person's history (seconds), undefined when nothing is stored */
  expiryOf(what: What, key: string): Promise<number | undefined>;
  dropExpired(): Promise<number>;
  /** everything stored, as text */
  dump(): Promise<string>;
}

const redisKeys = testKeys('history');
const redisSubject: Subject = {
  name: 'redis',
  store: new RedisSubjectHistory(redis, secret, redisKeys, retention),
  async seedLegacy(what, plainKey, entries, expiresAt) {
    const key = redisKeys.history(what, plainKey);
    for (const [field, entry] of Object.entries(entries)) await redis.hset(key, field, JSON.stringify(entry));
    await redis.expireat(key, expiresAt);
  },
  async storedFields(what, key) {
    return Object.keys(await redis.hgetall(redisKeys.history(what, key))).sort();
  },
  async expiryOf(what, key) {
    const at = Number(await redis.call('EXPIRETIME', redisKeys.history(what, key)));
    return at > 0 ? at : undefined;
  },
  // Redis expires a history itself
  dropExpired: async () => 0,
  async dump() {
    const lines: string[] = [];
    for (const key of await redis.keys('*')) lines.push(key, JSON.stringify(await redis.hgetall(key)));
    return lines.join('\n');
  },
};

const pgStore = new PgSubjectHistory(pool, secret, retention);
const pgSubject: Subject = {
  name: 'postgres',
  store: pgStore,
  async seedLegacy(what, plainKey, entries, expiresAt) {
    for (const [field, entry] of Object.entries(entries)) {
      const { posyandu, ...rest } = entry as { posyandu?: string };
      await pool.query('INSERT INTO subject_history (subject_key, what, field, entry, posyandu, expires_at) VALUES ($1, $2, $3, $4, $5, to_timestamp($6))', [plainKey, what, field, JSON.stringify(rest), posyandu ?? null, expiresAt]);
    }
  },
  async storedFields(what, key) {
    return (await pool.query<{ field: string }>('SELECT field FROM subject_history WHERE subject_key = $1 AND what = $2 ORDER BY field', [key, what])).rows.map((r) => r.field);
  },
  async expiryOf(what, key) {
    const { rows } = await pool.query<{ at: string }>('SELECT DISTINCT extract(epoch FROM expires_at)::bigint AS at FROM subject_history WHERE subject_key = $1 AND what = $2', [key, what]);
    if (rows.length > 1) throw new Error(`one history, ${rows.length} expiries`);
    return rows[0] ? Number(rows[0].at) : undefined;
  },
  dropExpired: () => pgStore.dropExpired(),
  async dump() {
    return (await pool.query<{ row: string }>('SELECT t::text AS row FROM subject_history t')).rows.map((r) => r.row).join('\n');
  },
};

let serial = 0;
/** A child of its own for each test and store: the stores share nothing, the tests share the servers. */
function child(birthDate = '2024-03-15') {
  serial += 1;
  const nik = `32010155032${String(40_000 + serial).padStart(5, '0')}`;
  return { nik, identity: `nik:${nik}`, subject: { nik, name: 'Siti Aminah', sex: 'female', birthDate } };
}
const weighingOf = (c: ReturnType<typeof child>) => ({ kind: 'anthropometry', posyandu: 'P-1', subject: c.subject });
const doseOf = (c: ReturnType<typeof child>) => ({ kind: 'immunization', posyandu: 'P-1', subject: c.subject });
const weighed = (month: string, weightKg: number, posyandu = 'P-1'): Memory => ({
  what: 'weighing',
  field: month,
  entry: { date: `${month}-05`, weightKg, status: 'N', recordKey: `rest.W-${month}`, posyandu },
});
const dosed = (field: string, date: string): Memory => ({ what: 'doses', field, entry: { date, recordKey: `rest.D-${field}`, posyandu: 'P-2' } });
const nowSeconds = () => Math.floor(Date.now() / 1000);

for (const s of [redisSubject, pgSubject]) {
  const { store } = s;

  t.test(`${s.name}: a person's key is an HMAC of the identity with the secret`, async (t) => {
    const c = child();
    t.equal(store.subjectKey(c.identity), hmac(c.identity));
    t.equal(store.subjectOf(weighingOf(c)), hmac(c.identity));
    t.equal(store.subjectOf({ subject: { mother: { nik: '3201014101900002' }, birthDate: '2025-01-02' } }), hmac('newborn:3201014101900002.2025-01-02.1'), 'a newborn by the mother, birth date and order');
    t.equal(store.subjectOf({ kind: 'anthropometry' }), '', 'no identity, no key');
    t.equal(store.subjectKey(undefined), '');
  });

  t.test(`${s.name}: what is remembered is read back, with its place, for the kinds that need it`, async (t) => {
    const c = child();
    t.same(await store.forRecord(weighingOf(c)), { weighings: {} }, 'nothing yet');
    await store.remember(weighingOf(c), weighed('2025-09', 9.1));
    await store.remember(weighingOf(c), weighed('2025-10', 9.4, 'P-9'));
    await store.remember(doseOf(c), dosed('DPT-HB-Hib.1', '2024-05-20'));
    t.same(await store.forRecord(weighingOf(c)), {
      weighings: {
        '2025-09': { date: '2025-09-05', weightKg: 9.1, status: 'N', recordKey: 'rest.W-2025-09', posyandu: 'P-1' },
        '2025-10': { date: '2025-10-05', weightKg: 9.4, status: 'N', recordKey: 'rest.W-2025-10', posyandu: 'P-9' },
      },
    });
    t.same(await store.forRecord(doseOf(c)), { doses: { 'DPT-HB-Hib.1': { date: '2024-05-20', recordKey: 'rest.D-DPT-HB-Hib.1', posyandu: 'P-2' } } }, 'doses apart from weighings');
    await store.remember(weighingOf(c), weighed('2025-10', 9.5));
    t.equal((await store.forRecord(weighingOf(c)))?.weighings?.['2025-10']?.weightKg, 9.5, 'a month written again holds the newer weighing');
    t.equal(await store.forRecord({ kind: 'anc', subject: c.subject }), undefined, 'a kind judged against no history reads none');
    t.equal(await store.forRecord({ kind: 'anthropometry', subject: { name: 'no NIK' } }), undefined, 'a record without an identity reads none');
    await store.remember({ kind: 'anthropometry', subject: { name: 'no NIK' } }, weighed('2025-10', 9));
    t.same(await s.storedFields('weighing', ''), [], 'and remembers nothing');
  });

  t.test(`${s.name}: the months before those N/T needs go, but for the newest of them`, async (t) => {
    const c = child();
    const key = hmac(c.identity);
    for (const [i, month] of ['2025-01', '2025-02', '2025-03', '2025-04'].entries()) await store.remember(weighingOf(c), weighed(month, 8 + i / 10));
    t.same(await s.storedFields('weighing', key), ['2025-01', '2025-02', '2025-03', '2025-04'], 'one month before the two kept: it stays');
    await store.remember(weighingOf(c), weighed('2025-05', 8.5));
    t.same(await s.storedFields('weighing', key), ['2025-02', '2025-03', '2025-04', '2025-05'], 'January goes, February is the newest before the two kept');
    await store.remember(weighingOf(c), weighed('2025-09', 9.6));
    t.same(await s.storedFields('weighing', key), ['2025-05', '2025-09'], 'May stays to tell O from B');
    t.same(Object.keys((await store.forRecord(weighingOf(c)))!.weighings!).sort(), ['2025-05', '2025-09']);
    for (const [i, f] of ['BCG.1', 'Polio.1', 'Polio.2', 'Polio.3'].entries()) await store.remember(doseOf(c), dosed(f, `2024-0${i + 3}-01`));
    t.same(await s.storedFields('doses', key), ['BCG.1', 'Polio.1', 'Polio.2', 'Polio.3'], 'doses are all kept');
  });

  t.test(`${s.name}: the history expires as a whole, when the child is past the age it serves`, async (t) => {
    const c = child('2024-03-15');
    const key = hmac(c.identity);
    await store.remember(weighingOf(c), weighed('2025-09', 9.1));
    await store.remember(doseOf(c), dosed('BCG.1', '2024-03-20'));
    t.equal(await s.expiryOf('weighing', key), Date.UTC(2029, 3, 15) / 1000, 'weighings: until 61 months old');
    t.equal(await s.expiryOf('doses', key), Date.UTC(2029, 2, 15) / 1000, 'doses: until 60 months old');

    const undated = child();
    const { birthDate: _, ...noBirth } = undated.subject;
    const body = { kind: 'anthropometry', subject: noBirth };
    const t0 = Date.now();
    await store.remember(body, weighed('2025-01', 8), t0 - 100 * DAY);
    await store.remember(body, weighed('2025-02', 8.2), t0);
    t.equal(await s.expiryOf('weighing', hmac(undated.identity)), Math.floor((t0 + 400 * DAY) / 1000), 'no birth date: 400 days after the last write, for the whole history');

    const old = child('2015-01-01');
    const oldKey = hmac(old.identity);
    const then = Date.now() - 10 * DAY;
    await store.remember(weighingOf(old), weighed('2020-01', 18), then);
    t.same(await store.forRecord(weighingOf(old)), { weighings: {} }, 'an expired history is not read');
    await store.remember(weighingOf(old), weighed('2020-03', 18.4));
    t.same(Object.keys((await store.forRecord(weighingOf(old)))!.weighings!), ['2020-03'], 'a write after the expiry starts afresh: the expired months do not come back');
    t.ok((await s.expiryOf('weighing', oldKey))! > nowSeconds(), 'and expires a day on');

    const gone = child('2015-01-01');
    await store.remember(weighingOf(gone), weighed('2020-01', 18), then);
    t.same(await store.forRecord(weighingOf(gone)), { weighings: {} });
    const dropped = await s.dropExpired();
    if (s.name === 'postgres') t.ok(dropped >= 1, 'the retention sweep deletes the expired rows');
    t.same(await s.storedFields('weighing', hmac(gone.identity)), [], 'nothing of it is left stored');
    t.same(await s.storedFields('weighing', key), ['2025-09'], 'a history not expired stays');
    t.equal(await s.dropExpired(), 0, 'a second sweep finds nothing');
  });

  t.test(`${s.name}: a 0.3.x history carries over the first time the child is seen again`, async (t) => {
    const c = child();
    const entry = { date: '2025-09-05', weightKg: 9, status: 'N', recordKey: 'old.1', posyandu: 'P-3' };
    await s.seedLegacy('weighing', sha(c.identity), { '2025-09': entry, '2025-08': { date: '2025-08-05', weightKg: 8.8, status: 'N', recordKey: 'old.0' } }, nowSeconds() + 30 * 86_400);
    // two requests for the child at once: both read the history
    const [a, b] = await Promise.all([store.forRecord(weighingOf(c)), store.forRecord(weighingOf(c))]);
    const expected = { weighings: { '2025-09': entry, '2025-08': { date: '2025-08-05', weightKg: 8.8, status: 'N', recordKey: 'old.0' } } };
    t.same(a, expected, 'read through the 0.3.x name, an entry without a place stays without one');
    t.same(b, expected);
    t.same(await s.storedFields('weighing', sha(c.identity)), [], 'the plainly hashed name is gone');
    t.same(await s.storedFields('weighing', hmac(c.identity)), ['2025-08', '2025-09'], 'the keyed name holds it');
    await store.remember(weighingOf(c), weighed('2025-10', 9.4));
    t.same(Object.keys((await store.forRecord(weighingOf(c)))!.weighings!).sort(), ['2025-08', '2025-09', '2025-10'], 'and it carries on');

    const both = child();
    await store.remember(weighingOf(both), weighed('2025-10', 9.4));
    await s.seedLegacy('weighing', sha(both.identity), { '2025-01': entry }, nowSeconds() + 30 * 86_400);
    t.same(Object.keys((await store.forRecord(weighingOf(both)))!.weighings!), ['2025-10'], 'a keyed history wins over a 0.3.x one');
    t.same(await s.storedFields('weighing', sha(both.identity)), ['2025-01'], 'which is left to expire');

    const stale = child();
    await s.seedLegacy('weighing', sha(stale.identity), { '2025-01': entry }, nowSeconds() - 60);
    t.same(await store.forRecord(weighingOf(stale)), { weighings: {} }, 'an expired 0.3.x history is not carried over');
  });

  t.test(`${s.name}: writes at once for one child all land`, async (t) => {
    const c = child();
    const months = ['2025-01', '2025-02', '2025-03', '2025-04'];
    await Promise.all(months.map((m, i) => store.remember(weighingOf(c), weighed(m, 8 + i / 10))));
    t.same(await s.storedFields('weighing', hmac(c.identity)), months);
  });

  t.test(`${s.name}: no NIK, name or plain hash of a NIK in anything stored`, async (t) => {
    const c = child();
    await store.remember(weighingOf(c), weighed('2025-10', 9.4));
    await store.remember(doseOf(c), dosed('BCG.1', '2024-03-20'));
    const newborn = { kind: 'immunization', posyandu: 'P-1', subject: { name: 'Bayi Ny. Ani', mother: { nik: '3201014101900077' }, birthDate: '2025-01-02' } };
    await store.remember(newborn, dosed('HB0.1', '2025-01-02'));
    t.equal(Object.keys((await store.forRecord(newborn))!.doses!).length, 1);
    const text = await s.dump();
    t.ok(text.includes(hmac(c.identity)), 'the dump is of what was written');
    for (const secretish of [c.nik, '3201014101900077', 'Siti', 'Ani', sha(c.identity), sha('newborn:3201014101900077.2025-01-02.1')]) {
      t.notOk(text.includes(secretish), `${secretish.slice(0, 6)}… is not stored`);
    }
    // every child of this file: their NIKs share this start, and none is stored
    t.notOk(/3201015503240/.test(text), 'no NIK of any test child');
  });
}
