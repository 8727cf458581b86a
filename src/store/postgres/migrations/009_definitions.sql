-- waymark: additive
-- Declarative versions keep their graph (JSON) so every engine can serve them; task definitions give
-- task types their retry and timeout settings.
ALTER TABLE workflow_versions ADD COLUMN source jsonb;
CREATE TABLE task_definitions (
  name       text   PRIMARY KEY,
  definition jsonb  NOT NULL,
  updated_at bigint NOT NULL
);
