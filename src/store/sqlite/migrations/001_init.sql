-- waymark: breaking — the first schema: no Waymark before it opens a store
-- Waymark schema 1: workflow versions, runs, their histories, and signal inboxes.

CREATE TABLE workflow_versions (
  workflow      TEXT    NOT NULL,
  version       INTEGER NOT NULL,
  fingerprint   TEXT    NOT NULL,
  registered_at INTEGER NOT NULL,
  PRIMARY KEY (workflow, version)
);

CREATE TABLE runs (
  id               TEXT    PRIMARY KEY,
  workflow         TEXT    NOT NULL,
  version          INTEGER NOT NULL,
  status           TEXT    NOT NULL,
  input            TEXT,
  output           TEXT,
  error            TEXT,
  waiting_for      TEXT,
  attention        TEXT,
  next_pos         INTEGER NOT NULL,
  due_at           INTEGER,
  lease_owner      TEXT,
  lease_expires_at INTEGER,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);
CREATE INDEX runs_due ON runs (due_at) WHERE status IN ('running', 'waiting');
CREATE INDEX runs_by_workflow ON runs (workflow, version, status);
CREATE INDEX runs_by_status ON runs (status, created_at);
CREATE INDEX runs_by_lease_owner ON runs (lease_owner) WHERE lease_owner IS NOT NULL;

CREATE TABLE history (
  run_id TEXT    NOT NULL,
  pos    INTEGER NOT NULL,
  type   TEXT    NOT NULL,
  seq    INTEGER,
  name   TEXT,
  data   TEXT,
  at     INTEGER NOT NULL,
  PRIMARY KEY (run_id, pos)
) WITHOUT ROWID;
-- A step's outcome is committed once: a second commit for the same (run, seq) is refused.
CREATE UNIQUE INDEX history_step_outcome ON history (run_id, seq) WHERE type = 'step_completed';

CREATE TABLE signals (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id        TEXT    NOT NULL,
  name          TEXT    NOT NULL,
  payload       TEXT,
  sent_at       INTEGER NOT NULL,
  consumed_at   INTEGER
);
CREATE INDEX signals_pending ON signals (run_id, id) WHERE consumed_at IS NULL;
