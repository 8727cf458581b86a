-- waymark: additive
-- Every deploy check and plan run through the HTTP API or the CLI, as it was answered, with a summary.
CREATE TABLE deploy_reports (
  id         bigserial PRIMARY KEY,
  kind       text      NOT NULL,
  created_at bigint    NOT NULL,
  source     text      NOT NULL,
  actor      text,
  summary    text      NOT NULL,
  report     text      NOT NULL
);
