-- waymark: additive
-- Every deploy check and plan run through the HTTP API or the CLI, as it was answered, with a summary.
CREATE TABLE deploy_reports (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  kind       TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  source     TEXT    NOT NULL,
  actor      TEXT,
  summary    TEXT    NOT NULL,
  report     TEXT    NOT NULL
);
