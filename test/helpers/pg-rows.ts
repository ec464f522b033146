import type { Bundle } from '@medplum/fhirtypes';
import type pg from 'pg';
import type { Place } from '../../src/config/scope.js';
import { LATENCY_BUCKETS, reportingDay } from '../../src/sync/aggregates.js';
import type { UpstreamStatus } from '../../src/sync/states.js';
import type { StoredPayload } from '../../src/sync/stored-payload.js';

// Ledger rows written straight in SQL, as the brief's table meanings say the PostgreSQL ledger
// writes them, for tests of the reads before PgLedger (the write side) exists: a record as it is
// after its states were set, with the counts its life moved (as accept.lua + set-state.lua would
// have: accepted on its reporting day, and per upstream its current state, synced or failed on
// that day, the last sync and the latency). To be replaced by PgLedger.accept/setState.

export interface RowRecord {
  id: string;
  source?: string;
  /** the app's own id (default R-<id>) */
  recordId?: string;
  kind?: string;
  place: Place;
  subject?: string;
  receivedAt: Date;
  /** the latest version (default 1): a payload row is written for each version up to it */
  version?: number;
  record: unknown;
  bundle?: Bundle;
  provenance?: unknown[];
  states: Record<string, UpstreamStatus>;
}

export async function insertRecord(pool: pg.Pool, payload: StoredPayload, r: RowRecord): Promise<void> {
  const source = r.source ?? 'app';
  const recordId = r.recordId ?? `R-${r.id}`;
  const kind = r.kind ?? 'anthropometry';
  const version = r.version ?? 1;
  const { regency, puskesmas, posyandu } = r.place;
  const states = Object.entries(r.states);
  // unsettled: upstreams the latest version is not synced at; settled_at: when it was synced at the last of them
  const unsettled = states.filter(([, s]) => s.state !== 'synced').length;
  const settledAt = unsettled === 0 ? new Date(Math.max(...states.map(([, s]) => Date.parse(s.syncedAt ?? s.updatedAt)))) : null;
  const sealed = payload.seal(source, recordId, { record: r.record, bundle: r.bundle ?? { resourceType: 'Bundle', type: 'transaction', entry: [] }, ...(r.provenance ? { provenance: r.provenance } : {}) });
  const at = r.receivedAt;
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('INSERT INTO record_keys (id, source, source_record_id, posyandu, received_at) VALUES ($1, $2, $3, $4, $5)', [r.id, source, recordId, posyandu, at]);
    await client.query(
      `INSERT INTO records (id, received_at, source, source_record_id, kind, regency, puskesmas, posyandu, subject, version, content_hash, updated_at, unsettled, settled_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $2, $12, $13)`,
      [r.id, at, source, recordId, kind, regency, puskesmas, posyandu, r.subject ?? '', version, `hash-${r.id}-${version}`, unsettled, settledAt],
    );
    for (let v = 1; v <= version; v++) {
      await client.query('INSERT INTO record_versions (record_id, received_at, version, accepted_at, content_hash) VALUES ($1, $2, $3, $2, $4)', [r.id, at, v, `hash-${r.id}-${v}`]);
      await client.query('INSERT INTO record_payloads (record_id, received_at, version, record, bundle, provenance) VALUES ($1, $2, $3, $4, $5, $6)', [
        r.id, at, v, sealed.record, sealed.bundle, sealed.provenance ?? null,
      ]);
    }
    const count = (table: string, key: string, values: unknown[]) =>
      client.query(`INSERT INTO ${table} (${key}, records) VALUES (${values.map((_, i) => `$${i + 1}`).join(', ')}, 1) ON CONFLICT (${key}) DO UPDATE SET records = ${table}.records + 1`, values);
    for (const [upstream, s] of states) {
      await client.query(
        `INSERT INTO upstream_states (record_id, received_at, upstream, kind, regency, puskesmas, posyandu, subject, state, version, status, attempts, last_error_code, synced_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
        [r.id, at, upstream, kind, regency, puskesmas, posyandu, r.subject ?? '', s.state, s.version, payload.sealStatus(r.id, upstream, s), s.attempts, s.lastError?.code ?? null, s.syncedAt ?? null, s.updatedAt],
      );
      const place = [upstream, regency, puskesmas, posyandu];
      await count('status_counts', 'upstream, regency, puskesmas, posyandu, state', [...place, s.state]);
      await count('daily_counts', 'upstream, day, regency, puskesmas, posyandu, event', [upstream, reportingDay(at.getTime()), regency, puskesmas, posyandu, 'accepted']);
      if (s.state === 'synced') {
        const syncedAt = Date.parse(s.syncedAt ?? s.updatedAt);
        await count('daily_counts', 'upstream, day, regency, puskesmas, posyandu, event', [upstream, reportingDay(syncedAt), regency, puskesmas, posyandu, 'synced']);
        await client.query(
          `INSERT INTO last_synced (upstream, regency, puskesmas, posyandu, at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (upstream, regency, puskesmas, posyandu) DO UPDATE SET at = greatest(last_synced.at, excluded.at)`,
          [...place, new Date(syncedAt)],
        );
        const seconds = (syncedAt - at.getTime()) / 1000;
        await count('latency_counts', 'upstream, regency, puskesmas, posyandu, bucket', [...place, LATENCY_BUCKETS.findIndex((bound) => seconds <= bound)]);
      }
      if (s.state === 'failed') {
        await count('daily_counts', 'upstream, day, regency, puskesmas, posyandu, event', [upstream, reportingDay(Date.parse(s.updatedAt)), regency, puskesmas, posyandu, 'failed']);
      }
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}
