-- waymark: breaking — history rows gain an epoch: older code reads every epoch of a migrated run as one history
-- Epochs: a migration (later a restart) continues a run in a new epoch of its history; earlier epochs are kept.
ALTER TABLE history ADD COLUMN epoch integer NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN epoch integer NOT NULL DEFAULT 0;
DROP INDEX history_step_outcome;
CREATE UNIQUE INDEX history_step_outcome ON history (run_id, epoch, seq) WHERE type = 'step_completed';
