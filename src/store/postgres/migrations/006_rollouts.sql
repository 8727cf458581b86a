-- waymark: additive
-- Rollouts: a progressive move of a workflow's routed starts from one version to another, health-gated.
CREATE TABLE rollouts (
  workflow text  PRIMARY KEY,
  state    jsonb NOT NULL  -- the rollout as JSON (see runtime/rollout.ts)
);
