import type pg from 'pg';
import { inTransaction } from './transaction.js';

/**
 * Deletes a finished run with its history, signals and tasks, in one transaction. 'in_flight' (nothing
 * deleted) when the run is not finished; 'missing' when there is no such run.
 */
const FINISHED = ['completed', 'failed', 'cancelled', 'compensated'];

/** Deletes at most `limit` runs that finished before `before` (epoch ms), each as removeFinishedRun does; the count. */
export async function removeRunsFinishedBefore(pool: pg.Pool, before: number, limit: number): Promise<number> {
  const { rows } = await pool.query<{ id: string }>({
    name: 'wm_retention_due',
    text: 'SELECT id FROM runs WHERE status = ANY($1) AND updated_at < $2 LIMIT $3',
    values: [FINISHED, before, limit],
  });
  let removed = 0;
  for (const { id } of rows) if ((await removeFinishedRun(pool, id)) === 'removed') removed++;
  return removed;
}

export function removeFinishedRun(pool: pg.Pool, runId: string): Promise<'removed' | 'missing' | 'in_flight'> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ status: string }>({
      name: 'wm_remove_lock',
      text: 'SELECT status FROM runs WHERE id = $1 FOR UPDATE',
      values: [runId],
    });
    if (!rows[0]) return 'missing';
    if (!FINISHED.includes(rows[0].status)) return 'in_flight';
    for (const table of ['history', 'signals', 'tasks'])
      await client.query({
        name: `wm_remove_${table}`,
        text: `DELETE FROM ${table} WHERE run_id = $1`,
        values: [runId],
      });
    await client.query({ name: 'wm_remove_run', text: 'DELETE FROM runs WHERE id = $1', values: [runId] });
    return 'removed';
  });
}
