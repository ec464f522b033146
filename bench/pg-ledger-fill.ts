// A synthetic ledger in PostgreSQL, for the status-summary figure of `npm run bench`: records
// filled by SQL (generate_series) into the tables of src/sync/pg/migrations/0001_ledger.sql, with
// the counts (status_counts, daily_counts, last_synced, latency_counts) moved as the ledger's own
// transactions move them, so that the summary reads a ledger of that size. Not a ledger the
// gateway can deliver from: the sealed state (`upstream_states.status`) is the placeholder
// 'bench-synthetic', and the payloads of settled records are dropped (payload_dropped_at), as
// retention leaves them; the few unsettled ones get a one-byte stand-in payload. Every record has
// one version and one upstream. Ids are `synth-<n>`, from source `bench-synth`.
import type pg from 'pg';

export interface Place {
  regency: string;
  puskesmas: string;
  posyandu: string;
}

export interface FillOptions {
  upstream: string;
  places: readonly Place[];
  /** record numbers [from, to) */
  from: number;
  to: number;
  /**
   * Records numbered below this are not synced (one in three failed, the others queued), the rest
   * synced: a ledger that grows keeps the same backlog, so what is measured is its size.
   */
  unsettledBelow: number;
  /**
   * accepted times spread over this many days before now: each run of as many records as there
   * are places gives every posyandu one record on one day, the next run the day before, so that a
   * ledger of any size has every posyandu on every day (as a district that reports daily has),
   * and a bigger one more records on each
   */
  days?: number;
  /** records per transaction */
  chunk?: number;
}

/** The upper bounds of the latency buckets (aggregates.ts LATENCY_BUCKETS without the last, unbounded one). */
export type LatencyBounds = readonly number[];

