import pg from 'pg';
import type { Place } from '../../config/scope.js';
import { reportingDay } from '../aggregates.js';
import type { AcceptResult, DeliveryStart, Ledger, NewRecord, PendingDelivery, PlaceChanged, StoredRecord } from '../ledger.js';
import { PayloadUnreadableError } from '../payload-cipher.js';
import { REPLAYABLE, type UpstreamState, type UpstreamStatus } from '../states.js';
import type { StoredPayload } from '../stored-payload.js';
import { RECORD_FIELDS as F, upstreamField } from '../store/keys.js';
import { storedRecord } from '../stored-record.js';
import type { WrittenResource } from '../../upstream/upstream.js';
import { oneStatement, renumbered, type Statement } from './one-statement.js';
import { CountMoves, ROLL_UP_MS, rollUpCounts } from './pg-counts.js';
import { PgReads } from './pg-reads.js';
import { inTransaction } from './transaction.js';
import { STATE_COLUMNS, stateValues, type StoredState } from './state-row.js';

// The ledger in PostgreSQL (the schema and what each table answers: migrations/0001_ledger.sql;
// docs/postgres-ledger.md). Each method is one transaction doing what the Redis ledger's
// script of the same name does in one step (store/scripts/*.lua), with the counts moved in it
// (pg-counts.ts: appended as deltas, rolled up every few seconds). Searches, counts and retention
// are PgReads'. Each transaction is a few round trips (its writes joined in one statement), held
// no longer than needed: the time between statements is time its row locks are held.
//
// Locks are taken in one order so that no two of these transactions wait on each other in a
// circle: the record's row, then a person's order at an upstream (an advisory lock), then the
// record's states; no count row is locked (deltas are inserted). The advisory lock keeps a person's order as
// Redis' single-threaded scripts do: a push that asks whether it is the person's next record waits
// until an accept or a replay that is putting one in the order has committed.
//
// PostgreSQL unreachable: the error is thrown as it comes (the caller answers 503); nothing here
// retries.

interface RecordKey {
  id: string;
  receivedAt: Date;
}

// advisory locks of two int4 keys: this class, and a hash of (upstream, subject)
const PERSON_ORDER_LOCK_CLASS = 15;

