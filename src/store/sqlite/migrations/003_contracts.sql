-- waymark: additive
-- Step contracts: run lifetimes, operator actions waiting for an executing run, and target locks.
ALTER TABLE runs ADD COLUMN expires_at INTEGER;
ALTER TABLE runs ADD COLUMN lock_key TEXT;
ALTER TABLE runs ADD COLUMN pending_action TEXT;
CREATE INDEX runs_lock_queue ON runs (lock_key, created_at) WHERE status = 'waiting' AND lock_key IS NOT NULL;

-- One holder per target key, for the holder run's whole life.
CREATE TABLE locks (
  key         TEXT    PRIMARY KEY,
  run_id      TEXT    NOT NULL,
  acquired_at INTEGER NOT NULL
);
CREATE INDEX locks_by_run ON locks (run_id);

-- Compensating runs are executed (and claimed when due) like running and waiting ones.
DROP INDEX runs_due;
CREATE INDEX runs_due ON runs (due_at) WHERE status IN ('running', 'waiting', 'compensating');
