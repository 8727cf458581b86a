-- waymark: breaking — rollouts.workflow is renamed rollout_key: older code still queries workflow
-- Rollouts are keyed by workflow and kind, and saved with optimistic concurrency (two evaluators never both step one).
ALTER TABLE rollouts RENAME COLUMN workflow TO rollout_key;
ALTER TABLE rollouts ADD COLUMN revision integer NOT NULL DEFAULT 1;
