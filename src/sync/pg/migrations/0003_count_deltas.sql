-- Count deltas (issue 15, performance). Every accept and every change of state at a posyandu moved
-- the same few rows of status_counts, daily_counts, last_synced and latency_counts, and held their
-- row locks until its commit (an fsync): the transactions of one place ran one at a time
-- (pg_stat_activity: 87% of the waits Lock:transactionid). They now append their moves here,
-- insert-only (no row is shared, so no transaction waits on another's), and
-- ledger_roll_up_counts() moves the deltas into the totals every few seconds, in one transaction.
-- A count is the total plus the deltas not yet rolled up; read in one statement (one snapshot), the
-- roll-up is either wholly before it or wholly after.
--
-- No index: a roll-up reads and deletes the whole table, readers read what a few seconds of moves
-- left (few rows).

CREATE TABLE status_count_deltas (
  upstream text NOT NULL,
  regency text NOT NULL,
  puskesmas text NOT NULL,
  posyandu text NOT NULL,
  state upstream_state NOT NULL,
  records bigint NOT NULL
);

CREATE TABLE daily_count_deltas (
  upstream text NOT NULL,
  day date NOT NULL,
  regency text NOT NULL,
  puskesmas text NOT NULL,
  posyandu text NOT NULL,
  event text NOT NULL CHECK (event IN ('accepted', 'synced', 'failed')),
  records bigint NOT NULL
);

CREATE TABLE latency_count_deltas (
  upstream text NOT NULL,
  regency text NOT NULL,
  puskesmas text NOT NULL,
  posyandu text NOT NULL,
  bucket smallint NOT NULL,
  records bigint NOT NULL
);

-- The latest write wins (as HSET did): in the order the writes were made, which the sequence gives.
CREATE SEQUENCE last_synced_seq;

CREATE TABLE last_synced_deltas (
  seq bigint NOT NULL DEFAULT nextval('last_synced_seq'),
  upstream text NOT NULL,
  regency text NOT NULL,
  puskesmas text NOT NULL,
  posyandu text NOT NULL,
  at timestamptz NOT NULL
);

-- the write a total holds, so that a delta committed late (an earlier write) does not overwrite a later one
ALTER TABLE last_synced ADD COLUMN seq bigint;

-- Moves the deltas into the totals, and deletes them, in the caller's transaction. Only one
-- roll-up at a time (an advisory lock of the transaction): `wait` false returns false at once when
-- another is under way. Each statement deletes exactly the deltas committed before it began and
-- adds what it deleted, so a delta committed meanwhile stays for the next one.
CREATE FUNCTION ledger_roll_up_counts(wait boolean) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  IF wait THEN
    PERFORM pg_advisory_xact_lock(15, 2);
  ELSIF NOT pg_try_advisory_xact_lock(15, 2) THEN
    RETURN false;
  END IF;

  WITH d AS (DELETE FROM status_count_deltas RETURNING *)
  INSERT INTO status_counts AS t (upstream, regency, puskesmas, posyandu, state, records)
  SELECT upstream, regency, puskesmas, posyandu, state, sum(records) FROM d GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (upstream, regency, puskesmas, posyandu, state) DO UPDATE SET records = t.records + excluded.records;

  WITH d AS (DELETE FROM daily_count_deltas RETURNING *)
  INSERT INTO daily_counts AS t (upstream, day, regency, puskesmas, posyandu, event, records)
  SELECT upstream, day, regency, puskesmas, posyandu, event, sum(records) FROM d GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
  ON CONFLICT (upstream, day, regency, puskesmas, posyandu, event) DO UPDATE SET records = t.records + excluded.records;

  WITH d AS (DELETE FROM latency_count_deltas RETURNING *)
  INSERT INTO latency_counts AS t (upstream, regency, puskesmas, posyandu, bucket, records)
  SELECT upstream, regency, puskesmas, posyandu, bucket, sum(records) FROM d GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (upstream, regency, puskesmas, posyandu, bucket) DO UPDATE SET records = t.records + excluded.records;

  WITH d AS (DELETE FROM last_synced_deltas RETURNING *)
  INSERT INTO last_synced AS t (upstream, regency, puskesmas, posyandu, at, seq)
  SELECT DISTINCT ON (upstream, regency, puskesmas, posyandu) upstream, regency, puskesmas, posyandu, at, seq FROM d
  ORDER BY upstream, regency, puskesmas, posyandu, seq DESC
  ON CONFLICT (upstream, regency, puskesmas, posyandu) DO UPDATE SET at = excluded.at, seq = excluded.seq
    WHERE t.seq IS NULL OR t.seq < excluded.seq;

  RETURN true;
END;
$$;
