/** SQLite queries behind the operators' reports (versions, patches). */

/** Non-terminal runs grouped by version, status and where they are parked. */
export const IN_FLIGHT_GROUPS_SQL = `SELECT workflow, version, status,
         CASE status
           WHEN 'waiting'
             THEN json_extract(waiting_for, '$.kind') || COALESCE(':' || json_extract(waiting_for, '$.name'), '')
           WHEN 'needs_attention'
             THEN json_extract(attention, '$.details.reason')
               || COALESCE(':' || json_extract(attention, '$.details.step'), '')
         END AS parkedOn,
         COUNT(*) AS count, MIN(created_at) AS oldestCreatedAt,
         MIN(due_at) AS earliestDueAt, MAX(due_at) AS latestDueAt,
         SUM(CASE WHEN due_at IS NULL THEN 1 ELSE 0 END) AS unscheduled
       FROM runs WHERE status NOT IN ('completed', 'failed', 'cancelled', 'compensated')
       GROUP BY workflow, version, status, parkedOn ORDER BY workflow, version, status, parkedOn`;

/** For each patch id recorded by a workflow's runs: when first seen, and how many in-flight runs have it or not. */
export const PATCH_USAGE_SQL = `WITH marks AS (
         SELECT r.workflow, json_extract(h.data, '$.id') AS patch, MIN(h.at) AS firstSeenAt
         FROM history h JOIN runs r ON r.id = h.run_id WHERE h.type = 'patch_marker' GROUP BY r.workflow, patch),
       inflight AS (SELECT id, workflow, created_at FROM runs
         WHERE status NOT IN ('completed', 'failed', 'cancelled', 'compensated'))
       SELECT m.workflow, m.patch, m.firstSeenAt,
         SUM(CASE WHEN EXISTS (
                    SELECT 1 FROM history h
                    WHERE h.run_id = i.id AND h.type = 'patch_marker' AND json_extract(h.data, '$.id') = m.patch)
             THEN 1 ELSE 0 END) AS patched,
         SUM(CASE WHEN i.id IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM history h
                    WHERE h.run_id = i.id AND h.type = 'patch_marker' AND json_extract(h.data, '$.id') = m.patch)
             THEN 1 ELSE 0 END) AS onOldBranch
       FROM marks m LEFT JOIN inflight i ON i.workflow = m.workflow
       GROUP BY m.workflow, m.patch ORDER BY m.workflow, m.patch`;
