-- waymark: additive
-- Rollouts: a progressive move of a workflow's routed starts from one version to another, health-gated.
CREATE TABLE rollouts (
  workflow TEXT PRIMARY KEY,
  state    TEXT NOT NULL  -- the rollout as JSON (see runtime/rollout.ts)
);
