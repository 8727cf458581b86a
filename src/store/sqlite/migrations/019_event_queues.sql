-- waymark: additive
-- New tables only: older code never reads them. The built-in `conductor:` queues (messages kept until acknowledged,
-- claimed for a time, a message id stored once per queue) and Conductor event handlers, stored by name.
CREATE TABLE event_messages (
  queue      TEXT    NOT NULL,
  id         TEXT    NOT NULL,
  payload    TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  visible_at INTEGER NOT NULL,
  attempts   INTEGER NOT NULL DEFAULT 0,
  acked_at   INTEGER,
  seq        INTEGER NOT NULL,
  PRIMARY KEY (queue, id)
);
CREATE INDEX event_messages_due ON event_messages (queue, visible_at, seq) WHERE acked_at IS NULL;
CREATE TABLE event_handlers (
  name       TEXT    PRIMARY KEY,
  event      TEXT    NOT NULL,
  active     INTEGER NOT NULL,
  definition TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