export class PgLedger implements Ledger {
  private readonly reads: PgReads;
  /** the outbox row behind each delivery pendingDeliveries handed out */
  private readonly seqOf = new WeakMap<PendingDelivery, string>();
  /** when this process last began rolling the count deltas up, and that roll-up while under way */
  private rolledUpAt = 0;
  private rollingUp: Promise<unknown> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly payload: StoredPayload,
  ) {
    this.reads = new PgReads(pool, payload);
  }

  async accept(r: NewRecord): Promise<AcceptResult | PlaceChanged> {
    const recordId = r.record.recordId;
    const nowIso = r.receivedAt.toISOString();
    const nowMs = r.receivedAt.getTime();
    const at = { ms: nowMs, day: reportingDay(nowMs), iso: nowIso };
    const sealed = this.payload.seal(r.source, recordId, { record: r.record, bundle: r.bundle, ...(r.provenance ? { provenance: r.provenance } : {}) });
    const place: Place = { regency: r.regency, puskesmas: r.puskesmas, posyandu: r.posyandu };
    const latest = [r.record.kind, r.regency, r.puskesmas, r.posyandu, r.subject, r.contentHash, nowIso, r.upstreams.length, json(r.warnings), json(r.indicators), json(r.historyFrom ?? [])];
    // A record not seen before, the common case: one statement, its own transaction. A key already
    // there: that statement wrote nothing, and the transaction below answers.
    if (await this.acceptNew(r, sealed, latest, at, place)) {
      this.rollUpNowAndThen();
      return { id: r.id, outcome: 'created', version: 1 };
    }
    // the 202 stands on this commit: it waits for the WAL to be on disk whatever the server's default
    return this.tx('BEGIN; SET LOCAL synchronous_commit = on', undefined, async (c) => {
      // A record not seen before (the common case): its key, record, version, payload and delivery
      // due (the outbox) in one statement, each written only when the key was. Two copies posted at
      // once: the second waits on the key for the first to commit, writes nothing, and finds the key.
      const made = await c.query<{ n: number }>(
        `WITH k AS (
           INSERT INTO record_keys (id, source, source_record_id, posyandu, received_at) VALUES ($1, $3, $4, $8, $2)
           ON CONFLICT (source, source_record_id) DO NOTHING RETURNING id
         ), r AS (
           INSERT INTO records (id, received_at, source, source_record_id, kind, regency, puskesmas, posyandu, subject, content_hash, updated_at, unsettled, warnings, indicators, history_from, version)
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1 FROM k
         ), v AS (
           INSERT INTO record_versions (record_id, received_at, version, accepted_at, content_hash, warnings, indicators) SELECT $1, $2, 1, $2, $10, $13, $14 FROM k
         ), o AS (
           INSERT INTO outbox (record_id, version) SELECT $1, 1 FROM k
         ), p AS (
           INSERT INTO record_payloads (record_id, received_at, version, record, bundle, provenance) SELECT $1, $2, 1, $16, $17, $18 FROM k
         )
         SELECT count(*)::int AS n FROM k`,
        [r.id, r.receivedAt, r.source, recordId, ...latest, sealed.record, sealed.bundle, sealed.provenance ?? null],
      );
      let key: RecordKey;
      let version: number;
      let outcome: AcceptResult['outcome'];
      if (made.rows[0]?.n === 1) {
        key = { id: r.id, receivedAt: r.receivedAt };
        version = 1;
        outcome = 'created';
      } else {
        const found = await c.query<{ id: string; received_at: Date }>('SELECT id, received_at FROM record_keys WHERE source = $1 AND source_record_id = $2', [r.source, recordId]);
        const row = found.rows[0];
        if (!row) throw new Error('the record key vanished during its accept (retention dropped its month)');
        key = { id: row.id, receivedAt: row.received_at };
        const stored = await c.query<{ posyandu: string; content_hash: string; version: number }>(
          'SELECT posyandu, content_hash, version FROM records WHERE id = $1 AND received_at = $2 FOR UPDATE',
          [key.id, key.receivedAt],
        );
        const rec = stored.rows[0];
        if (!rec) throw new Error('a record key without its record');
        // a record belongs to its place: another posyandu's copy is refused, and nothing changes
        if (rec.posyandu !== r.posyandu) return { id: key.id, outcome: 'place-changed', version: rec.version, storedPosyandu: rec.posyandu };
        if (rec.content_hash === r.contentHash) return { id: key.id, outcome: 'duplicate', version: rec.version };
        version = rec.version + 1;
        outcome = 'new-version';
        // received_at stays the record's first (its partition), as receivedAt in Redis; settled_at
        // goes with the purge entry, and payload_dropped_at stays, as in accept.lua. With it the
        // version, its payload, and its delivery due.
        const write = oneStatement([
          {
            sql: `UPDATE records SET kind = $3, regency = $4, puskesmas = $5, posyandu = $6, subject = $7, content_hash = $8, updated_at = $9,
                    unsettled = $10, warnings = $11, indicators = $12, history_from = $13, version = $14, settled_at = NULL
                  WHERE id = $1 AND received_at = $2`,
            params: [key.id, key.receivedAt, ...latest, version],
          },
          {
            sql: 'INSERT INTO record_versions (record_id, received_at, version, accepted_at, content_hash, warnings, indicators) VALUES ($1, $2, $3, $4, $5, $6, $7)',
            params: [key.id, key.receivedAt, version, r.receivedAt, r.contentHash, json(r.warnings), json(r.indicators)],
          },
          { sql: 'INSERT INTO outbox (record_id, version) VALUES ($1, $2)', params: [key.id, version] },
          {
            sql: 'INSERT INTO record_payloads (record_id, received_at, version, record, bundle, provenance) VALUES ($1, $2, $3, $4, $5, $6)',
            params: [key.id, key.receivedAt, version, sealed.record, sealed.bundle, sealed.provenance ?? null],
          },
        ]);
        if (write) await c.query(write.sql, write.params);
      }
      const { id, receivedAt } = key;
      if (r.subject) await lockPersonOrders(c, [...r.upstreams].sort(), r.subject);
      const previous = new Map<string, { status: string; subject: string; person_order: string | null }>();
      if (outcome !== 'created') {
        const res = await c.query<{ upstream: string; status: string; subject: string; person_order: string | null }>(
          'SELECT upstream, status, subject, person_order FROM upstream_states WHERE record_id = $1 AND received_at = $2 AND upstream = ANY($3) FOR UPDATE',
          [id, receivedAt, r.upstreams],
        );
        for (const row of res.rows) previous.set(row.upstream, row);
      }
      const moves = new CountMoves();
      const writes: Statement[] = [];
      for (const u of r.upstreams) {
        const prev = previous.get(u);
        const st: StoredState = { state: 'queued', version, attempts: 0, updatedAt: nowIso };
        let from: UpstreamState | undefined;
        if (prev) {
          const p = JSON.parse(prev.status) as StoredState;
          from = p.state;
          carryOver(p, st);
        }
        // in the person's order already (not settled since): it keeps its place, as RPUSH only if absent
        const keepOrder = r.subject !== '' && prev?.person_order != null && prev.subject === r.subject;
        writes.push({
          sql: `INSERT INTO upstream_states (record_id, received_at, upstream, kind, regency, puskesmas, posyandu, subject, accepted_at, person_order, ${STATE_COLUMNS.join(', ')})
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $10::boolean THEN $11::bigint WHEN $8 <> '' THEN nextval('person_order_seq') END,
                   ${STATE_COLUMNS.map((_, i) => `$${i + 12}`).join(', ')})
           ON CONFLICT (record_id, received_at, upstream) DO UPDATE SET kind = excluded.kind, regency = excluded.regency, puskesmas = excluded.puskesmas,
             posyandu = excluded.posyandu, subject = excluded.subject, person_order = excluded.person_order,
             accepted_at = CASE WHEN upstream_states.state = 'queued' THEN upstream_states.accepted_at ELSE excluded.accepted_at END,
             outcome = NULL, ${STATE_COLUMNS.map((col) => `${col} = excluded.${col}`).join(', ')}`,
          params: [id, receivedAt, u, r.record.kind, r.regency, r.puskesmas, r.posyandu, r.subject, r.receivedAt, keepOrder, keepOrder ? prev.person_order : null, ...stateValues(this.payload.sealStatus(id, u, st), st)],
        });
        moves.transition(u, place, from, 'queued', at, nowMs);
        moves.day(u, at.day, place, 'accepted');
      }
      // the states and their counts: one statement
      await send(c, [...writes, ...moves.statements()]);
      return { id, outcome, version };
    });
  }

  /**
   * A new record in one statement (one round trip, instead of one per write and the BEGIN and
   * COMMIT): everything written only when its key was, and committed waiting for the WAL on disk
   * (synchronous_commit on for this transaction, whatever the server's default). The person's
   * order locks are taken after the key is had (a copy waiting on the key holds none) and before
   * the order numbers are drawn (the states take them from a row that exists only once the locks
   * are held); nothing after them waits on another transaction. Whether it created the record.
   */
  private async acceptNew(r: NewRecord, sealed: ReturnType<StoredPayload['seal']>, latest: unknown[], at: { ms: number; day: string; iso: string }, place: Place): Promise<boolean> {
    const params: unknown[] = [r.id, r.receivedAt, r.source, r.record.recordId, ...latest, sealed.record, sealed.bundle, sealed.provenance ?? null];
    const $ = (value: unknown) => `$${params.push(value)}`;
    const ctes = [
      `sc AS (SELECT set_config('synchronous_commit', 'on', true))`,
      `k AS (INSERT INTO record_keys (id, source, source_record_id, posyandu, received_at) SELECT $1, $3, $4, $8, $2 FROM sc
             ON CONFLICT (source, source_record_id) DO NOTHING RETURNING id)`,
      `r AS (INSERT INTO records (id, received_at, source, source_record_id, kind, regency, puskesmas, posyandu, subject, content_hash, updated_at, unsettled, warnings, indicators, history_from, version)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1 FROM k)`,
      `v AS (INSERT INTO record_versions (record_id, received_at, version, accepted_at, content_hash, warnings, indicators) SELECT $1, $2, 1, $2, $10, $13, $14 FROM k)`,
      `o AS (INSERT INTO outbox (record_id, version) SELECT $1, 1 FROM k)`,
      `p AS (INSERT INTO record_payloads (record_id, received_at, version, record, bundle, provenance) SELECT $1, $2, 1, $16, $17, $18 FROM k)`,
      `l AS (SELECT pg_advisory_xact_lock(${PERSON_ORDER_LOCK_CLASS}, hashtext(x)) IS NULL AS held FROM k, unnest(${$(r.subject ? [...r.upstreams].sort().map((u) => `${u}\n${r.subject}`) : [])}::text[]) AS x)`,
      `locked AS (SELECT count(*) AS n FROM l)`,
    ];
    const moves = new CountMoves();
    r.upstreams.forEach((u, i) => {
      const st: StoredState = { state: 'queued', version: 1, attempts: 0, updatedAt: at.iso };
      const values = stateValues(this.payload.sealStatus(r.id, u, st), st).map($);
      ctes.push(`s${i} AS (INSERT INTO upstream_states (record_id, received_at, upstream, kind, regency, puskesmas, posyandu, subject, accepted_at, person_order, ${STATE_COLUMNS.join(', ')})
        SELECT $1, $2, ${$(u)}, $5, $6, $7, $8, $9, $2, CASE WHEN $9::text <> '' THEN nextval('person_order_seq') END, ${values.join(', ')} FROM k, locked)`);
      moves.transition(u, place, undefined, 'queued', at, at.ms);
      moves.day(u, at.day, place, 'accepted');
    });
    moves.statements('EXISTS (SELECT 1 FROM k)').forEach((m, i) => {
      ctes.push(`c${i} AS (${renumbered(m.sql, params.length)})`);
      params.push(...m.params);
    });
    const res = await this.pool.query<{ n: number }>(`WITH ${ctes.join(',\n')} SELECT count(*)::int AS n FROM k`, params);
    return res.rows[0]?.n === 1;
  }

  async get(id: string): Promise<StoredRecord | undefined> {
    const res = await this.pool.query<RecordRow>(
      `SELECT r.*, p.record AS sealed_record, p.provenance AS sealed_provenance
       FROM records r LEFT JOIN record_payloads p ON p.record_id = r.id AND p.received_at = r.received_at AND p.version = r.version
       WHERE r.id = $1 AND r.received_at = (SELECT received_at FROM record_keys WHERE id = $1)`,
      [id],
    );
    const row = res.rows[0];
    if (!row) return undefined;
    const states = await this.pool.query<{ upstream: string; status: string }>('SELECT upstream, status FROM upstream_states WHERE record_id = $1 AND received_at = $2 ORDER BY upstream', [
      id,
      row.received_at,
    ]);
    // the record as a Redis record hash holds it, so that it is opened and shown by the same code
    const hash: Record<string, Buffer> = {};
    const text = (field: string, value: string) => (hash[field] = Buffer.from(value, 'utf8'));
    text(F.id, row.id);
    text(F.version, String(row.version));
    text(F.source, row.source);
    text(F.recordId, row.source_record_id);
    text(F.kind, row.kind);
    text(F.posyandu, row.posyandu);
    text(F.puskesmas, row.puskesmas);
    text(F.regency, row.regency);
    text(F.subject, row.subject);
    text(F.receivedAt, row.received_at.toISOString());
    text(F.updatedAt, row.updated_at.toISOString());
    text(F.warnings, JSON.stringify(row.warnings));
    text(F.indicators, JSON.stringify(row.indicators));
    if (Array.isArray(row.history_from) && row.history_from.length > 0) text(F.historyFrom, JSON.stringify(row.history_from));
    if (row.payload_dropped_at) text(F.payloadDroppedAt, row.payload_dropped_at.toISOString());
    if (row.sealed_record) hash[F.record] = row.sealed_record;
    if (row.sealed_provenance) hash[F.provenance] = row.sealed_provenance;
    for (const s of states.rows) text(upstreamField(s.upstream), s.status);
    return storedRecord(this.payload.openRecord(hash));
  }

  async stateAt(id: string, upstream: string): Promise<{ status: UpstreamStatus; subject: string } | undefined> {
    const res = await this.pool.query<{ status: string; subject: string }>(
      `SELECT status, subject FROM upstream_states WHERE record_id = $1 AND upstream = $2 AND received_at = (SELECT received_at FROM record_keys WHERE id = $1)`,
      [id, upstream],
    );
    const row = res.rows[0];
    if (!row) return undefined;
    return { status: this.payload.openStatus(id, upstream, row.status).status, subject: row.subject };
  }

  async latestVersion(id: string): Promise<number | undefined> {
    const res = await this.pool.query<{ version: number }>('SELECT version FROM records WHERE id = $1 AND received_at = (SELECT received_at FROM record_keys WHERE id = $1)', [id]);
    return res.rows[0]?.version;
  }

  async beginDelivery(id: string, upstream: string, version: number, now = Date.now()): Promise<DeliveryStart> {
    return this.tx('BEGIN', keyAndOrderLock(id, upstream), async (c, first): Promise<DeliveryStart> => {
      const key = keyOf(id, first);
      if (!key) return { kind: 'missing' };
      // the person's next record at the upstream read in the same statement: its snapshot is taken
      // after the lock, so every record put in the order before is seen (one waiting for this
      // state row's lock may see the order as it was: at worst a wait, never a push out of turn)
      const res = await c.query<{ version: number; source: string; source_record_id: string; subject: string; status: string; bundle: Buffer | null; head: string | null }>(
        `SELECT r.version, r.source, r.source_record_id, r.subject, s.status, p.bundle,
                CASE WHEN r.subject <> '' THEN (
                  SELECT h.record_id FROM upstream_states h
                  WHERE h.upstream = $3 AND h.subject = r.subject AND h.person_order IS NOT NULL ORDER BY h.person_order LIMIT 1) END AS head
         FROM upstream_states s
         JOIN records r ON r.id = s.record_id AND r.received_at = s.received_at
         LEFT JOIN record_payloads p ON p.record_id = r.id AND p.received_at = r.received_at AND p.version = r.version
         WHERE s.record_id = $1 AND s.received_at = $2 AND s.upstream = $3
         FOR UPDATE OF s`,
        [key.id, key.receivedAt, upstream],
      );
      const row = res.rows[0];
      if (!row?.bundle) return { kind: 'missing' };
      const st = JSON.parse(row.status) as StoredState;
      if (row.version > version || st.version > version) return { kind: 'superseded' };
      if (st.state === 'synced' || st.state === 'failed') {
        if (row.subject !== '') await leavePersonOrder(c, key, upstream);
        return { kind: 'settled', state: st.state };
      }
      if (row.head !== null && row.head !== id) return { kind: 'wait' };
      if (st.earlierSending && Number(st.earlierSending.untilMs ?? 0) > now) return { kind: 'wait' };
      const common = { status: this.payload.openStatus(id, upstream, row.status).status, receivedAt: key.receivedAt.toISOString(), subject: row.subject };
      try {
        return { kind: 'go', bundle: this.payload.openBundle(row.source, row.source_record_id, row.bundle), ...common };
      } catch (error) {
        if (!(error instanceof PayloadUnreadableError)) throw error;
        return { kind: 'unreadable', error, ...common };
      }
    });
  }

  async setState(id: string, upstream: string, status: UpstreamStatus, now = Date.parse(status.updatedAt), settleSubject?: string): Promise<boolean> {
    const atMs = Number.isNaN(now) ? Date.now() : now;
    const at = { ms: atMs, day: reportingDay(atMs), iso: new Date(atMs).toISOString() };
    const sealedText = this.payload.sealStatus(id, upstream, status);
    // the record's row, then its state's, locked in one statement (in that order: FROM's)
    const lock = `SELECT r.received_at, r.updated_at AS accepted_at, s.status, s.regency, s.puskesmas, s.posyandu, s.updated_at
       FROM records r JOIN upstream_states s ON s.record_id = r.id AND s.received_at = r.received_at AND s.upstream = ${literal(upstream)}
       WHERE r.id = ${literal(id)} AND r.received_at = (SELECT received_at FROM record_keys WHERE id = ${literal(id)})
       FOR UPDATE OF r, s`;
    return this.tx('BEGIN', lock, async (c, first) => {
      const row = first?.rows[0] as (StateRow & { received_at: Date; accepted_at: Date }) | undefined;
      if (!row) return false;
      const key: RecordKey = { id, receivedAt: row.received_at };
      // when the latest version was accepted (acceptedMs in Redis)
      const acceptedAt = row.accepted_at;
      const old = JSON.parse(row.status) as StoredState;
      if (old.version > status.version) {
        // A slow push of an older version: its state is not written, but what it wrote is what the
        // newer version is to update, and its end lets the newer version's push go.
        const writes: Statement[] = [];
        let changed = false;
        if (old.state !== 'synced' && status.state === 'synced' && nonEmpty(status.resources) && (old.heldVersion ?? 0) < status.version) {
          old.held = status.resources;
          old.heldVersion = status.version;
          changed = true;
          writes.push(resourcesWrite(key, upstream, status.version, status.resources));
        }
        if (old.earlierSending && old.earlierSending.version === status.version && status.state !== 'sending') {
          delete old.earlierSending;
          changed = true;
        }
        if (changed) writes.push(stateWrite(key, upstream, JSON.stringify(old), old));
        await send(c, writes);
        return false;
      }
      const writes: Statement[] = [stateWrite(key, upstream, sealedText, status, settleSubject ? false : undefined, old.state !== status.state ? acceptedAt : undefined)];
      // a push ended: from its start (the sending state's time) to now; a synced one's lastError is an earlier push's
      if (old.state === 'sending' && status.state !== 'sending' && status.state !== 'queued') {
        writes.push({
          sql: `INSERT INTO delivery_attempts (record_id, received_at, upstream, version, attempt, started_at, ended_at, result, error_code, http_status)
           SELECT $1, $2, $3, $4, coalesce(max(attempt), 0) + 1, $5, $6, $7, $8, $9
           FROM delivery_attempts WHERE record_id = $1 AND received_at = $2 AND upstream = $3 AND version = $4`,
          params: [key.id, key.receivedAt, upstream, status.version, row.updated_at, new Date(atMs), status.state, ...(status.state === 'synced' ? [null, null] : [status.lastError?.code ?? null, status.lastError?.httpStatus ?? null])],
        });
      }
      if (status.state === 'synced' && nonEmpty(status.resources)) writes.push(resourcesWrite(key, upstream, status.version, status.resources));
      const moves = new CountMoves();
      const place: Place = { regency: row.regency, puskesmas: row.puskesmas, posyandu: row.posyandu };
      if (moves.transition(upstream, place, old.state, status.state, at, acceptedAt.getTime())) {
        // synced everywhere: when retention's clock for the payload starts (purge in Redis)
        writes.push({
          sql: `UPDATE records SET unsettled = unsettled - 1, settled_at = CASE WHEN unsettled - 1 <= 0 THEN $3::timestamptz ELSE settled_at END
           WHERE id = $1 AND received_at = $2`,
          params: [key.id, key.receivedAt, new Date(atMs)],
        });
      }
      // every write of the change, with its counts: one statement
      await send(c, [...writes, ...moves.statements()]);
      return true;
    });
  }

  async renewSending(id: string, upstream: string, version: number, untilMs: number): Promise<void> {
    // the state row locked in the statement sent with BEGIN: no person's order is touched
    const lockState = `SELECT s.received_at, s.status FROM upstream_states s
       WHERE s.record_id = ${literal(id)} AND s.upstream = ${literal(upstream)} AND s.received_at = (SELECT received_at FROM record_keys WHERE id = ${literal(id)}) FOR UPDATE`;
    await this.tx('BEGIN', lockState, async (c, first) => {
      const row = first?.rows[0] as { received_at: Date; status: string } | undefined;
      if (!row) return;
      // as renew-sending.lua: a lease only grows, a settled state stays
      const st = JSON.parse(row.status) as StoredState;
      if (st.version === version && st.state === 'sending') {
        if (Number(st.sendingUntil ?? 0) >= untilMs) return;
        st.sendingUntil = untilMs;
      } else if (st.version > version && st.earlierSending?.version === version) {
        if (Number(st.earlierSending.untilMs ?? 0) >= untilMs) return;
        st.earlierSending = { ...st.earlierSending, untilMs };
      } else return;
      await send(c, [stateWrite({ id, receivedAt: row.received_at }, upstream, JSON.stringify(st), st)]);
    });
  }

  async requeue(id: string, upstream: string, now = Date.now()): Promise<boolean> {
    const at = { ms: now, day: reportingDay(now), iso: new Date(now).toISOString() };
    return this.tx('BEGIN', keyAndOrderLock(id, upstream), async (c, first) => {
      const key = keyOf(id, first);
      if (!key) return false;
      const res = await c.query<StateRow & { subject: string; accepted_at: Date; person_order: string | null; has_payload: boolean }>(
        `SELECT s.status, s.regency, s.puskesmas, s.posyandu, s.updated_at, r.subject, r.updated_at AS accepted_at, s.person_order,
                EXISTS (SELECT 1 FROM record_payloads p WHERE p.record_id = r.id AND p.received_at = r.received_at AND p.version = r.version) AS has_payload
         FROM upstream_states s JOIN records r ON r.id = s.record_id AND r.received_at = s.received_at
         WHERE s.record_id = $1 AND s.received_at = $2 AND s.upstream = $3
         FOR UPDATE OF s`,
        [key.id, key.receivedAt, upstream],
      );
      const row = res.rows[0];
      // nothing to send again once retention dropped the payload
      if (!row?.has_payload) return false;
      const st = JSON.parse(row.status) as StoredState;
      if (!REPLAYABLE.includes(st.state)) return false;
      const from = st.state;
      st.state = 'queued';
      st.attempts = 0;
      delete st.identityWaits;
      st.replays = (st.replays ?? 0) + 1;
      st.updatedAt = at.iso;
      delete st.nextAttemptAt;
      const moves = new CountMoves();
      moves.transition(upstream, { regency: row.regency, puskesmas: row.puskesmas, posyandu: row.posyandu }, from, 'queued', at, row.accepted_at.getTime());
      await send(c, [
        stateWrite(key, upstream, JSON.stringify(st), st, row.subject !== '' && row.person_order === null ? true : undefined, row.accepted_at),
        { sql: 'INSERT INTO outbox (record_id, version, upstream, replay) VALUES ($1, $2, $3, $4)', params: [key.id, st.version, upstream, st.replays] },
        ...moves.statements(),
      ]);
      return true;
    });
  }

  async pendingDeliveries(max: number): Promise<PendingDelivery[]> {
    const res = await this.pool.query<{ seq: string; record_id: string; version: number; upstream: string | null; replay: number }>(
      'SELECT seq, record_id, version, upstream, replay FROM outbox ORDER BY seq LIMIT $1',
      [Math.max(0, max)],
    );
    return res.rows.map((row) => {
      const d: PendingDelivery = { recordId: row.record_id, version: row.version, ...(row.upstream !== null ? { replay: { upstream: row.upstream, count: row.replay } } : {}) };
      this.seqOf.set(d, row.seq);
      return d;
    });
  }

  async deliveriesQueued(done: readonly PendingDelivery[]): Promise<void> {
    if (done.length === 0) return;
    const seqs = done.map((d) => this.seqOf.get(d));
    if (seqs.every((s) => s !== undefined)) {
      await this.pool.query('DELETE FROM outbox WHERE seq = ANY($1::bigint[])', [seqs]);
      return;
    }
    // deliveries not handed out by this ledger object: the first ones, as the Redis inbox trims
    await this.pool.query('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT $1)', [done.length]);
  }

  async dueAgain(quietMs: number, now = Date.now()): Promise<number> {
    // one row per upstream, with the replay count that names the job (0: the version's own job)
    const res = await this.pool.query(
      `INSERT INTO outbox (record_id, version, upstream, replay)
       SELECT record_id, version, upstream, replays FROM upstream_states
       WHERE state IN ('queued', 'sending', 'retrying', 'waiting-identity') AND updated_at <= $1`,
      [new Date(now - quietMs)],
    );
    return res.rowCount ?? 0;
  }

  async queueRanks(upstream: string, ids: readonly string[]): Promise<number[]> {
    if (ids.length === 0) return [];
    // a record's place in its puskesmas' queue, by acceptance time and then id (as ZRANK orders
    // equal scores); a record in no queue ranks 1
    const res = await this.pool.query<{ i: string; rank: string }>(
      `SELECT x.i, CASE WHEN s.state IN ('queued', 'sending', 'retrying') THEN 1 + (
                SELECT count(*) FROM upstream_states o
                WHERE o.upstream = $1 AND o.puskesmas = s.puskesmas AND o.state IN ('queued', 'sending', 'retrying')
                  AND (coalesce(o.accepted_at, o.received_at), o.record_id COLLATE "C") < (coalesce(s.accepted_at, s.received_at), s.record_id COLLATE "C"))
              ELSE 1 END AS rank
       FROM unnest($2::text[]) WITH ORDINALITY AS x(id, i)
       LEFT JOIN record_keys k ON k.id = x.id
       LEFT JOIN upstream_states s ON s.record_id = k.id AND s.received_at = k.received_at AND s.upstream = $1
       ORDER BY x.i`,
      [upstream, ids],
    );
    return res.rows.map((row) => Number(row.rank));
  }

  failures(...args: Parameters<PgReads['failures']>) {
    return this.reads.failures(...args);
  }

  problemIds(...args: Parameters<PgReads['problemIds']>) {
    return this.reads.problemIds(...args);
  }

  byPosyandu(...args: Parameters<PgReads['byPosyandu']>) {
    return this.reads.byPosyandu(...args);
  }

  counts(...args: Parameters<PgReads['counts']>) {
    return this.reads.counts(...args);
  }

  oldestUnsynced(...args: Parameters<PgReads['oldestUnsynced']>) {
    return this.reads.oldestUnsynced(...args);
  }

  backlog(...args: Parameters<PgReads['backlog']>) {
    return this.reads.backlog(...args);
  }

  dropSyncedPayloads(...args: Parameters<PgReads['dropSyncedPayloads']>) {
    return this.reads.dropSyncedPayloads(...args);
  }

  dropSettledPayloads(...args: Parameters<PgReads['dropSettledPayloads']>) {
    return this.reads.dropSettledPayloads(...args);
  }

  /** Retention of whole records (retention.recordMonths): the months before `keepFromMonth`, dropped. */
  dropRecordMonths(keepFromMonth: Date): Promise<string[]> {
    return this.reads.dropRecordMonths(keepFromMonth);
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  /**
   * The count deltas rolled up into the totals (pg-counts.ts) every ROLL_UP_MS by whichever process
   * is writing: no timer to stop, and none runs where nothing is written (nothing to roll up).
   * Not awaited, and a failure is left for the next one: readers add the deltas meanwhile, so a
   * late roll-up changes no answer, only how many rows they add.
   */
  private rollUpNowAndThen(): void {
    const now = Date.now();
    if (this.rollingUp || now - this.rolledUpAt < ROLL_UP_MS) return;
    this.rolledUpAt = now;
    this.rollingUp = rollUpCounts(this.pool)
      .catch(() => undefined)
      .finally(() => (this.rollingUp = undefined));
  }

  /**
   * One transaction on one connection; a connection that failed mid-way is not handed out again.
   * `first`: its first statement (values written in as literals), sent with the BEGIN in one
   * round trip, its result handed to `work`.
   */
  private async tx<T>(begin: string, first: string | undefined, work: (c: pg.PoolClient, first?: pg.QueryResult) => Promise<T>): Promise<T> {
    const out = await inTransaction(this.pool, first ? `${begin}; ${first}` : begin, (c, began) => work(c, first ? began : undefined));
    this.rollUpNowAndThen();
    return out;
  }
}

