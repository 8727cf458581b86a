-- waymark: additive
-- Declarative versions keep their graph (JSON) so every engine can serve them; task definitions give
-- task types their retry and timeout settings.
ALTER TABLE workflow_versions ADD COLUMN source TEXT;
CREATE TABLE task_definitions (
  name       TEXT    PRIMARY KEY,
  definition TEXT    NOT NULL,
  updated_at INTEGER NOT NULL
);
