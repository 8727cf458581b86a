/** SQL both dialects share. */

/** Appended to a `FROM runs` filter: leaves out runs of quarantined versions (they wait for an operator's decision). */
export const NOT_QUARANTINED =
  " AND NOT EXISTS (SELECT 1 FROM workflow_versions v WHERE v.workflow = runs.workflow AND v.version = runs.version AND v.status = 'quarantined')";
