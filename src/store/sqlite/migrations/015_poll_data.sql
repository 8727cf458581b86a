-- waymark: additive
-- When each worker last polled for a task type (in a domain; '' for none), for the task queue views; and indexes
-- for run lists filtered by start time and by needing an operator.
CREATE TABLE poll_data (
  task_type    TEXT    NOT NULL,
  domain       TEXT    NOT NULL,
  worker_id    TEXT    NOT NULL,
  last_poll_at INTEGER NOT NULL,
  PRIMARY KEY (task_type, domain, worker_id)
);
CREATE INDEX runs_by_created ON runs (created_at, id);
CREATE INDEX runs_needing_attention ON runs (created_at) WHERE status = 'needs_attention' OR attention IS NOT NULL;
