-- waymark: additive
-- A task attempt's overall time limit from its first poll (0: none), next to its response timeout.
ALTER TABLE tasks ADD COLUMN timeout_ms INTEGER NOT NULL DEFAULT 0;
