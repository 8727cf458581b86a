-- waymark: additive
-- API keys (each secret kept only as its hash), the secret access tokens are signed with (made once, shared
-- by every process of the store), and the audit trail of the changes authenticated callers made.
CREATE TABLE api_keys (
  key_id      TEXT    PRIMARY KEY,
  name        TEXT    NOT NULL,
  role        TEXT    NOT NULL,
  secret_hash TEXT    NOT NULL,
  created_at  INTEGER NOT NULL,
  revoked_at  INTEGER
);
CREATE TABLE token_secrets (
  name       TEXT    PRIMARY KEY,
  secret     TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE audit_log (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  at     INTEGER NOT NULL,
  actor  TEXT    NOT NULL,
  key_id TEXT    NOT NULL,
  action TEXT    NOT NULL,
  target TEXT    NOT NULL,
  status INTEGER NOT NULL,
  note   TEXT
);
