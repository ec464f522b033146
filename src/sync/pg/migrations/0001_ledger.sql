-- 0001: the ledger in PostgreSQL (issue 15). Applied in one transaction by src/sync/pg/migrate.ts.
--
-- Which table answers which of today's ledger questions (src/sync/ledger.ts and its neighbours):
--
--   accept: is (source, recordId) known, as which record, at which posyandu?   record_keys
--     (the idempotency key; not partitioned, since it must be unique over all time; the row also
--     gives a record id's accepted time, so every other lookup by id is pruned to one partition)
--   accept: same content (duplicate) or the next version?        records.content_hash, records.version
--   get(id) / GET /v1/records/{id}: metadata, warnings           records
--     record, Bundle, provenance (the payload, names and NIKs)   record_payloads (one row per version)
--     indicators and warnings of each version                    record_versions
--     state at each upstream (stateAt, latestVersion)            upstream_states
--     the upstream ids of what was written (resources, held)     upstream_resources
--   beginDelivery: is this the person's next record at the upstream, is an earlier push of it in
--     flight?                       upstream_states (subject, person_order, sending_until, earlier_*)
--   setState / a push's attempts, errors, OperationOutcome       upstream_states + delivery_attempts
--   requeue / a person's replay (count is part of the job id)    upstream_states.replays + outbox
--   bulk replay by filter, as a task to watch                    replay_tasks
--   the inbox (accepted, not yet queue jobs)                     outbox (the transactional outbox:
--     written in the accept's transaction, turned into BullMQ jobs whose ids are deterministic, then
--     deleted; a crash between commit and enqueue re-enqueues the same job id, which BullMQ ignores)
--   record-search: failed / waiting-identity lists by place, kind, reason, time
--                                            upstream_states (partial index upstream_states_problems)
--   record-search: what one posyandu sent (GET /v1/records)      records (records_by_posyandu)
--   subject-history: a child's weighings by month and doses (N/T, immunisation status)
--                                                                subject_history
--   aggregates / sync-status: records in each state now, per place and upstream   status_counts
--     accepted / synced / failed per day                         daily_counts
--     last time a record synced, per place                       last_synced
--     accepted→synced latency buckets                            latency_counts
--     the backlog and its age, per posyandu and per upstream     upstream_states (upstream_states_backlog)
--     fairness by puskesmas (a record's rank among its puskesmas' queued ones)
--                                                                upstream_states (upstream_states_in_queue)
--   retention: payloads once synced everywhere + payloadDays     records.settled_at → record_payloads
--     payloads of records settled (synced or failed) everywhere, by time received
--                                                                records (records_payload_kept)
--     whole records after some months                            partition drops (ledger_drop_record_months)
--
-- Time partitioning: every table whose rows belong to one record is range-partitioned by month on
-- the record's accepted time (received_at, carried in each of them), so a record's whole life sits
-- in one month's partitions and dropping that month's partitions removes it entirely; the counts
-- (status_counts, latency_counts, last_synced) are not partitioned, so they are kept. daily_counts
-- is partitioned by its day (kept 400 days, as in Redis). ledger_ensure_partitions() makes the
-- months ahead; start-up calls it (and a daily task should), since a row for a month without a
-- partition is refused rather than put somewhere unmanaged (there is no default partition).
-- Tables that are not per record: record_keys (deleted with the partitions it points into),
-- subject_history (bounded by the children, not by the records; expired rows deleted), outbox
-- (rows live seconds), replay_tasks (a week).

CREATE TYPE upstream_state AS ENUM ('queued', 'sending', 'retrying', 'waiting-identity', 'synced', 'failed');

CREATE TABLE record_keys (
  -- text, not uuid: ids of records imported from a 0.3/0.4 Redis ledger keep their form
  id text PRIMARY KEY,
  source text NOT NULL,
  source_record_id text NOT NULL,
  posyandu text NOT NULL,
  received_at timestamptz NOT NULL,
  UNIQUE (source, source_record_id)
);
CREATE INDEX record_keys_received ON record_keys (received_at);

CREATE TABLE records (
  id text NOT NULL,
  received_at timestamptz NOT NULL,
  source text NOT NULL,
  source_record_id text NOT NULL,
  kind text NOT NULL,
  regency text NOT NULL,
  puskesmas text NOT NULL,
  posyandu text NOT NULL,
  -- a keyed hash of the person's identity (never the NIK): their records reach each upstream in order
  subject text NOT NULL DEFAULT '',
  version integer NOT NULL DEFAULT 1,
  content_hash text NOT NULL,
  updated_at timestamptz NOT NULL,
  -- how many upstreams have not settled the latest version; 0 → settled_at is set. Settled here
  -- means synced (Redis' unsynced and its purge list): settled_at is when the latest version became
  -- synced at every upstream, where retention's payloadDays start (a failed record keeps its payload
  -- for a replay until the unsynced sweep)
  unsettled integer NOT NULL,
  settled_at timestamptz,
  payload_dropped_at timestamptz,
  -- the latest version's warnings, indicators and where their history came from (record_versions keeps each version's)
  warnings jsonb NOT NULL DEFAULT '[]',
  indicators jsonb NOT NULL DEFAULT '{}',
  history_from jsonb NOT NULL DEFAULT '[]',
  PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);
