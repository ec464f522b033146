import t from 'tap';
import { fillLedger, syntheticFacilities } from '../../bench/pg-ledger-fill.js';
import { schemaBytes } from '../../bench/lib/store.js';
import { LATENCY_BUCKETS, reportingDay } from '../../src/sync/aggregates.js';
import { migratedPool } from '../helpers/ledger-database.js';

// The bench's synthetic PostgreSQL ledger (bench/pg-ledger-fill.ts) must be one the status summary
// can read as a real one: every count agrees with the rows it counts, and growing the ledger keeps
// the backlog the same.

const pool = await migratedPool({ max: 2 });
const bounds = LATENCY_BUCKETS.filter((b) => Number.isFinite(b));
const { places } = syntheticFacilities(3, 4);
const num = async (sql: string, params: unknown[] = []) => Number((await pool.query<{ n: string }>(sql, params)).rows[0]?.n ?? NaN);

t.test('the counts agree with the rows, before and after the ledger grows', async (t) => {
  await fillLedger(pool, { upstream: 'fast', places, from: 0, to: 3_000, unsettledBelow: 300, chunk: 1_000 }, bounds);
  const unsettledBefore = await num(`SELECT count(*) AS n FROM upstream_states WHERE state <> 'synced'`);
  await fillLedger(pool, { upstream: 'fast', places, from: 3_000, to: 9_000, unsettledBelow: 300, chunk: 4_000 }, bounds);

  for (const table of ['record_keys', 'records', 'record_versions', 'upstream_states']) t.equal(await num(`SELECT count(*) AS n FROM ${table}`), 9_000, `${table}: one row per record`);
  t.equal(await num(`SELECT count(*) AS n FROM upstream_states WHERE state <> 'synced'`), unsettledBefore, 'the backlog stays as the ledger grows');
  t.equal(unsettledBefore, 300);
  t.equal(await num(`SELECT count(*) AS n FROM record_payloads`), 300, 'payloads only for the records not synced');

  const mismatched = await pool.query(
    `SELECT * FROM (SELECT upstream, regency, puskesmas, posyandu, state, count(*) AS n FROM upstream_states GROUP BY 1, 2, 3, 4, 5) s
       FULL JOIN status_counts c USING (upstream, regency, puskesmas, posyandu, state) WHERE s.n IS DISTINCT FROM c.records`,
  );
  t.same(mismatched.rows, [], 'status_counts = the states, per place');
  t.equal(await num(`SELECT count(DISTINCT posyandu) AS n FROM status_counts`), places.length, 'every place has records');

  t.equal(await num(`SELECT sum(records) AS n FROM daily_counts WHERE event = 'accepted'`), 9_000, 'accepted per day adds up to the records');
  t.equal(await num(`SELECT sum(records) AS n FROM daily_counts WHERE event = 'synced'`), 8_700);
  t.equal(await num(`SELECT sum(records) AS n FROM daily_counts WHERE event = 'failed'`), 100);
  const someRecord = await pool.query<{ received_at: Date }>(`SELECT received_at FROM records ORDER BY id LIMIT 1`);
  const day = reportingDay(someRecord.rows[0]!.received_at.getTime());
  t.equal(
    await num(`SELECT sum(records) AS n FROM daily_counts WHERE event = 'accepted' AND day = $1::date`, [day]),
    await num(`SELECT count(*) AS n FROM records WHERE ((received_at AT TIME ZONE 'UTC') + interval '7 hours')::date = $1::date`, [day]),
    'the accepted count of a day is that reporting day\'s records (WIB)',
  );

  t.equal(await num(`SELECT sum(records) AS n FROM latency_counts`), 8_700, 'one latency per synced record');
  t.equal(await num(`SELECT count(*) AS n FROM latency_counts WHERE bucket < 0 OR bucket >= $1`, [LATENCY_BUCKETS.length]), 0, 'buckets within LATENCY_BUCKETS');
  t.equal(
    await num(`SELECT count(*) AS n FROM last_synced l WHERE l.at <> (SELECT max(synced_at) FROM upstream_states s WHERE s.posyandu = l.posyandu AND s.state = 'synced')`),
    0,
    'last_synced is the latest sync of each place',
  );
  t.equal(await num(`SELECT count(*) AS n FROM records WHERE (unsettled = 0) <> (settled_at IS NOT NULL)`), 0, 'settled_at set exactly when no upstream is left');
  t.equal(await num(`SELECT count(*) AS n FROM records WHERE unsettled = 0`), 8_700, 'settled: synced at its one upstream (a failed record is not)');
  t.ok((await schemaBytes(pool)) > 9_000 * 100, 'the schema\'s relations hold the rows');
});
