import type pg from 'pg';
import { PayloadUnreadableError } from '../payload-cipher.js';
import { noteUnreadable, statusNeedsRotation, type RotationReport } from '../payload-rotation.js';
import { SEALED_FIELDS, type StoredPayload } from '../stored-payload.js';

// `gerbang keys rotate-payloads` on the PostgreSQL ledger: what payload-rotation.ts does for the
// Redis one. Every payload row and every state whose upstream words are sealed with another key
// than the current one (or in clear) is sealed again; each value is replaced only if it is still
// the one read (compare and set), so the gateway may keep running.

const PAGE = 500;

export async function rotatePgPayloads(pool: pg.Pool, payload: StoredPayload): Promise<RotationReport> {
  const report: RotationReport = { records: 0, resealed: 0, changedMeanwhile: 0, unreadable: {} };
  const unreadable = (id: string, err: PayloadUnreadableError) => noteUnreadable(report, id, err);
  // the payloads, page by page in key order
  let after: [string, Date, number] | undefined;
  for (;;) {
    const rows = await pool.query<{ record_id: string; received_at: Date; version: number; source: string; source_record_id: string; record: Buffer; bundle: Buffer; provenance: Buffer | null }>(
      `SELECT p.record_id, p.received_at, p.version, r.source, r.source_record_id, p.record, p.bundle, p.provenance
       FROM record_payloads p JOIN records r ON r.id = p.record_id AND r.received_at = p.received_at
       ${after ? 'WHERE (p.record_id, p.received_at, p.version) > ($1, $2, $3)' : ''}
       ORDER BY p.record_id, p.received_at, p.version LIMIT ${PAGE}`,
      after ?? [],
    );
    if (rows.rows.length === 0) break;
    for (const row of rows.rows) {
      for (const field of SEALED_FIELDS) {
        // the columns are named as the sealed fields are
        const column = field;
        const stored = row[column];
        if (!stored || !payload.cipher.needsRotation(stored)) continue;
        let fresh: Buffer;
        try {
          fresh = payload.sealField(field, row.source, row.source_record_id, payload.openField(field, row.source, row.source_record_id, stored));
        } catch (err) {
          if (!(err instanceof PayloadUnreadableError)) throw err;
          unreadable(row.record_id, err);
          continue;
        }
        const done = await pool.query(`UPDATE record_payloads SET ${column} = $5 WHERE record_id = $1 AND received_at = $2 AND version = $3 AND ${column} = $4`, [
          row.record_id, row.received_at, row.version, stored, fresh,
        ]);
        if (done.rowCount === 1) report.resealed += 1;
        else report.changedMeanwhile += 1;
      }
    }
    const last = rows.rows[rows.rows.length - 1]!;
    after = [last.record_id, last.received_at, last.version];
  }
  // the upstream's words in the states
  let afterState: [string, Date, string] | undefined;
  for (;;) {
    const rows = await pool.query<{ record_id: string; received_at: Date; upstream: string; status: string }>(
      `SELECT record_id, received_at, upstream, status FROM upstream_states
       ${afterState ? 'WHERE (record_id, received_at, upstream) > ($1, $2, $3)' : ''}
       ORDER BY record_id, received_at, upstream LIMIT ${PAGE}`,
      afterState ?? [],
    );
    if (rows.rows.length === 0) break;
    for (const row of rows.rows) {
      if (!statusNeedsRotation(row.status, payload.cipher)) continue;
      const { status, unreadable: problem } = payload.openStatus(row.record_id, row.upstream, row.status);
      if (problem) {
        unreadable(row.record_id, new PayloadUnreadableError(problem.keyId, problem.reason));
        continue;
      }
      const done = await pool.query('UPDATE upstream_states SET status = $5 WHERE record_id = $1 AND received_at = $2 AND upstream = $3 AND status = $4', [
        row.record_id, row.received_at, row.upstream, row.status, payload.sealStatus(row.record_id, row.upstream, status),
      ]);
      if (done.rowCount === 1) report.resealed += 1;
      else report.changedMeanwhile += 1;
    }
    const last = rows.rows[rows.rows.length - 1]!;
    afterState = [last.record_id, last.received_at, last.upstream];
  }
  report.records = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM records')).rows[0]?.n ?? 0);
  return report;
}
