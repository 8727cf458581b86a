-- waymark: additive
-- Schedules (cron or interval rules that start runs) and their slots, each slot claimed once by its primary key.
CREATE TABLE schedules (
  id                 TEXT    PRIMARY KEY,
  workflow           TEXT    NOT NULL,
  version            INTEGER,
  input              TEXT,
  cron               TEXT,
  timezone           TEXT,
  interval_ms        INTEGER,
  start_at           INTEGER,
  end_at             INTEGER,
  jitter_ms          INTEGER NOT NULL,
  overlap            TEXT    NOT NULL,
  catch_up_window_ms INTEGER NOT NULL,
  paused             INTEGER NOT NULL,
  note               TEXT,
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL,
  last_slot_at       INTEGER,
  next_slot_at       INTEGER,
  next_fire_at       INTEGER
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE paused = 0;
CREATE TABLE schedule_slots (
  schedule_id TEXT    NOT NULL,
  slot_at     INTEGER NOT NULL,
  decision    TEXT    NOT NULL,
  origin      TEXT    NOT NULL,
  run_id      TEXT,
  recorded_at INTEGER NOT NULL,
  PRIMARY KEY (schedule_id, slot_at)
);