interface RecordRow {
  id: string;
  received_at: Date;
  source: string;
  source_record_id: string;
  kind: string;
  regency: string;
  puskesmas: string;
  posyandu: string;
  subject: string;
  version: number;
  updated_at: Date;
  payload_dropped_at: Date | null;
  warnings: unknown;
  indicators: unknown;
  history_from: unknown;
  sealed_record: Buffer | null;
  sealed_provenance: Buffer | null;
}

interface StateRow {
  status: string;
  regency: string;
  puskesmas: string;
  posyandu: string;
  updated_at: Date;
}

/**
 * Writes a state; `inOrder` true puts the record at the end of its person's order, false takes it
 * out. `acceptedAt` (given on a change of state) is the latest version's acceptance: what Redis
 * scores its pending, backlog, problems and in-queue indexes with when the state changes.
 */
function stateWrite(key: RecordKey, upstream: string, sealedText: string, s: StoredState, inOrder?: boolean, acceptedAt?: Date): Statement {
  const order = inOrder === undefined ? '' : inOrder ? `, person_order = nextval('person_order_seq')` : ', person_order = NULL';
  const params = [key.id, key.receivedAt, upstream, ...stateValues(sealedText, s)];
  const accepted = acceptedAt ? `, accepted_at = $${params.push(acceptedAt)}` : '';
  return {
    sql: `UPDATE upstream_states SET ${STATE_COLUMNS.map((col, i) => `${col} = $${i + 4}`).join(', ')}${order}${accepted}
     WHERE record_id = $1 AND received_at = $2 AND upstream = $3`,
    params,
  };
}

