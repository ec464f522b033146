import type { Redis } from 'ioredis';
import type pg from 'pg';
import { PayloadUnreadableError } from '../payload-cipher.js';
import { SEALED_FIELDS, type SealedField, type StoredPayload } from '../stored-payload.js';
import type { UpstreamStatus } from '../states.js';
import { packJson, unpackJson } from '../stored-bundle.js';
import { placeOf, RECORD_FIELDS as F, scanPattern, upstreamOfField, type StoreKeys } from '../store/keys.js';
import { STATE_COLUMNS, stateValues } from './state-row.js';
import { inTransaction } from './transaction.js';

// `gerbang ledger import`: a Redis ledger (0.3.x to 0.5.x) into the PostgreSQL ledger, without
// losing a record or sending one twice.
// - Each record is one transaction, skipped when its id or its (source, recordId) is already
//   there: the import can be stopped and run again, and records the PostgreSQL gateway accepted
//   meanwhile are never overwritten.
// - States come over as they are (a synced record stays synced with the upstream ids it wrote), so
//   nothing synced is sent again. Every state not settled gets an outbox row whose job id is the
//   one the Redis gateway gave it (queues.ts jobId), so a job still waiting in the same Redis is
//   not doubled, and with a new Redis it is made again.
// - Payloads are opened and sealed again with the current key, so values written in clear by 0.4
//   and earlier are sealed in PostgreSQL. A value this process cannot open (its key is not
//   configured) is copied as it is, still sealed, and counted.
// - The counts that are not per record (per day, last sync, latencies) come over once per key
//   prefix (ledger_imports); the counts of records per state are made again from the states.
// - Redis keeps only the latest version of a record, so only that version is imported, and the
//   person histories come over with their remaining lifetime.

export interface ImportReport {
  records: number;
  imported: number;
  /** already in PostgreSQL (an earlier run of the import, or the same record accepted there since) */
  skipped: number;
  /** states not settled: an outbox row each, so they go on */
  pending: number;
  /** values that could not be opened with the configured keys, copied still sealed */
  keptSealed: number;
  histories: number;
  /** whether the day counts, last syncs and latencies came over in this run (once per prefix) */
  countsImported: boolean;
}

export class GatewayRunningError extends Error {
  constructor() {
    super('a gateway is running on this Redis ledger (its dispatcher lock is held): stop every gerbang process that uses it, then run the import again');
    this.name = 'GatewayRunningError';
  }
}

const PAGE = 500;

export async function importRedisLedger(
  deps: { redis: Redis; keys: StoreKeys; payload: StoredPayload; pool: pg.Pool },
  opts: { force?: boolean; onProgress?: (r: ImportReport) => void } = {},
): Promise<ImportReport> {
  const { redis, keys, pool } = deps;
  // A gateway still accepting into the Redis ledger would add records behind the import's back.
  if (!opts.force && (await redis.exists(keys.dispatcherLock))) throw new GatewayRunningError();
  const report: ImportReport = { records: 0, imported: 0, skipped: 0, pending: 0, keptSealed: 0, histories: 0, countsImported: false };
  const oldest = await redis.zrange(keys.received, 0, 0, 'WITHSCORES');
  if (oldest[1]) await ensureMonthsFrom(pool, Number(oldest[1]));
  for (let offset = 0; ; offset += PAGE) {
    const ids = await redis.zrange(keys.received, offset, offset + PAGE - 1);
    if (ids.length === 0) break;
    for (const id of ids) {
      const h = await redis.hgetallBuffer(keys.record(id));
      if (!h[F.id]) continue;
      report.records += 1;
      const purgeScore = await redis.zscore(keys.purge, id);
      const done = await importRecord(pool, deps.payload, h, purgeScore === null ? undefined : Number(purgeScore), report);
      if (done) report.imported += 1;
      else report.skipped += 1;
    }
    opts.onProgress?.(report);
  }
  await personOrders(deps);
  report.histories = await importHistories(deps);
  report.countsImported = await importCounts(deps);
  await rebuildStateCounts(pool);
  return report;
}

