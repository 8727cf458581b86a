import type pg from 'pg';
import { inTransaction } from './transaction.js';

/**
 * Deletes a finished run with its history, signals and tasks, in one transaction. 'in_flight' (nothing
 * deleted) when the run is not finished; 'missing' when there is no such run.
 */
export function removeFinishedRun(pool: pg.Pool, runId: string): Promise<'removed' | 'missing' | 'in_flight'> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ status: string }>({
      name: 'wm_remove_lock',
      text: 'SELECT status FROM runs WHERE id = $1 FOR UPDATE',
      values: [runId],
    });
    if (!rows[0]) return 'missing';
    if (!['completed', 'failed', 'cancelled', 'compensated'].includes(rows[0].status)) return 'in_flight';
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
