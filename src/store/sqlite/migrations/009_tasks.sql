-- waymark: additive
-- Tasks: steps executed by remote workers that poll for them. Each attempt is a row; the run's history
-- records its scheduling and (once the run consumes the worker's report) its outcome.
CREATE TABLE tasks (
  task_id             TEXT    PRIMARY KEY,
  run_id              TEXT    NOT NULL REFERENCES runs (id),
  workflow            TEXT    NOT NULL,
  version             INTEGER NOT NULL,
  seq                 INTEGER NOT NULL,
  attempt             INTEGER NOT NULL,
  task_type           TEXT    NOT NULL,
  ref_name            TEXT    NOT NULL,
  status              TEXT    NOT NULL,  -- SCHEDULED, IN_PROGRESS, or a terminal status
  input               TEXT    NOT NULL,
  output              TEXT,
  reason              TEXT,
  worker_id           TEXT,
  poll_count          INTEGER NOT NULL DEFAULT 0,
  response_timeout_ms INTEGER NOT NULL,
  scheduled_at        INTEGER NOT NULL,
  visible_at          INTEGER NOT NULL,  -- not handed out before
  started_at          INTEGER,
  ended_at            INTEGER,
  updated_at          INTEGER NOT NULL,
  response_deadline   INTEGER,           -- IN_PROGRESS: TIMED_OUT when no report comes by then
  logs                TEXT    NOT NULL DEFAULT '[]',
  consumed_at         INTEGER            -- when the run recorded the outcome in its history
);
CREATE INDEX tasks_queue ON tasks (task_type, visible_at) WHERE status = 'SCHEDULED';
CREATE INDEX tasks_in_progress ON tasks (response_deadline) WHERE status = 'IN_PROGRESS';
CREATE INDEX tasks_by_run ON tasks (run_id, seq);
CREATE INDEX tasks_outcomes ON tasks (run_id) WHERE consumed_at IS NULL AND status NOT IN ('SCHEDULED', 'IN_PROGRESS');