/** The partitions of every month from the oldest record's through three months ahead. */
async function ensureMonthsFrom(pool: pg.Pool, oldestMs: number): Promise<void> {
  const first = new Date(oldestMs).toISOString().slice(0, 7) + '-01';
  const now = new Date();
  const months = (now.getUTCFullYear() - Number(first.slice(0, 4))) * 12 + (now.getUTCMonth() + 1 - Number(first.slice(5, 7))) + 3;
  await pool.query('SELECT ledger_ensure_partitions($1::date, $2)', [first, Math.max(months, 3)]);
}

async function importRecord(pool: pg.Pool, payload: StoredPayload, h: Record<string, Buffer>, settledMs: number | undefined, report: ImportReport): Promise<boolean> {
  const text = (f: string) => h[f]?.toString('utf8') ?? '';
  const id = text(F.id);
  const source = text(F.source);
  const recordId = text(F.recordId);
  const receivedAt = text(F.receivedAt);
  const version = Number(text(F.version)) || 1;
  const acceptedAt = h[F.acceptedMs] ? new Date(Number(text(F.acceptedMs))).toISOString() : text(F.updatedAt) || receivedAt;
  const states: Array<{ upstream: string; status: UpstreamStatus; stored: string }> = [];
  for (const [field, value] of Object.entries(h)) {
    const upstream = upstreamOfField(field);
    if (upstream === undefined) continue;
    const { status, unreadable } = payload.openStatus(id, upstream, value.toString('utf8'));
    if (unreadable) report.keptSealed += 1;
    states.push({ upstream, status, stored: unreadable ? value.toString('utf8') : payload.sealStatus(id, upstream, status) });
  }
  const sealed = resealed(payload, h, source, recordId, report);
  const unsettled = states.filter((s) => s.status.state !== 'synced' && s.status.state !== 'failed').length;
  return inTransaction(pool, 'BEGIN', async (client) => {
    const key = await client.query(
      `INSERT INTO record_keys (id, source, source_record_id, posyandu, received_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
      [id, source, recordId, text(F.posyandu), receivedAt],
    );
    // already there: nothing was written, the empty transaction commits
    if (key.rowCount === 0) return false;
    const json = (f: string, absent: string) => text(f) || absent;
    await client.query(
      `INSERT INTO records (id, received_at, source, source_record_id, kind, regency, puskesmas, posyandu, subject, version, content_hash,
                            updated_at, unsettled, settled_at, payload_dropped_at, warnings, indicators, history_from)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
      [
        id, receivedAt, source, recordId, text(F.kind), text(F.regency), text(F.puskesmas), text(F.posyandu), text(F.subject), version, text(F.contentHash),
        text(F.updatedAt) || receivedAt, unsettled, unsettled === 0 && settledMs !== undefined ? new Date(settledMs).toISOString() : null,
        text(F.payloadDroppedAt) || null, json(F.warnings, '[]'), json(F.indicators, '{}'), json(F.historyFrom, '[]'),
      ],
    );
    await client.query(
      `INSERT INTO record_versions (record_id, received_at, version, accepted_at, content_hash, warnings, indicators) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [id, receivedAt, version, acceptedAt, text(F.contentHash), json(F.warnings, '[]'), json(F.indicators, '{}')],
    );
    if (sealed.record && sealed.bundle) {
      await client.query(`INSERT INTO record_payloads (record_id, received_at, version, record, bundle, provenance) VALUES ($1, $2, $3, $4, $5, $6)`, [
        id, receivedAt, version, sealed.record, sealed.bundle, sealed.provenance ?? null,
      ]);
    }
    for (const s of states) {
      // accepted_at: the score Redis gave the record in its backlog and queue indexes; the
      // person's order comes after every record is in (personOrders)
      await client.query(
        `INSERT INTO upstream_states (record_id, received_at, upstream, kind, regency, puskesmas, posyandu, subject, accepted_at, ${STATE_COLUMNS.join(', ')})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, ${STATE_COLUMNS.map((_, i) => `$${i + 10}`).join(', ')})`,
        [id, receivedAt, s.upstream, text(F.kind), text(F.regency), text(F.puskesmas), text(F.posyandu), text(F.subject), acceptedAt, ...stateValues(s.stored, s.status)],
      );
    }
    // One row per job the Redis gateway made (its id: record, version and, for a replay, its count).
    const due = states.filter((s) => s.status.state !== 'synced' && s.status.state !== 'failed');
    const replays = due.filter((s) => (s.status.replays ?? 0) > 0);
    if (due.length > replays.length) await client.query('INSERT INTO outbox (record_id, version) VALUES ($1, $2)', [id, version]);
    for (const s of replays) await client.query('INSERT INTO outbox (record_id, version, upstream, replay) VALUES ($1, $2, $3, $4)', [id, s.status.version, s.upstream, s.status.replays]);
    report.pending += due.length;
    return true;
  });
}

/** The payload sealed again with the current key; what cannot be opened stays as it was. */
function resealed(payload: StoredPayload, h: Record<string, Buffer>, source: string, recordId: string, report: ImportReport): Partial<Record<SealedField, Buffer>> {
  const out: Partial<Record<SealedField, Buffer>> = {};
  for (const field of SEALED_FIELDS) {
    const stored = h[field];
    if (!stored) continue;
    try {
      // packed again: a value 0.4 stored as plain JSON text goes in as gzip, like every other
      out[field] = payload.sealField(field, source, recordId, packJson(unpackJson(payload.openField(field, source, recordId, stored))));
    } catch (err) {
      if (!(err instanceof PayloadUnreadableError)) throw err;
      report.keptSealed += 1;
      out[field] = stored;
    }
  }
  return out;
}

async function* scanKeys(redis: Redis, pattern: string, type: string): AsyncGenerator<string> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500, 'TYPE', type);
    cursor = next;
    yield* found;
  } while (cursor !== '0');
}

/**
 * Each person's records not yet settled at an upstream, in the order Redis kept them (its order
 * lists): only the first of them is pushed, so the order comes over exactly. Records already in an
 * order (an import run before) keep their place.
 */
async function personOrders(deps: { redis: Redis; keys: StoreKeys; pool: pg.Pool }): Promise<void> {
  const start = deps.keys.order('\u0000', '').split('\u0000')[0]!;
  for await (const key of scanKeys(deps.redis, scanPattern(start), 'list')) {
    const tail = key.slice(start.length);
    const cut = tail.indexOf(':');
    const subject = tail.slice(0, cut);
    const upstream = tail.slice(cut + 1);
    for (const id of await deps.redis.lrange(key, 0, -1)) {
      await deps.pool.query(
        `UPDATE upstream_states SET person_order = nextval('person_order_seq')
         WHERE record_id = $1 AND upstream = $2 AND subject = $3 AND person_order IS NULL AND state NOT IN ('synced', 'failed')
           AND received_at = (SELECT received_at FROM record_keys WHERE id = $1)`,
        [id, upstream, subject],
      );
    }
  }
}

/** The person histories (weighings, doses), keyed as in Redis, with the time they have left. */
async function importHistories(deps: { redis: Redis; keys: StoreKeys; pool: pg.Pool }): Promise<number> {
  let n = 0;
  for (const what of ['weighing', 'doses'] as const) {
    const start = deps.keys.history(what, '');
    for await (const key of scanKeys(deps.redis, scanPattern(start), 'hash')) {
      const subject = key.slice(start.length);
      const [entries, ttl] = await Promise.all([deps.redis.hgetall(key), deps.redis.pttl(key)]);
      // a key without an expiry (-1) keeps the longest history the store keeps: a year and a half
      const expiresAt = new Date(Date.now() + (ttl > 0 ? ttl : 548 * 86_400_000)).toISOString();
      for (const [field, text] of Object.entries(entries)) {
        // the place in its column, the rest as the entry (pg-subject-history.ts reads them so)
        const { posyandu, ...entry } = JSON.parse(text) as { posyandu?: unknown };
        await deps.pool.query(
          `INSERT INTO subject_history (subject_key, what, field, entry, posyandu, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (subject_key, what, field) DO NOTHING`,
          [subject, what, field, JSON.stringify(entry), typeof posyandu === 'string' ? posyandu : null, expiresAt],
        );
      }
      n += 1;
    }
  }
  return n;
}

/** The day counts, last syncs and latencies, once per key prefix (they are not per record). */
async function importCounts(deps: { redis: Redis; keys: StoreKeys; pool: pg.Pool }): Promise<boolean> {
  const { redis, keys, pool } = deps;
  return inTransaction(pool, 'BEGIN', async (client) => {
    const first = await client.query(`INSERT INTO ledger_imports (key_prefix, finished_at, records) VALUES ($1, now(), 0) ON CONFLICT DO NOTHING`, [keys.prefix]);
    if (first.rowCount === 0) return false;
    const place = (field: string) => {
      const { place: p, rest } = placeOf(field);
      return { ...p, rest };
    };
    const upstreams = new Set<string>();
    const dayStart = keys.day('\u0000', '').split('\u0000')[0]!;
    for await (const key of scanKeys(redis, scanPattern(dayStart), 'hash')) {
      const tail = key.slice(dayStart.length);
      const cut = tail.lastIndexOf(':');
      const upstream = tail.slice(0, cut);
      const day = tail.slice(cut + 1);
      if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) continue;
      upstreams.add(upstream);
      await client.query('SELECT ledger_ensure_partitions($1::date, 0)', [day]);
      for (const [field, n] of Object.entries(await redis.hgetall(key))) {
        const p = place(field);
        await client.query(
          `INSERT INTO daily_counts (upstream, day, regency, puskesmas, posyandu, event, records) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (upstream, day, regency, puskesmas, posyandu, event) DO UPDATE SET records = daily_counts.records + EXCLUDED.records`,
          [upstream, day, p.regency, p.puskesmas, p.posyandu, p.rest, Number(n)],
        );
      }
    }
    for (const upstream of await statesUpstreams(client, upstreams)) {
      for (const [field, at] of Object.entries(await redis.hgetall(keys.lastSynced(upstream)))) {
        const p = place(field);
        await client.query(
          `INSERT INTO last_synced (upstream, regency, puskesmas, posyandu, at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (upstream, regency, puskesmas, posyandu) DO UPDATE SET at = greatest(last_synced.at, EXCLUDED.at)`,
          [upstream, p.regency, p.puskesmas, p.posyandu, at],
        );
      }
      for (const [field, n] of Object.entries(await redis.hgetall(keys.latency(upstream)))) {
        const p = place(field);
        // Redis numbers the buckets from 1 (transition.lua), the table from 0 (aggregates.ts LATENCY_BUCKETS)
        await client.query(
          `INSERT INTO latency_counts (upstream, regency, puskesmas, posyandu, bucket, records) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (upstream, regency, puskesmas, posyandu, bucket) DO UPDATE SET records = latency_counts.records + EXCLUDED.records`,
          [upstream, p.regency, p.puskesmas, p.posyandu, Number(p.rest) - 1, Number(n)],
        );
      }
    }
    await client.query(`UPDATE ledger_imports SET records = (SELECT count(*) FROM record_keys), finished_at = now() WHERE key_prefix = $1`, [keys.prefix]);
    return true;
  });
}

/** Every upstream the states or the day counts name. */
async function statesUpstreams(client: pg.PoolClient, fromDays: Set<string>): Promise<string[]> {
  const rows = await client.query<{ upstream: string }>('SELECT DISTINCT upstream FROM upstream_states');
  return [...new Set([...fromDays, ...rows.rows.map((r) => r.upstream)])];
}

/** The records per state now, made again from the states (what the Redis counts said, recomputed). */
async function rebuildStateCounts(pool: pg.Pool): Promise<void> {
  await inTransaction(pool, 'BEGIN', async (client) => {
    // A gateway on this database moves these counts too (as deltas, rolled up into the totals):
    // keep its moves out while recounting. Deltas already committed are in the states counted
    // here, so they go; moves not yet committed append theirs after this commit.
    await client.query('LOCK TABLE status_counts, status_count_deltas IN EXCLUSIVE MODE');
    await client.query('DELETE FROM status_count_deltas');
    await client.query('DELETE FROM status_counts');
    await client.query(
      `INSERT INTO status_counts (upstream, regency, puskesmas, posyandu, state, records)
       SELECT upstream, regency, puskesmas, posyandu, state, count(*) FROM upstream_states GROUP BY 1, 2, 3, 4, 5`,
    );
  });
}
