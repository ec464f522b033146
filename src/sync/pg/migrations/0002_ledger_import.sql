-- 0002: what `gerbang ledger import` has brought over from a Redis ledger (0.3.x to 0.5.x).
-- Records are imported one transaction each and skipped when already there, so an import can be
-- stopped and run again; the counts of the status API (per day, last sync, latencies) are not per
-- record and are brought over once per Redis key prefix, in the transaction that writes this row.

CREATE TABLE ledger_imports (
  key_prefix text PRIMARY KEY,
  finished_at timestamptz NOT NULL,
  records integer NOT NULL
);
