-- waymark: additive
-- Routes: how unpinned starts of a workflow split between its current version and a canary candidate.
CREATE TABLE routes (
  workflow   text             PRIMARY KEY,
  current    integer          NOT NULL,
  candidate  integer          NOT NULL,
  percent    double precision NOT NULL,
  updated_at bigint           NOT NULL
);