/** Sends the writes as one statement (one-statement.ts). */
async function send(c: pg.ClientBase, writes: readonly Statement[]): Promise<void> {
  const one = oneStatement(writes);
  if (one) await c.query(one.sql, one.params);
}

async function leavePersonOrder(c: pg.ClientBase, key: RecordKey, upstream: string): Promise<void> {
  await c.query('UPDATE upstream_states SET person_order = NULL WHERE record_id = $1 AND received_at = $2 AND upstream = $3', [key.id, key.receivedAt, upstream]);
}

/**
 * The statement taking the record's key, and the lock of its person's order at the upstream
 * (before its state row's); the statements after it see what was committed before the lock was had.
 */
function keyAndOrderLock(id: string, upstream: string): string {
  return `SELECT r.received_at, CASE WHEN r.subject <> '' THEN pg_advisory_xact_lock(${PERSON_ORDER_LOCK_CLASS}, hashtext(${literal(upstream)} || chr(10) || r.subject)) IS NULL END AS locked
     FROM records r WHERE r.id = ${literal(id)} AND r.received_at = (SELECT received_at FROM record_keys WHERE id = ${literal(id)})`;
}

function keyOf(id: string, found: pg.QueryResult | undefined): RecordKey | undefined {
  const row = found?.rows[0] as { received_at: Date } | undefined;
  return row ? { id, receivedAt: row.received_at } : undefined;
}

