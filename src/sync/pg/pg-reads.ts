import type pg from 'pg';
import type { Place } from '../../config/scope.js';
import type { LedgerCounts, UpstreamCounts } from '../ledger.js';
import { matches, pageOf, type FailureFilter, type FailureItem, type PosyanduQuery, type ProblemFilter, type RecordSearch, type SentRecord } from '../record-search.js';
import { failureItemOf, sentRecordOf } from '../search-items.js';
import { UPSTREAM_STATES, type UpstreamState } from '../states.js';
import type { OpenedRecord, StoredPayload } from '../stored-payload.js';
import { RECORD_FIELDS as F, SEALED_WORDS_PROPERTY, upstreamField } from '../store/keys.js';

// What the PostgreSQL ledger answers without writing a state: the lists of record-search.ts, the
// counts of the status API, and retention. Each reads an index of 0001_ledger.sql or a count table,
// never every record: failures and problem ids the partial indexes of failed and waiting states, a
// posyandu's records records_by_posyandu, the backlog's age upstream_states_backlog, the counts
// their own tables, retention records_to_purge and records_payload_kept. Rows are
// opened as the Redis ledger opens a record's hash (StoredPayload.openRecord), so masking, the
// upstream's words and an unreadable payload come out the same.

const CHUNK = 500;
// Records received at the same moment (a $batch) are ordered by id byte by byte, as a Redis
// sorted set orders members of one score: `COLLATE "C"` on the id in the lists.
const RETENTION_BATCH = 500;
const PROBLEM_STATES: readonly UpstreamState[] = ['failed', 'waiting-identity'];
// A record keeps its payload while none was dropped since its latest version was accepted (a
// version accepted after a drop brings one again); the predicate of records_to_purge and
// records_payload_kept, written the same so that the planner uses them.
const PAYLOAD_KEPT = '(r.payload_dropped_at IS NULL OR r.payload_dropped_at < r.updated_at)';
// When the latest version was accepted, as of the state's last change: what Redis scores the
// problems, pending and backlog sets with (acceptedMs), so lists, filters and ages agree. The
// partial indexes narrow to the rows in those states; the order is then sorted among them.
const ACCEPTED = 'coalesce(s.accepted_at, s.received_at)';

interface RecordRow {
  id: string;
  received_at: Date;
  source: string;
  source_record_id: string;
  kind: string;
  regency: string;
  puskesmas: string;
  posyandu: string;
  version: number;
  record: Buffer | null;
  provenance?: Buffer | null;
}

interface ProblemRow extends RecordRow {
  upstream: string;
  status: string;
}

/** Where a walk in chunks stopped: the last row's time (as PostgreSQL wrote it, to the microsecond) and id. */
interface Cursor {
  at: string;
  id: string;
}

export class PgReads implements RecordSearch, LedgerCounts {
  constructor(
    private readonly pool: pg.Pool,
    private readonly payload: StoredPayload,
  ) {}

