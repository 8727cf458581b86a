-- waymark: additive
-- A caller's correlation id for a run (e.g. an order number), to find the runs of one business transaction.
ALTER TABLE runs ADD COLUMN correlation_id text;
CREATE INDEX runs_by_correlation ON runs (correlation_id) WHERE correlation_id IS NOT NULL;
