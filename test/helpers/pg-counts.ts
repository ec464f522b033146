import type pg from 'pg';
import type { UpstreamCounts } from '../../src/sync/ledger.js';
import { rollUpCounts } from '../../src/sync/pg/pg-counts.js';

// The PostgreSQL ledger's count tables read in the shape of LedgerCounts.counts, to compare with
// the Redis ledger's after the same moves (PgReads has its own reading of them).

/** The count tables at one upstream, for these reporting days. */
export async function pgCounts(pool: pg.Pool, upstream: string, days: readonly string[]): Promise<UpstreamCounts> {
  // the totals alone: every delta rolled up first
  await rollUpCounts(pool, true);
  const place = (r: { regency: string; puskesmas: string; posyandu: string }) => ({ regency: r.regency, puskesmas: r.puskesmas, posyandu: r.posyandu });
  const states = await pool.query('SELECT * FROM status_counts WHERE upstream = $1', [upstream]);
  const last = await pool.query('SELECT * FROM last_synced WHERE upstream = $1', [upstream]);
  const latency = await pool.query('SELECT * FROM latency_counts WHERE upstream = $1', [upstream]);
  const perDay = await Promise.all(days.map((d) => pool.query(`SELECT * FROM daily_counts WHERE upstream = $1 AND day = $2::date`, [upstream, d])));
  return {
    states: states.rows.map((r) => ({ place: place(r), state: r.state, records: Number(r.records) })),
    lastSynced: last.rows.map((r) => ({ place: place(r), at: (r.at as Date).toISOString() })),
    latency: latency.rows.map((r) => ({ place: place(r), bucket: Number(r.bucket), records: Number(r.records) })),
    days: perDay.map((res) => res.rows.map((r) => ({ place: place(r), event: r.event, records: Number(r.records) }))),
  };
}

/** The same counts in one order (neither store promises one). */
export function sortCounts(c: UpstreamCounts): unknown {
  const key = (x: unknown) => JSON.stringify(x);
  const sort = <T>(xs: T[]) => [...xs].sort((a, b) => (key(a) < key(b) ? -1 : 1));
  return { states: sort(c.states), lastSynced: sort(c.lastSynced), latency: sort(c.latency), days: c.days.map(sort) };
}
