import type pg from 'pg';
import { inTransaction } from './transaction.js';
import type { Place } from '../../config/scope.js';
import { LATENCY_BUCKETS } from '../aggregates.js';
import type { UpstreamState } from '../states.js';
import { oneStatement, type Statement } from './one-statement.js';

// The counts of aggregates.ts in PostgreSQL (status_counts, daily_counts, last_synced,
// latency_counts), moved in the transaction that changes the states, as transition.lua moves the
// Redis hashes in the script that writes them. The lists Redis keeps beside them (pending,
// backlog, problems, in-queue) are not counts here: upstream_states and its partial indexes
// answer them.
//
// A transaction collects its moves and appends them last as deltas (count rows are hot: every
// record of a posyandu touches the same few); rollUpCounts moves them into the totals every few
// seconds, and readers add the deltas not yet moved (countsSql).

type Key = string;

export class CountMoves {
  private readonly states = new Map<Key, { upstream: string; place: Place; state: UpstreamState; n: number }>();
  private readonly days = new Map<Key, { upstream: string; day: string; place: Place; event: DayEvent; n: number }>();
  private readonly last = new Map<Key, { upstream: string; place: Place; at: string }>();
  private readonly latency = new Map<Key, { upstream: string; place: Place; bucket: number; n: number }>();

  /**
   * One record at `upstream` moves from `from` (undefined: a new record) to `to`, as
   * transition.lua. Returns whether it became synced (the caller counts the record's unsynced
   * upstreams down).
   */
  transition(upstream: string, place: Place, from: UpstreamState | undefined, to: UpstreamState, at: { ms: number; day: string; iso: string }, acceptedMs: number): boolean {
    if (from === to) return false;
    if (from) this.state(upstream, place, from, -1);
    this.state(upstream, place, to, 1);
    if (to === 'failed') this.day(upstream, at.day, place, 'failed');
    if (to !== 'synced') return false;
    this.day(upstream, at.day, place, 'synced');
    this.last.set(JSON.stringify([upstream, place.regency, place.puskesmas, place.posyandu]), { upstream, place, at: at.iso });
    const bucket = latencyBucket((at.ms - acceptedMs) / 1000);
    const key = JSON.stringify([upstream, place.regency, place.puskesmas, place.posyandu, bucket]);
    const entry = this.latency.get(key) ?? { upstream, place, bucket, n: 0 };
    entry.n += 1;
    this.latency.set(key, entry);
    return true;
  }

  day(upstream: string, day: string, place: Place, event: DayEvent): void {
    const key = JSON.stringify([upstream, day, place.regency, place.puskesmas, place.posyandu, event]);
    const entry = this.days.get(key) ?? { upstream, day, place, event, n: 0 };
    entry.n += 1;
    this.days.set(key, entry);
  }

  private state(upstream: string, place: Place, state: UpstreamState, n: number): void {
    const key = JSON.stringify([upstream, place.regency, place.puskesmas, place.posyandu, state]);
    const entry = this.states.get(key) ?? { upstream, place, state, n: 0 };
    entry.n += n;
    this.states.set(key, entry);
  }

  /**
   * The moves as deltas (migrations/0003_count_deltas.sql), one insert per table: rows appended,
   * none updated, so transactions of one place do not wait on each other's count rows.
   */
  statements(onlyIf?: string): Statement[] {
    const out: Statement[] = [];
    // onlyIf: a condition on the statement they go in (written only when it holds)
    const add = (sql: string, cols: unknown[][]) => out.push({ sql: onlyIf ? `${sql} WHERE ${onlyIf}` : sql, params: cols });
    const states = sorted(this.states);
    if (states.length > 0) {
      add(
        `INSERT INTO status_count_deltas (upstream, regency, puskesmas, posyandu, state, records)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::upstream_state[], $6::bigint[])`,
        columns(states, (e) => [e.upstream, e.place.regency, e.place.puskesmas, e.place.posyandu, e.state, e.n]),
      );
    }
    const days = sorted(this.days);
    if (days.length > 0) {
      add(
        `INSERT INTO daily_count_deltas (upstream, day, regency, puskesmas, posyandu, event, records)
         SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[])`,
        columns(days, (x) => [x.upstream, x.day, x.place.regency, x.place.puskesmas, x.place.posyandu, x.event, x.n]),
      );
    }
    const latency = sorted(this.latency);
    if (latency.length > 0) {
      add(
        `INSERT INTO latency_count_deltas (upstream, regency, puskesmas, posyandu, bucket, records)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::smallint[], $6::bigint[])`,
        columns(latency, (e) => [e.upstream, e.place.regency, e.place.puskesmas, e.place.posyandu, e.bucket, e.n]),
      );
    }
    const last = sorted(this.last);
    if (last.length > 0) {
      // as HSET: the latest write wins, whatever its time (the sequence orders the writes)
      add(
        `INSERT INTO last_synced_deltas (upstream, regency, puskesmas, posyandu, at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])`,
        columns(last, (e) => [e.upstream, e.place.regency, e.place.puskesmas, e.place.posyandu, e.at]),
      );
    }
    return out;
  }

  /** Writes the moves, in one statement. */
  async write(client: pg.ClientBase): Promise<void> {
    const one = oneStatement(this.statements());
    if (one) await client.query(one.sql, one.params);
  }
}

/** How often a process rolls the deltas up (at most; after a write of its own). */
export const ROLL_UP_MS = 2000;

/**
 * Moves the count deltas into the totals (ledger_roll_up_counts), in a transaction of its own.
 * `wait` false: returns false at once when another process is at it. Losing this commit in a crash
 * loses nothing (deltas and totals go back together), so it does not wait for its fsync.
 */
export async function rollUpCounts(pool: pg.Pool, wait = false): Promise<boolean> {
  return inTransaction(pool, 'BEGIN; SET LOCAL synchronous_commit = off', async (c) => {
    const res = await c.query<{ done: boolean }>('SELECT ledger_roll_up_counts($1) AS done', [wait]);
    return res.rows[0]?.done === true;
  });
}

export type DayEvent = 'accepted' | 'synced' | 'failed';

/** The place in LATENCY_BUCKETS of a latency (the last one: longer than every finite bound). */
function latencyBucket(seconds: number): number {
  const i = LATENCY_BUCKETS.findIndex((bound) => seconds <= bound);
  return i === -1 ? LATENCY_BUCKETS.length - 1 : i;
}

function sorted<V>(m: Map<Key, V>): V[] {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

/** Rows as one array per column (unnest's parameters). */
function columns<V>(rows: V[], values: (row: V) => unknown[]): unknown[][] {
  const out: unknown[][] = [];
  for (const row of rows) values(row).forEach((v, i) => (out[i] ??= []).push(v));
  return out;
}