/** Fills records [from, to); answers how many it wrote. Partitions are made for the months it needs. */
export async function fillLedger(pool: pg.Pool, opts: FillOptions, latencyBounds: LatencyBounds): Promise<number> {
  const days = opts.days ?? 60;
  const chunk = opts.chunk ?? 100_000;
  await pool.query('SELECT ledger_ensure_partitions((now() - make_interval(days => $1::int + 31))::date, 4)', [days]);
  const regencies = opts.places.map((p) => p.regency);
  const puskesmas = opts.places.map((p) => p.puskesmas);
  const posyandu = opts.places.map((p) => p.posyandu);
  for (let start = opts.from; start < opts.to; start += chunk) {
    const end = Math.min(opts.to, start + chunk);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `CREATE TEMP TABLE synth ON COMMIT DROP AS
         SELECT 'synth-' || i AS id, 'S' || i AS source_record_id,
                ($3::text[])[(1 + i % $6::int)::int] AS regency, ($4::text[])[(1 + i % $6::int)::int] AS puskesmas, ($5::text[])[(1 + i % $6::int)::int] AS posyandu,
                md5('bench-subject-' || i) AS subject,
                r.received_at,
                CASE WHEN i >= $7::bigint THEN 'synced' WHEN i % 3 = 0 THEN 'failed' ELSE 'queued' END::upstream_state AS state,
                CASE WHEN i >= $7::bigint THEN least(r.received_at + make_interval(secs => (i % 600) + 1), now()) END AS synced_at
           FROM generate_series($1::bigint, $2::bigint - 1) AS g(i),
                LATERAL (SELECT now() - make_interval(secs => ((((i / $6::bigint) % $8::bigint) * 86400) + ((i * 7919) % 86400))::double precision) AS received_at) r`,
        [start, end, regencies, puskesmas, posyandu, opts.places.length, opts.unsettledBelow, days],
      );
      await client.query(`INSERT INTO record_keys (id, source, source_record_id, posyandu, received_at) SELECT id, 'bench-synth', source_record_id, posyandu, received_at FROM synth`);
      // settled_at: when the latest version became synced everywhere (retention's clock; a failed
      // record is not settled), as PgLedger sets it.
      await client.query(
        `INSERT INTO records (id, received_at, source, source_record_id, kind, regency, puskesmas, posyandu, subject, version, content_hash, updated_at, unsettled, settled_at, payload_dropped_at)
         SELECT id, received_at, 'bench-synth', source_record_id, 'anthropometry', regency, puskesmas, posyandu, subject, 1, md5(id),
                coalesce(synced_at, received_at), CASE WHEN state = 'synced' THEN 0 ELSE 1 END,
                synced_at, synced_at
           FROM synth`,
      );
      await client.query(`INSERT INTO record_versions (record_id, received_at, version, accepted_at, content_hash) SELECT id, received_at, 1, received_at, md5(id) FROM synth`);
      await client.query(`INSERT INTO record_payloads (record_id, received_at, version, record, bundle) SELECT id, received_at, 1, '\\x00'::bytea, '\\x00'::bytea FROM synth WHERE state <> 'synced'`);
      await client.query(
        `INSERT INTO upstream_states (record_id, received_at, upstream, kind, regency, puskesmas, posyandu, subject, state, version, status, attempts, last_error_code, synced_at, updated_at)
         SELECT id, received_at, $1, 'anthropometry', regency, puskesmas, posyandu, subject, state, 1, 'bench-synthetic',
                CASE state WHEN 'synced' THEN 1 WHEN 'failed' THEN 3 ELSE 0 END, CASE WHEN state = 'failed' THEN 'upstream-refused' END,
                synced_at, coalesce(synced_at, received_at)
           FROM synth`,
        [opts.upstream],
      );
      // The counts, as the accept and each state change move them.
      await client.query(
        `INSERT INTO status_counts (upstream, regency, puskesmas, posyandu, state, records)
         SELECT $1, regency, puskesmas, posyandu, state, count(*) FROM synth GROUP BY regency, puskesmas, posyandu, state
         ON CONFLICT (upstream, regency, puskesmas, posyandu, state) DO UPDATE SET records = status_counts.records + EXCLUDED.records`,
        [opts.upstream],
      );
      // The reporting day is WIB's (aggregates.ts reportingDay: UTC + 7 h).
      await client.query(
        `INSERT INTO daily_counts (upstream, day, regency, puskesmas, posyandu, event, records)
         SELECT $1, day, regency, puskesmas, posyandu, event, count(*) FROM (
           SELECT ((received_at AT TIME ZONE 'UTC') + interval '7 hours')::date AS day, regency, puskesmas, posyandu, 'accepted' AS event FROM synth
           UNION ALL
           SELECT ((synced_at AT TIME ZONE 'UTC') + interval '7 hours')::date, regency, puskesmas, posyandu, 'synced' FROM synth WHERE state = 'synced'
           UNION ALL
           SELECT ((received_at AT TIME ZONE 'UTC') + interval '7 hours')::date, regency, puskesmas, posyandu, 'failed' FROM synth WHERE state = 'failed'
         ) e GROUP BY day, regency, puskesmas, posyandu, event
         ON CONFLICT (upstream, day, regency, puskesmas, posyandu, event) DO UPDATE SET records = daily_counts.records + EXCLUDED.records`,
        [opts.upstream],
      );
      await client.query(
        `INSERT INTO last_synced (upstream, regency, puskesmas, posyandu, at)
         SELECT $1, regency, puskesmas, posyandu, max(synced_at) FROM synth WHERE state = 'synced' GROUP BY regency, puskesmas, posyandu
         ON CONFLICT (upstream, regency, puskesmas, posyandu) DO UPDATE SET at = greatest(last_synced.at, EXCLUDED.at)`,
        [opts.upstream],
      );
      // A latency's bucket: the first whose upper bound it does not exceed (the last: beyond them all).
      await client.query(
        `INSERT INTO latency_counts (upstream, regency, puskesmas, posyandu, bucket, records)
         SELECT $1, regency, puskesmas, posyandu, bucket, count(*) FROM (
           SELECT regency, puskesmas, posyandu,
                  (SELECT count(*) FROM unnest($2::double precision[]) AS b WHERE b < extract(epoch FROM synced_at - received_at))::smallint AS bucket
             FROM synth WHERE state = 'synced'
         ) l GROUP BY regency, puskesmas, posyandu, bucket
         ON CONFLICT (upstream, regency, puskesmas, posyandu, bucket) DO UPDATE SET records = latency_counts.records + EXCLUDED.records`,
        [opts.upstream, latencyBounds],
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
  // A real ledger's tables are analysed by autovacuum as they grow; the summary's plans should see
  // the same statistics here.
  await pool.query('ANALYZE');
  return opts.to - opts.from;
}

/** A registry of `puskesmas` puskesmas with `perPuskesmas` posyandu each, in two regencies, for the gateway's configuration. */
export function syntheticFacilities(puskesmasCount: number, perPuskesmas: number): { facilities: { puskesmas: Record<string, unknown>; posyandu: Record<string, unknown> }; places: Place[] } {
  const puskesmas: Record<string, unknown> = {};
  const posyandu: Record<string, unknown> = {};
  const places: Place[] = [];
  for (let p = 0; p < puskesmasCount; p++) {
    const regency = p % 2 === 0 ? '3201' : '3202';
    const village = `${regency}01${String(p + 1).padStart(4, '0')}`;
    const code = `P${village}`;
    puskesmas[code] = { name: `Puskesmas ${p + 1} (bench)`, organizationId: String(20000000 + p), regency, timeZone: 'WIB' };
    for (let k = 0; k < perPuskesmas; k++) {
      const pos = `${village}-${String(k + 1).padStart(2, '0')}`;
      posyandu[pos] = { name: `Posyandu ${p + 1}.${k + 1} (bench)`, puskesmas: code, village };
      places.push({ regency, puskesmas: code, posyandu: pos });
    }
  }
  return { facilities: { puskesmas, posyandu }, places };
}
