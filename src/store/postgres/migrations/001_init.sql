-- waymark: breaking — the first schema: no Waymark before it opens a store
-- Waymark schema 1 (PostgreSQL): workflow versions, runs, their histories, signal inboxes and workers.
-- Runs in the schema chosen by the store (search_path); times are epoch ms from the database clock.

CREATE FUNCTION now_ms() RETURNS bigint
  LANGUAGE sql VOLATILE
  AS $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

CREATE TABLE workflow_versions (
  workflow      text    NOT NULL,
  version       integer NOT NULL,
  fingerprint   text    NOT NULL,
  registered_at bigint  NOT NULL,
  PRIMARY KEY (workflow, version)
);

CREATE TABLE runs (
  id               text    PRIMARY KEY,
  workflow         text    NOT NULL,
  version          integer NOT NULL,
  status           text    NOT NULL,
  input            text,   -- JSON text: a JSON null must stay distinct from no value
  output           text,
  error            jsonb,
  waiting_for      jsonb,
  attention        jsonb,
  next_pos         integer NOT NULL,
  due_at           bigint,
  lease_owner      text,
  lease_expires_at bigint,
  created_at       bigint  NOT NULL,
  updated_at       bigint  NOT NULL
);
CREATE INDEX runs_due ON runs (due_at) WHERE status IN ('running', 'waiting');
CREATE INDEX runs_by_workflow ON runs (workflow, version, status);
CREATE INDEX runs_by_status ON runs (status, created_at);
CREATE INDEX runs_by_lease_owner ON runs (lease_owner) WHERE lease_owner IS NOT NULL;

CREATE TABLE history (
  run_id text    NOT NULL,
  pos    integer NOT NULL,
  type   text    NOT NULL,
  seq    integer,
  name   text,
  data   text,    -- JSON text, byte for byte: replay must see objects with their keys in the recorded order
  at     bigint  NOT NULL,
  PRIMARY KEY (run_id, pos)
);
-- A step's outcome is committed once: a second commit for the same (run, seq) is refused.
CREATE UNIQUE INDEX history_step_outcome ON history (run_id, seq) WHERE type = 'step_completed';

CREATE TABLE signals (
  id          bigserial PRIMARY KEY,
  run_id      text   NOT NULL,
  name        text   NOT NULL,
  payload     text,   -- JSON text, as sent
  sent_at     bigint NOT NULL,
  consumed_at bigint
);
CREATE INDEX signals_pending ON signals (run_id, id) WHERE consumed_at IS NULL;

CREATE TABLE workers (
  worker_id    text   PRIMARY KEY,
  served       jsonb  NOT NULL,
  started_at   bigint NOT NULL,
  heartbeat_at bigint NOT NULL,
  expires_at   bigint NOT NULL  -- alive until then unless it beats again
);
