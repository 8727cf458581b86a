-- waymark: additive
-- Live workers and the versions they serve, so runs no worker serves can be reported stranded.
CREATE TABLE workers (
  worker_id    TEXT    PRIMARY KEY,
  served       TEXT    NOT NULL,
  started_at   INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL  -- alive until then unless it beats again
);
