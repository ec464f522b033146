import type pg from 'pg';
import { KeyedSubjectHistory, type HistoryRetention, type HistoryWrite, type What } from '../subject-history.js';
import { inTransaction } from './transaction.js';

// A person's history in PostgreSQL (table subject_history, one row per entry), with the meaning of
// history-read.lua and history-remember.lua: a Redis hash is a person's history of one kind, here
// the rows of one (subject_key, what). Redis expires the hash as a whole; here every row of it
// carries the same expires_at, reads leave expired rows out, a write never brings one back, and
// the retention sweep deletes them (dropExpired).
//
// The entry's place (Placed.posyandu) is kept in its own column rather than in the JSON, so that
// what was recorded at a posyandu can be found by it; a read puts it back where the entry had it.
//
// The 0.3.x carry-over: PostgreSQL never held a 0.3.x history, but `gerbang ledger import` copies
// a Redis ledger's histories as they are, and a 0.4.x Redis still holds, under their plain SHA-256
// names, the histories of children not seen since the upgrade. The importer cannot rename them
// (it has the plain hash, not the identity), so the read renames them as Redis does, the first
// time the child is seen again. It costs nothing on the common path: the legacy name is looked up
// in the same query, and the rename runs only when it alone has rows. Once no imported 0.3.x
// history can be left unexpired (the weighing and dose ages of history-retention.json after the
// import), the legacy half can go.

const DROP_BATCH = 5_000;
const UNIQUE_VIOLATION = '23505';

interface Row {
  subject_key: string;
  field: string;
  entry: Record<string, unknown>;
  posyandu: string | null;
}

const LIVE_ROWS = 'SELECT subject_key, field, entry, posyandu FROM subject_history WHERE what = $1 AND subject_key = ANY($2) AND expires_at > now()';

// One statement, so a write is all or nothing. Its parts touch disjoint rows (the entry's own row,
// the rows deleted, the rows whose expiry moves), as PostgreSQL requires of the parts of one
// statement. Two writes for the same person at once each see the rows the other had not yet
// committed as absent, so at worst a month that could have gone stays until the next write. The
// first month kept is always before the entry's own (weighingMonthsKept is at least 1), so the
// entry itself is never among those pruned.
const REMEMBER = `
WITH live AS (
  SELECT field FROM subject_history
  WHERE subject_key = $1 AND what = $2 AND field <> $3 AND expires_at > now()
), cut AS (
  -- of the months before the first one kept, the newest stays: it still tells O from B
  SELECT coalesce(max(field), '') AS newest FROM live WHERE $7 <> '' AND field < $7
), gone AS (
  DELETE FROM subject_history
  WHERE subject_key = $1 AND what = $2 AND field <> $3
    AND (expires_at <= now() OR ($7 <> '' AND field < $7 AND field < (SELECT newest FROM cut)))
), kept AS (
  UPDATE subject_history SET expires_at = to_timestamp($6)
  WHERE subject_key = $1 AND what = $2 AND field <> $3 AND expires_at > now()
    AND NOT ($7 <> '' AND field < $7 AND field < (SELECT newest FROM cut))
)
INSERT INTO subject_history (subject_key, what, field, entry, posyandu, expires_at)
VALUES ($1, $2, $3, $4::jsonb, $5, to_timestamp($6))
ON CONFLICT (subject_key, what, field) DO UPDATE SET entry = excluded.entry, posyandu = excluded.posyandu, expires_at = excluded.expires_at`;

export class PgSubjectHistory extends KeyedSubjectHistory {
  constructor(
    private readonly pool: pg.Pool,
    secret: string,
    retention: HistoryRetention,
  ) {
    super(secret, retention);
  }

  protected async read(what: What, key: string, legacyKey: string): Promise<Record<string, unknown>> {
    const { rows } = await this.pool.query<Row>(LIVE_ROWS, [what, [key, legacyKey]]);
    const keyed = rows.filter((r) => r.subject_key === key);
    if (keyed.length > 0 || rows.length === 0) return entriesOf(keyed);
    return entriesOf(await this.carryOver(what, key, legacyKey));
  }

  protected async write(what: What, key: string, w: HistoryWrite): Promise<void> {
    const { posyandu, ...entry } = w.entry;
    await this.pool.query(REMEMBER, [key, what, w.field, JSON.stringify(entry), posyandu ?? null, w.expiresAt, w.keepFrom]);
  }

  dropExpired(): Promise<number> {
    return dropExpiredHistory(this.pool);
  }

  /** The 0.3.x history renamed to its keyed name (RENAME in history-read.lua), and read back. */
  private async carryOver(what: What, key: string, legacyKey: string): Promise<Row[]> {
    try {
      return await inTransaction(this.pool, 'BEGIN', async (client) => {
        // Redis's RENAME replaces an expired keyed hash; here its rows would stand in the way
        await client.query('DELETE FROM subject_history WHERE subject_key = $1 AND what = $2 AND expires_at <= now()', [key, what]);
        await client.query('UPDATE subject_history SET subject_key = $1 WHERE subject_key = $2 AND what = $3 AND expires_at > now()', [key, legacyKey, what]);
        return (await client.query<Row>(LIVE_ROWS, [what, [key]])).rows;
      });
    } catch (err) {
      // A write for the person came first: the keyed history exists now, and, as in Redis, the
      // 0.3.x one is left to expire.
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) return (await this.pool.query<Row>(LIVE_ROWS, [what, [key]])).rows;
      throw err;
    }
  }
}

/** Deletes the expired rows, in batches (short transactions beside the ingest); returns how many. */
export async function dropExpiredHistory(pool: pg.Pool): Promise<number> {
  let dropped = 0;
  for (;;) {
    const res = await pool.query(
      'DELETE FROM subject_history WHERE (subject_key, what, field) IN (SELECT subject_key, what, field FROM subject_history WHERE expires_at <= now() LIMIT $1)',
      [DROP_BATCH],
    );
    dropped += res.rowCount ?? 0;
    if ((res.rowCount ?? 0) < DROP_BATCH) return dropped;
  }
}

function entriesOf(rows: Row[]): Record<string, unknown> {
  const entries: Record<string, unknown> = {};
  for (const r of rows) entries[r.field] = r.posyandu === null ? r.entry : { ...r.entry, posyandu: r.posyandu };
  return entries;
}
