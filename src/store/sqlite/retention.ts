import type Database from 'better-sqlite3';

/**
 * Deletes a finished run with its history, signals and tasks, in one transaction. 'in_flight' (nothing
 * deleted) when the run is not finished; 'missing' when there is no such run.
 */
const FINISHED = ['completed', 'failed', 'cancelled', 'compensated'];

/** Deletes at most `limit` runs that finished before `before` (epoch ms), each as removeFinishedRun does; the count. */
export function removeRunsFinishedBefore(db: Database.Database, before: number, limit: number): number {
  const ids = db
    .prepare(`SELECT id FROM runs WHERE status IN (${FINISHED.map(() => '?').join(', ')}) AND updated_at < ? LIMIT ?`)
    .all(...FINISHED, before, limit) as { id: string }[];
  return ids.filter(({ id }) => removeFinishedRun(db, id) === 'removed').length;
}

export function removeFinishedRun(db: Database.Database, runId: string): 'removed' | 'missing' | 'in_flight' {
  return db
    .transaction(() => {
      const row = db.prepare('SELECT status FROM runs WHERE id = ?').get(runId) as { status: string } | undefined;
      if (!row) return 'missing' as const;
      if (!FINISHED.includes(row.status)) return 'in_flight' as const;
      for (const table of ['history', 'signals', 'tasks'])
        db.prepare(`DELETE FROM ${table} WHERE run_id = ?`).run(runId);
      db.prepare('DELETE FROM runs WHERE id = ?').run(runId);
      return 'removed' as const;
    })
    .immediate();
}
