-- waymark: additive
-- Version lifecycle: active versions take routed starts; draining ones finish their runs; retired ones are done.
ALTER TABLE workflow_versions ADD COLUMN status text NOT NULL DEFAULT 'active';
