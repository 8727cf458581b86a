-- waymark: additive
-- Schedules (cron or interval rules that start runs) and their slots, each slot claimed once by its primary key.
CREATE TABLE schedules (
  id                 text    PRIMARY KEY,
  workflow           text    NOT NULL,
  version            bigint,
  input              text,
  cron               text,
  timezone           text,
  interval_ms        bigint,
  start_at           bigint,
  end_at             bigint,
  jitter_ms          bigint NOT NULL,
  overlap            text    NOT NULL,
  catch_up_window_ms bigint NOT NULL,
  paused             bigint NOT NULL,
  note               text,
  created_at         bigint NOT NULL,
  updated_at         bigint NOT NULL,
  last_slot_at       bigint,
  next_slot_at       bigint,
  next_fire_at       bigint
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE paused = 0;
CREATE TABLE schedule_slots (
  schedule_id text    NOT NULL,
  slot_at     bigint NOT NULL,
  decision    text    NOT NULL,
  origin      text    NOT NULL,
  run_id      text,
  recorded_at bigint NOT NULL,
  PRIMARY KEY (schedule_id, slot_at)
);
