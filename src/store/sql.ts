/** SQL both dialects share. */

/** Appended to a `FROM runs` filter: leaves out runs of quarantined versions (they wait for an operator's decision). */
export const NOT_QUARANTINED =
  ' AND NOT EXISTS (SELECT 1 FROM workflow_versions v WHERE ' +
  'v.workflow = ' +
  'runs.workflow AND v.version = ' +
  "runs.version AND v.status = 'quarantined')";

/**
 * Appended to a `FROM runs` filter: leaves out runs that need a target lock they do not hold (no run executes without
 * its lock).
 */
export const HOLDS_ITS_LOCK =
  ' AND (runs.lock_key IS NULL OR EXISTS (SELECT 1 FROM locks l WHERE l.key = runs.lock_key AND l.run_id = runs.id))';
