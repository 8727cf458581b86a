-- waymark: additive
-- New tables only: older code never reads them. The built-in `conductor:` queues (messages kept until acknowledged,
-- claimed for a time, a message id stored once per queue) and Conductor event handlers, stored by name.
CREATE TABLE event_messages (
  queue      text    NOT NULL,
  id         text    NOT NULL,
  payload    text    NOT NULL,
  created_at bigint  NOT NULL,
  visible_at bigint  NOT NULL,
  attempts   integer NOT NULL DEFAULT 0,
  acked_at   bigint,
  seq        bigserial,
  PRIMARY KEY (queue, id)
);
CREATE INDEX event_messages_due ON event_messages (queue, visible_at, seq) WHERE acked_at IS NULL;
CREATE TABLE event_handlers (
  name       text    PRIMARY KEY,
  event      text    NOT NULL,
  active     boolean NOT NULL,
  definition text    NOT NULL,
  created_at bigint  NOT NULL,
  updated_at bigint  NOT NULL
);
