-- waymark: additive
-- Older code ignores the new columns (and hands every task to every poller).
-- A run's start options (priority 0-99, task-to-domain map, idempotency key and strategy), kept with the run; each
-- task carries its run's priority and its domain, so polls of a domain get only its tasks, higher priorities first.
ALTER TABLE runs ADD COLUMN start_options TEXT;
ALTER TABLE tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN domain TEXT;
CREATE INDEX tasks_queue_by_priority ON tasks (task_type, domain, priority DESC, visible_at) WHERE status = 'SCHEDULED';