  /** A row as the hash the Redis ledger keeps, opened: the same masking and unreadable rules apply. */
  private open(row: RecordRow, states: ReadonlyArray<{ upstream: string; status: string }>): OpenedRecord {
    const text: Record<string, string> = {
      [F.id]: row.id,
      [F.source]: row.source,
      [F.recordId]: row.source_record_id,
      [F.kind]: row.kind,
      [F.regency]: row.regency,
      [F.puskesmas]: row.puskesmas,
      [F.posyandu]: row.posyandu,
      [F.receivedAt]: row.received_at.toISOString(),
      [F.version]: String(row.version),
    };
    const hash: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(text)) hash[k] = Buffer.from(v);
    for (const s of states) hash[upstreamField(s.upstream)] = Buffer.from(s.status);
    if (row.record) hash[F.record] = row.record;
    if (row.provenance) hash[F.provenance] = row.provenance;
    return this.payload.openRecord(hash);
  }

  /**
   * The failed and waiting records at one upstream matching the filter's place, kind and time, in
   * chunks, newest first (or oldest first), each chunk after the last; reason and `covers` are the
   * caller's (they are JavaScript).
   */
  private async *problems(upstream: string, f: ProblemFilter, order: 'newest' | 'oldest', withPayload: boolean): AsyncGenerator<ProblemRow & { at: number }> {
    // a state no failure is in (the caller's filter is not checked against the enum): none
    if (f.state && !PROBLEM_STATES.includes(f.state)) return;
    const params: unknown[] = [upstream, PROBLEM_STATES];
    const where = ['s.upstream = $1', 's.state = ANY($2::upstream_state[])'];
    const add = (sql: (n: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (f.posyandu) add((n) => `s.posyandu = ${n}`, f.posyandu);
    if (f.puskesmas) add((n) => `s.puskesmas = ${n}`, f.puskesmas);
    if (f.kind) add((n) => `s.kind = ${n}`, f.kind);
    if (f.state) add((n) => `s.state = ${n}::upstream_state`, f.state);
    if (f.from !== undefined) add((n) => `${ACCEPTED} >= ${n}`, new Date(f.from));
    if (f.to !== undefined) add((n) => `${ACCEPTED} <= ${n}`, new Date(f.to));
    const dir = order === 'newest' ? 'DESC' : 'ASC';
    const payload = withPayload
      ? 'LEFT JOIN record_payloads p ON p.record_id = r.id AND p.received_at = r.received_at AND p.version = r.version'
      : '';
    let after: Cursor | undefined;
    for (;;) {
      const page = [...params];
      const cond = [...where];
      if (after) {
        page.push(after.at, after.id);
        cond.push(`(${ACCEPTED}, s.record_id COLLATE "C") ${order === 'newest' ? '<' : '>'} ($${page.length - 1}::timestamptz, $${page.length})`);
      }
      const { rows } = await this.pool.query<ProblemRow & { accepted: Date; cursor_at: string }>(
        `SELECT s.record_id AS id, s.received_at, ${ACCEPTED} AS accepted, ${ACCEPTED}::text AS cursor_at, s.upstream, s.status,
                r.source, r.source_record_id, r.kind, r.regency, r.puskesmas, r.posyandu, r.version, ${withPayload ? 'p.record' : 'NULL::bytea AS record'}
         FROM upstream_states s
         JOIN records r ON r.id = s.record_id AND r.received_at = s.received_at
         ${payload}
         WHERE ${cond.join(' AND ')}
         ORDER BY ${ACCEPTED} ${dir}, s.record_id COLLATE "C" ${dir}
         LIMIT ${CHUNK}`,
        page,
      );
      for (const row of rows) yield { ...row, at: row.accepted.getTime() };
      if (rows.length < CHUNK) return;
      const last = rows[rows.length - 1]!;
      after = { at: last.cursor_at, id: last.id };
    }
  }

  failures(filter: FailureFilter, covers: (p: Place) => boolean, showIdentity: boolean): Promise<{ items: FailureItem[]; more: boolean }> {
    return pageOf(this.failureWalk(filter, covers, showIdentity), filter.offset, filter.limit);
  }

  /** The matching failures, upstream by upstream as the Redis ledger lists them, newest first. */
  private async *failureWalk(filter: FailureFilter, covers: (p: Place) => boolean, showIdentity: boolean): AsyncGenerator<FailureItem> {
    for (const upstream of filter.upstreams) {
      for await (const row of this.problems(upstream, filter, 'newest', true)) {
        const item = failureItemOf(this.open(row, [row]), upstream, showIdentity);
        if (item && covers(item) && matches(item, filter)) yield item;
      }
    }
  }

  async problemIds(filter: ProblemFilter, covers: (p: Place) => boolean): Promise<Array<{ id: string; upstream: string }>> {
    const out: Array<{ id: string; upstream: string; at: number }> = [];
    for (const upstream of filter.upstreams) {
      // no payload: an id is all a replay needs, and the reason's code is never masked away
      for await (const row of this.problems(upstream, filter, 'oldest', false)) {
        const item = failureItemOf(this.open(row, [row]), upstream, false);
        if (!item || !covers(item) || !matches(item, filter) || (filter.state && item.state !== filter.state)) continue;
        out.push({ id: item.id, upstream, at: row.at });
      }
    }
    return out.sort((a, b) => a.at - b.at).map(({ id, upstream }) => ({ id, upstream }));
  }

  async byPosyandu(q: PosyanduQuery): Promise<{ items: SentRecord[]; more: boolean }> {
    if (q.posyandu.length === 0 || (q.state && !UPSTREAM_STATES.includes(q.state))) return { items: [], more: false };
    const limit = Math.max(0, q.limit);
    const params: unknown[] = [q.posyandu];
    const where = ['r.posyandu = ANY($1::text[])'];
    const add = (sql: (n: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (q.from !== undefined) add((n) => `r.received_at >= ${n}`, new Date(q.from));
    if (q.to !== undefined) add((n) => `r.received_at <= ${n}`, new Date(q.to));
    if (q.state) {
      add((n) => `EXISTS (SELECT 1 FROM upstream_states s WHERE s.record_id = r.id AND s.received_at = r.received_at AND s.state = ${n}::upstream_state)`, q.state);
    }
    params.push(Math.max(0, q.offset), limit + 1);
    const { rows } = await this.pool.query<RecordRow & { states: Array<{ upstream: string; status: string }> | null }>(
      `SELECT r.id, r.received_at, r.source, r.source_record_id, r.kind, r.regency, r.puskesmas, r.posyandu, r.version, p.record, p.provenance,
              (SELECT json_agg(json_build_object('upstream', s.upstream, 'status', s.status) ORDER BY s.upstream)
               FROM upstream_states s WHERE s.record_id = r.id AND s.received_at = r.received_at) AS states
       FROM records r
       LEFT JOIN record_payloads p ON p.record_id = r.id AND p.received_at = r.received_at AND p.version = r.version
       WHERE ${where.join(' AND ')}
       ORDER BY r.received_at DESC, r.id COLLATE "C" DESC
       OFFSET $${params.length - 1} LIMIT $${params.length}`,
      params,
    );
    return {
      more: rows.length > limit,
      items: rows.slice(0, limit).map((row) => sentRecordOf(this.open(row, row.states ?? []), q.showIdentity)),
    };
  }

  async counts(upstream: string, days: readonly string[]): Promise<UpstreamCounts> {
    type PlaceRow = { regency: string; puskesmas: string; posyandu: string };
    const place = (r: PlaceRow): Place => ({ regency: r.regency, puskesmas: r.puskesmas, posyandu: r.posyandu });
    const byPlace = 'ORDER BY regency, puskesmas, posyandu';
    // a day that is no date has no counts (as in Redis), rather than failing the whole answer
    const real = days.filter((d) => {
      const ms = /^\d{4}-\d{2}-\d{2}$/.test(d) ? Date.parse(`${d}T00:00:00Z`) : NaN;
      return !Number.isNaN(ms) && new Date(ms).toISOString().startsWith(d);
    });
    const [states, last, latency, daily] = await Promise.all([
      this.pool.query<PlaceRow & { state: UpstreamState; records: string }>(
        `SELECT regency, puskesmas, posyandu, state::text AS state, sum(records) AS records FROM ${withDeltas('status_counts', 'state')}
         GROUP BY regency, puskesmas, posyandu, x.state ${byPlace}, x.state`,
        [upstream],
      ),
      // the latest write: a delta not rolled up yet, else the total
      this.pool.query<PlaceRow & { at: Date }>(
        `SELECT DISTINCT ON (regency, puskesmas, posyandu) regency, puskesmas, posyandu, at FROM (
           SELECT regency, puskesmas, posyandu, at, coalesce(seq, 0) AS seq FROM last_synced WHERE upstream = $1
           UNION ALL SELECT regency, puskesmas, posyandu, at, seq FROM last_synced_deltas WHERE upstream = $1) x
         ${byPlace}, seq DESC`,
        [upstream],
      ),
      this.pool.query<PlaceRow & { bucket: number; records: string }>(
        `SELECT regency, puskesmas, posyandu, bucket, sum(records) AS records FROM ${withDeltas('latency_counts', 'bucket')}
         GROUP BY regency, puskesmas, posyandu, bucket ${byPlace}, bucket`,
        [upstream],
      ),
      real.length === 0
        ? Promise.resolve({ rows: [] })
        : this.pool.query<PlaceRow & { day: string; event: 'accepted' | 'synced' | 'failed'; records: string }>(
            `SELECT to_char(day, 'YYYY-MM-DD') AS day, regency, puskesmas, posyandu, event, sum(records) AS records
             FROM ${withDeltas('daily_counts', 'day, event', 'AND day = ANY($2::date[])')}
             GROUP BY day, regency, puskesmas, posyandu, event ${byPlace}, event`,
            [upstream, real],
          ),
    ]);
    return {
      states: states.rows.map((r) => ({ place: place(r), state: r.state, records: Number(r.records) })),
      lastSynced: last.rows.map((r) => ({ place: place(r), at: r.at.toISOString() })),
      latency: latency.rows.map((r) => ({ place: place(r), bucket: r.bucket, records: Number(r.records) })),
      days: days.map((d) => daily.rows.filter((r) => r.day === d).map((r) => ({ place: place(r), event: r.event, records: Number(r.records) }))),
    };
  }

  async oldestUnsynced(upstream: string, posyandu: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (posyandu.length === 0) return out;
    // per posyandu, its entries of upstream_states_backlog (its records not synced there)
    const { rows } = await this.pool.query<{ posyandu: string; oldest: Date | null }>(
      `SELECT p.posyandu,
              (SELECT min(${ACCEPTED}) FROM upstream_states s
               WHERE s.upstream = $1 AND s.posyandu = p.posyandu AND s.state <> 'synced') AS oldest
       FROM unnest($2::text[]) AS p(posyandu)`,
      [upstream, posyandu],
    );
    for (const r of rows) if (r.oldest) out.set(r.posyandu, r.oldest.getTime());
    return out;
  }

  async backlog(upstream: string): Promise<{ records: number; oldestAcceptedMs?: number }> {
    const [count, oldest] = await Promise.all([
      // the count from status_counts (a few rows per place), the oldest from the backlog's index
      this.pool.query<{ records: string | null }>(`SELECT sum(records) AS records FROM ${withDeltas('status_counts', 'state', "AND state <> 'synced'")}`, [upstream]),
      this.pool.query<{ oldest: Date | null }>(`SELECT min(${ACCEPTED}) AS oldest FROM upstream_states s WHERE s.upstream = $1 AND s.state <> 'synced'`, [upstream]),
    ]);
    const at = oldest.rows[0]?.oldest;
    return { records: Number(count.rows[0]?.records ?? 0), ...(at ? { oldestAcceptedMs: at.getTime() } : {}) };
  }

  /** Retention: drops the payloads of records synced at every upstream before `syncedBefore`; how many. */
  async dropSyncedPayloads(syncedBefore: number, now: number): Promise<number> {
    // records_to_purge: settled_at is when the latest version became synced everywhere; up to and
    // including the limit, as the Redis purge list is read
    return this.dropPayloads({ key: 'r.settled_at', where: `r.settled_at IS NOT NULL AND r.settled_at <= $1` }, new Date(syncedBefore), ['synced'], now);
  }

  /** Retention: drops the payloads of records received before `receivedBefore` that every upstream has settled (synced or failed); how many. */
  async dropSettledPayloads(receivedBefore: number, now: number): Promise<number> {
    // records_payload_kept: records still holding a payload, by time received; those older than
    // this are few (delivery has stopped trying by then), so each sweep reads little more than
    // what it drops
    return this.dropPayloads({ key: 'r.received_at', where: `r.received_at <= $1` }, new Date(receivedBefore), ['synced', 'failed'], now);
  }

  /**
   * Walks the records that retention may look at (payload kept, in `walk.key` order) in batches,
   * each after the last, and drops a payload only if every upstream is still in one of
   * `settledStates` at the version listed: a newer version accepted meanwhile keeps it.
   */
  private async dropPayloads(walk: { key: string; where: string }, limit: Date, settledStates: readonly UpstreamState[], now: number): Promise<number> {
    let dropped = 0;
    let after: Cursor | undefined;
    for (;;) {
      const params: unknown[] = [limit];
      let cond = `${PAYLOAD_KEPT} AND ${walk.where}`;
      if (after) {
        params.push(after.at, after.id);
        cond += ` AND (${walk.key}, r.id) > ($2::timestamptz, $3)`;
      }
      const { rows } = await this.pool.query<{ id: string; received_at: Date; version: number; cursor_at: string }>(
        `SELECT r.id, r.received_at, r.version, ${walk.key}::text AS cursor_at FROM records r
         WHERE ${cond}
         ORDER BY ${walk.key}, r.id LIMIT ${RETENTION_BATCH}`,
        params,
      );
      if (rows.length === 0) return dropped;
      dropped += await this.dropBatch(rows, settledStates, new Date(now));
      const last = rows[rows.length - 1]!;
      after = { at: last.cursor_at, id: last.id };
      if (rows.length < RETENTION_BATCH) return dropped;
    }
  }

  private async dropBatch(rows: ReadonlyArray<{ id: string; received_at: Date; version: number }>, settledStates: readonly UpstreamState[], now: Date): Promise<number> {
    // One statement: the records row is the lock (an accept of the next version changes its
    // version, which the UPDATE re-reads), the payload rows up to that version go, and the
    // upstream's words in the states with them (drop-words.lua): outcome, the error's message, and
    // the sealed words in the state's text.
    const { rows: out } = await this.pool.query<{ dropped: string }>(
      `WITH c AS (SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::integer[]) AS c(id, received_at, version)),
       d AS (
         UPDATE records r SET payload_dropped_at = $4
         FROM c
         WHERE r.id = c.id AND r.received_at = c.received_at AND r.version = c.version AND ${PAYLOAD_KEPT}
           AND NOT EXISTS (SELECT 1 FROM upstream_states s
                           WHERE s.record_id = r.id AND s.received_at = r.received_at AND s.state <> ALL($5::upstream_state[]))
         RETURNING r.id, r.received_at, r.version),
       p AS (
         DELETE FROM record_payloads x USING d
         WHERE x.record_id = d.id AND x.received_at = d.received_at AND x.version <= d.version
         RETURNING 1),
       w AS (
         UPDATE upstream_states s
         SET status = (s.status::jsonb - $6::text)::text, outcome = NULL, last_error = s.last_error - 'message'
         FROM d
         WHERE s.record_id = d.id AND s.received_at = d.received_at
           AND (s.status::jsonb ? $6::text OR s.outcome IS NOT NULL OR s.last_error ? 'message')
         RETURNING 1)
       SELECT (SELECT count(*) FROM d) AS dropped, (SELECT count(*) FROM p) AS payloads, (SELECT count(*) FROM w) AS states`,
      [rows.map((r) => r.id), rows.map((r) => r.received_at), rows.map((r) => r.version), now, settledStates, SEALED_WORDS_PROPERTY],
    );
    return Number(out[0]?.dropped ?? 0);
  }

  /**
   * Retention of whole records: drops every record accepted before the UTC month of `keepFromMonth`
   * (all its tables' partitions of those months and their idempotency keys, in one transaction;
   * the counts stay). Returns the partitions dropped.
   */
  async dropRecordMonths(keepFromMonth: Date): Promise<string[]> {
    const first = `${keepFromMonth.toISOString().slice(0, 7)}-01`;
    const { rows } = await this.pool.query<{ name: string }>('SELECT ledger_drop_record_months($1::date) AS name', [first]);
    return rows.map((r) => r.name);
  }
}

/**
 * A count table's rows at upstream $1 and the deltas not yet rolled up into it
 * (migrations/0003_count_deltas.sql), as one relation `x` to sum by key: one statement, so a
 * roll-up is wholly before or wholly after it.
 */
function withDeltas(table: 'status_counts' | 'daily_counts' | 'latency_counts', columns: string, where = ''): string {
  const deltas = table.replace('_counts', '_count_deltas');
  const cols = `regency, puskesmas, posyandu, ${columns}, records`;
  return `(SELECT ${cols} FROM ${table} WHERE upstream = $1 ${where} UNION ALL SELECT ${cols} FROM ${deltas} WHERE upstream = $1 ${where}) x`;
}