/** A text value as an SQL literal (a statement sent with its BEGIN has no parameters). */
function literal(value: string): string {
  return pg.escapeLiteral(value);
}

/** Takes the locks of a person's order at these upstreams, in their order. */
async function lockPersonOrders(c: pg.ClientBase, upstreams: readonly string[], subject: string): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock($1, hashtext(k)) FROM unnest($2::text[]) AS k', [PERSON_ORDER_LOCK_CLASS, upstreams.map((u) => `${u}\n${subject}`)]);
}

function resourcesWrite(key: RecordKey, upstream: string, version: number, resources: WrittenResource[]): Statement {
  return {
    sql: `INSERT INTO upstream_resources (record_id, received_at, upstream, version, full_url, resource_type, resource_id, status, retracted)
     SELECT $1, $2, $3, $4, x.full_url, x.resource_type, x.resource_id, x.status, x.retracted
     FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::boolean[]) AS x(full_url, resource_type, resource_id, status, retracted)
     ON CONFLICT DO NOTHING`,
    params: [
      key.id,
      key.receivedAt,
      upstream,
      version,
      resources.map((w) => w.fullUrl),
      resources.map((w) => w.resourceType),
      resources.map((w) => w.id),
      resources.map((w) => w.status),
      resources.map((w) => w.retracted === true),
    ],
  };
}

/** What a new version inherits from the state it replaces at an upstream (carry-over.lua). */
function carryOver(p: StoredState, st: StoredState): void {
  if (p.state === 'synced' && nonEmpty(p.resources)) {
    st.held = p.resources;
    st.heldVersion = p.version;
  } else if (nonEmpty(p.held)) {
    st.held = p.held;
    if (p.heldVersion !== undefined) st.heldVersion = p.heldVersion;
  }
  if (p.state === 'sending' && p.sendingUntil) st.earlierSending = { version: p.version, untilMs: p.sendingUntil };
  else if (p.earlierSending) st.earlierSending = p.earlierSending;
}

function nonEmpty<T>(list: T[] | undefined): list is T[] {
  return Array.isArray(list) && list.length > 0;
}

function json(value: unknown): string {
  return JSON.stringify(value);
}
