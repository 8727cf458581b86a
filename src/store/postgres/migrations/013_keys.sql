-- waymark: additive
-- API keys (each secret kept only as its hash), the secret access tokens are signed with (made once, shared
-- by every process of the store), and the audit trail of the changes authenticated callers made.
CREATE TABLE api_keys (
  key_id      text   PRIMARY KEY,
  name        text   NOT NULL,
  role        text   NOT NULL,
  secret_hash text   NOT NULL,
  created_at  bigint NOT NULL,
  revoked_at  bigint
);
CREATE TABLE token_secrets (
  name       text   PRIMARY KEY,
  secret     text   NOT NULL,
  created_at bigint NOT NULL
);
CREATE TABLE audit_log (
  id     bigserial PRIMARY KEY,
  at     bigint    NOT NULL,
  actor  text      NOT NULL,
  key_id text      NOT NULL,
  action text      NOT NULL,
  target text      NOT NULL,
  status integer   NOT NULL,
  note   text
);
