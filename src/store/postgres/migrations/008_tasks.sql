-- waymark: additive
-- Tasks: steps executed by remote workers that poll for them. Each attempt is a row; the run's history
-- records its scheduling and (once the run consumes the worker's report) its outcome.
CREATE TABLE tasks (
  task_id             text    PRIMARY KEY,
  run_id              text    NOT NULL REFERENCES runs (id),
  workflow            text    NOT NULL,
  version             integer NOT NULL,
  seq                 integer NOT NULL,
  attempt             integer NOT NULL,
  task_type           text    NOT NULL,
  ref_name            text    NOT NULL,
  status              text    NOT NULL,  -- SCHEDULED, IN_PROGRESS, or a terminal status
  input               jsonb   NOT NULL,
  output              jsonb,
  reason              text,
  worker_id           text,
  poll_count          integer NOT NULL DEFAULT 0,
  response_timeout_ms bigint NOT NULL,
  scheduled_at        bigint NOT NULL,
  visible_at          bigint NOT NULL,  -- not handed out before
  started_at          bigint,
  ended_at            bigint,
  updated_at          bigint NOT NULL,
  response_deadline   bigint,           -- IN_PROGRESS: TIMED_OUT when no report comes by then
  logs                jsonb   NOT NULL DEFAULT '[]',
  consumed_at         bigint            -- when the run recorded the outcome in its history
);
CREATE INDEX tasks_queue ON tasks (task_type, visible_at) WHERE status = 'SCHEDULED';
CREATE INDEX tasks_in_progress ON tasks (response_deadline) WHERE status = 'IN_PROGRESS';
CREATE INDEX tasks_by_run ON tasks (run_id, seq);
CREATE INDEX tasks_outcomes ON tasks (run_id) WHERE consumed_at IS NULL AND status NOT IN ('SCHEDULED', 'IN_PROGRESS');