CREATE INDEX records_by_posyandu ON records (posyandu, received_at);
-- The payload is kept while it was not dropped since the latest version was accepted: a version
-- accepted after a drop brings a payload again (payload_dropped_at stays, as in Redis), and
-- retention must find it. Retention walks these two, which hold only records still keeping theirs:
-- synced everywhere by when (settled_at), and any by when received (a record failed somewhere).
CREATE INDEX records_to_purge ON records (settled_at)
  WHERE settled_at IS NOT NULL AND (payload_dropped_at IS NULL OR payload_dropped_at < updated_at);
CREATE INDEX records_payload_kept ON records (received_at, id)
  WHERE payload_dropped_at IS NULL OR payload_dropped_at < updated_at;

CREATE TABLE record_versions (
  record_id text NOT NULL,
  received_at timestamptz NOT NULL,
  version integer NOT NULL,
  accepted_at timestamptz NOT NULL,
  content_hash text NOT NULL,
  warnings jsonb NOT NULL DEFAULT '[]',
  indicators jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (record_id, received_at, version)
) PARTITION BY RANGE (received_at);

-- The payload: what retention drops. Kept apart so that dropping it deletes narrow rows whose
-- bulk lives in TOAST, and the rows that stay (records, states, counts) are never rewritten.
CREATE TABLE record_payloads (
  record_id text NOT NULL,
  received_at timestamptz NOT NULL,
  version integer NOT NULL,
  -- each sealed as in Redis (stored-payload.ts: AES-256-GCM over the packed JSON, bound to the
  -- record's (source, recordId) and the field, naming its key id): a copy of the database does
  -- not say who the person is
  record bytea NOT NULL,
  bundle bytea NOT NULL,
  provenance bytea,
  PRIMARY KEY (record_id, received_at, version)
) PARTITION BY RANGE (received_at);

CREATE TABLE upstream_states (
  record_id text NOT NULL,
  received_at timestamptz NOT NULL,
  upstream text NOT NULL,
  -- copied from the record so that lists and counts by place read this table alone
  kind text NOT NULL,
  regency text NOT NULL,
  puskesmas text NOT NULL,
  posyandu text NOT NULL,
  subject text NOT NULL DEFAULT '',
  state upstream_state NOT NULL,
  version integer NOT NULL,
  -- the whole state as the API shows it (sealStatus in stored-payload.ts: the upstream's words
  -- sealed); the columns beside it are copies that the queries, indexes and counts work on
  status text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  last_error_code text,
  last_error jsonb,
  -- the upstream's OperationOutcome, for a person to read when the record failed
  outcome jsonb,
  -- until this version is synced: the version whose resources the upstream holds (upstream_resources)
  held_version integer,
  -- while sending: until when this push may still write (the worker's lock)
  sending_until timestamptz,
  -- an earlier version's push in flight when this version was accepted, and until when it may write
  earlier_sending_version integer,
  earlier_sending_until timestamptz,
  synced_at timestamptz,
  identity_waits integer NOT NULL DEFAULT 0,
  replays integer NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL,
  -- the latest version's acceptance (records.updated_at) as of the last change of state here (null:
  -- received_at): the time Redis' pending, backlog, problems and in-queue indexes score the record
  -- with (its acceptedMs, written when the state changes), so the fairness ranks and the backlog's
  -- age come out the same
  accepted_at timestamptz,
  -- the record's place in its person's order at this upstream (from person_order_seq; null: not
  -- in it). Set when it is accepted or replayed and not already in it, cleared when it settles
  -- there (or waits for the person's identity), so a correction of a record already settled goes
  -- after the person's records accepted meanwhile, as in the Redis order list
  person_order bigint,
  PRIMARY KEY (record_id, received_at, upstream)
) PARTITION BY RANGE (received_at);
CREATE INDEX upstream_states_problems ON upstream_states (upstream, posyandu, received_at)
  WHERE state IN ('failed', 'waiting-identity');
CREATE INDEX upstream_states_backlog ON upstream_states (upstream, posyandu, received_at)
  WHERE state <> 'synced';
CREATE INDEX upstream_states_in_queue ON upstream_states (upstream, puskesmas, received_at)
  WHERE state IN ('queued', 'sending', 'retrying');
-- a person's records not yet settled at an upstream, oldest first: only the first one is pushed
CREATE INDEX upstream_states_person_order ON upstream_states (upstream, subject, received_at)
  WHERE subject <> '' AND state NOT IN ('synced', 'failed');
CREATE SEQUENCE person_order_seq;
-- the head of a person's order at an upstream: only that record is pushed
CREATE INDEX upstream_states_person_head ON upstream_states (upstream, subject, person_order)
  WHERE person_order IS NOT NULL;

-- What an upstream holds for a record: the ids of the resources a version wrote there.
CREATE TABLE upstream_resources (
  record_id text NOT NULL,
  received_at timestamptz NOT NULL,
  upstream text NOT NULL,
  version integer NOT NULL,
  full_url text NOT NULL,
  resource_type text NOT NULL,
  resource_id text NOT NULL,
  status text NOT NULL,
  retracted boolean NOT NULL DEFAULT false,
  PRIMARY KEY (record_id, received_at, upstream, version, full_url)
) PARTITION BY RANGE (received_at);
CREATE INDEX upstream_resources_by_id ON upstream_resources (upstream, resource_type, resource_id);

-- Every push and how it ended: the history behind attempts and lastError.
CREATE TABLE delivery_attempts (
  record_id text NOT NULL,
  received_at timestamptz NOT NULL,
  upstream text NOT NULL,
  version integer NOT NULL,
  attempt integer NOT NULL,
  started_at timestamptz NOT NULL,
  ended_at timestamptz,
  -- synced, retrying, waiting-identity or failed: the state the push left
  result upstream_state,
  error_code text,
  error_message text,
  http_status integer,
  PRIMARY KEY (record_id, received_at, upstream, version, attempt)
) PARTITION BY RANGE (received_at);

-- The transactional outbox: jobs due, written in the transaction that made them due.
CREATE TABLE outbox (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  record_id text NOT NULL,
  version integer NOT NULL,
  -- null: every upstream of the record; else one (a replay)
  upstream text,
  replay integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE replay_tasks (
  id uuid PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
  requested_by text NOT NULL,
  created_at timestamptz NOT NULL,
  filter jsonb NOT NULL,
  scope jsonb,
  matched integer,
  replayed integer,
  finished_at timestamptz
);
CREATE INDEX replay_tasks_finished ON replay_tasks (finished_at) WHERE finished_at IS NOT NULL;

-- A child's history, keyed by a keyed hash of the identity (subject-history.ts).
CREATE TABLE subject_history (
  subject_key text NOT NULL,
  what text NOT NULL CHECK (what IN ('weighing', 'doses')),
  -- "YYYY-MM" for a weighing, "antigen.dose" for a dose
  field text NOT NULL,
  entry jsonb NOT NULL,
  posyandu text,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (subject_key, what, field)
);
CREATE INDEX subject_history_expiry ON subject_history (expires_at);

-- Counts kept in the transactions that change states, so the status API reads a few rows per
-- place whatever the number of records.
CREATE TABLE status_counts (
  upstream text NOT NULL,
  regency text NOT NULL,
  puskesmas text NOT NULL,
  posyandu text NOT NULL,
  state upstream_state NOT NULL,
  records bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (upstream, regency, puskesmas, posyandu, state)
);

CREATE TABLE daily_counts (
  upstream text NOT NULL,
  day date NOT NULL,
  regency text NOT NULL,
  puskesmas text NOT NULL,
  posyandu text NOT NULL,
  event text NOT NULL CHECK (event IN ('accepted', 'synced', 'failed')),
  records bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (upstream, day, regency, puskesmas, posyandu, event)
) PARTITION BY RANGE (day);

CREATE TABLE last_synced (
  upstream text NOT NULL,
  regency text NOT NULL,
  puskesmas text NOT NULL,
  posyandu text NOT NULL,
  at timestamptz NOT NULL,
  PRIMARY KEY (upstream, regency, puskesmas, posyandu)
);

CREATE TABLE latency_counts (
  upstream text NOT NULL,
  regency text NOT NULL,
  puskesmas text NOT NULL,
  posyandu text NOT NULL,
  -- the bucket's place in aggregates.ts LATENCY_BUCKETS (the last one: longer than all the others)
  bucket smallint NOT NULL,
  records bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (upstream, regency, puskesmas, posyandu, bucket)
);

-- The monthly partitions of every partitioned table of this schema, from the month of `first`
-- through `months` months on (named <table>_yYYYYmMM); existing ones are left as they are. Months
-- are UTC months whatever the session's time zone. Returns how many it made.
CREATE FUNCTION ledger_ensure_partitions(first date, months integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  parent regclass;
  key_type regtype;
  m date;
  made integer := 0;
  name text;
BEGIN
  -- two processes starting at once would both find a month missing and both create it
  PERFORM pg_advisory_xact_lock(7463512890123458);
  FOR parent, key_type IN
    SELECT p.partrelid::regclass, a.atttypid::regtype
    FROM pg_partitioned_table p
    JOIN pg_class c ON c.oid = p.partrelid
    JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
    WHERE c.relnamespace = current_schema()::regnamespace AND NOT c.relispartition AND p.partstrat = 'r'
  LOOP
    FOR i IN 0 .. months LOOP
      m := (date_trunc('month', first) + make_interval(months => i))::date;
      name := format('%s_y%sm%s', parent::text, to_char(m, 'YYYY'), to_char(m, 'MM'));
      IF to_regclass(quote_ident(name)) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)', name, parent,
                       CASE WHEN key_type = 'date'::regtype THEN m::text ELSE (m::timestamp AT TIME ZONE 'UTC')::text END,
                       CASE WHEN key_type = 'date'::regtype THEN (m + interval '1 month')::date::text
                            ELSE ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC')::text END);
        made := made + 1;
      END IF;
    END LOOP;
  END LOOP;
  RETURN made;
END $$;

-- Drops the monthly partitions of `parent` that end on or before `before` (whole months older
-- than it). Returns the names dropped. A partition drop, not a delete: no bloat, no vacuum.
CREATE FUNCTION ledger_drop_partitions(parent regclass, before date) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  child record;
  month_start date;
BEGIN
  FOR child IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = parent AND c.relname ~ '_y[0-9]{4}m[0-9]{2}$'
    ORDER BY c.relname
  LOOP
    month_start := to_date(substring(child.relname from '_y([0-9]{4}m[0-9]{2})$'), 'YYYY"m"MM');
    IF (month_start + interval '1 month')::date <= before THEN
      EXECUTE format('DROP TABLE %I', child.relname);
      RETURN NEXT child.relname;
    END IF;
  END LOOP;
END $$;

-- The retention of whole records: every record accepted before `before` (the first day of a UTC
-- month), in all the per-record tables (those partitioned on received_at) and its idempotency key,
-- in one transaction, so that no record is left half there. The counts stay. Returns the
-- partitions dropped.
CREATE FUNCTION ledger_drop_record_months(before date) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  parent regclass;
BEGIN
  IF extract(day FROM before) <> 1 THEN
    RAISE EXCEPTION 'ledger_drop_record_months: % is not the first day of a month', before;
  END IF;
  FOR parent IN
    SELECT p.partrelid::regclass
    FROM pg_partitioned_table p
    JOIN pg_class c ON c.oid = p.partrelid
    JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
    WHERE c.relnamespace = current_schema()::regnamespace AND NOT c.relispartition AND a.attname = 'received_at'
    ORDER BY 1
  LOOP
    RETURN QUERY SELECT ledger_drop_partitions(parent, before);
  END LOOP;
  DELETE FROM record_keys WHERE received_at < (before::timestamp AT TIME ZONE 'UTC');
END $$;
