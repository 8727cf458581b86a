-- waymark: additive
-- Routes: how unpinned starts of a workflow split between its current version and a canary candidate.
CREATE TABLE routes (
  workflow   TEXT    PRIMARY KEY,
  current    INTEGER NOT NULL,
  candidate  INTEGER NOT NULL,
  percent    REAL    NOT NULL,
  updated_at INTEGER NOT NULL
);
