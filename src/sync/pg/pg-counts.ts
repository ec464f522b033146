import type pg from 'pg';
import type { Place } from '../../config/scope.js';
import { LATENCY_BUCKETS } from '../aggregates.js';
import type { UpstreamState } from '../states.js';

// The counts of aggregates.ts in PostgreSQL (status_counts, daily_counts, last_synced,
// latency_counts), moved in the transaction that changes the states, as transition.lua moves the
// Redis hashes in the script that writes them. The lists Redis keeps beside them (pending,
// backlog, problems, in-queue) are not counts here: upstream_states and its partial indexes
// answer them.
//
// A transaction collects its moves and writes them last, in one fixed order: count rows are hot
// (every record of a posyandu touches the same few), and two transactions taking them in different
// orders would deadlock.

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

  /** Writes the moves: one statement per table, its rows in the order of their keys. */
  async write(client: pg.ClientBase): Promise<void> {
    const states = sorted(this.states);
    if (states.length > 0) {
      await client.query(
        `INSERT INTO status_counts (upstream, regency, puskesmas, posyandu, state, records)
         SELECT u, r, k, p, s, n FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::upstream_state[], $6::bigint[]) WITH ORDINALITY AS x(u, r, k, p, s, n, i) ORDER BY i
         ON CONFLICT (upstream, regency, puskesmas, posyandu, state) DO UPDATE SET records = status_counts.records + excluded.records`,
        columns(states, (e) => [e.upstream, e.place.regency, e.place.puskesmas, e.place.posyandu, e.state, e.n]),
      );
    }
    const days = sorted(this.days);
    if (days.length > 0) {
      await client.query(
        `INSERT INTO daily_counts (upstream, day, regency, puskesmas, posyandu, event, records)
         SELECT u, d, r, k, p, e, n FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) WITH ORDINALITY AS x(u, d, r, k, p, e, n, i) ORDER BY i
         ON CONFLICT (upstream, day, regency, puskesmas, posyandu, event) DO UPDATE SET records = daily_counts.records + excluded.records`,
        columns(days, (e) => [e.upstream, e.day, e.place.regency, e.place.puskesmas, e.place.posyandu, e.event, e.n]),
      );
    }
    for (const e of sorted(this.last)) {
      // as HSET: the latest write wins, whatever its time
      await client.query(
        `INSERT INTO last_synced (upstream, regency, puskesmas, posyandu, at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (upstream, regency, puskesmas, posyandu) DO UPDATE SET at = excluded.at`,
        [e.upstream, e.place.regency, e.place.puskesmas, e.place.posyandu, e.at],
      );
    }
    for (const e of sorted(this.latency)) {
      await client.query(
        `INSERT INTO latency_counts (upstream, regency, puskesmas, posyandu, bucket, records) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (upstream, regency, puskesmas, posyandu, bucket) DO UPDATE SET records = latency_counts.records + excluded.records`,
        [e.upstream, e.place.regency, e.place.puskesmas, e.place.posyandu, e.bucket, e.n],
      );
    }
  }
}

export type DayEvent = 'accepted' | 'synced' | 'failed';

/** The place in LATENCY_BUCKETS of a latency (the last one: longer than every finite bound). */
export function latencyBucket(seconds: number): number {
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
