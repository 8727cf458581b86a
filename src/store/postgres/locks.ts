import type pg from 'pg';
import type { RunStatus } from '../../core/types.js';
import { lockAfterOperatorChange } from '../commit-rules.js';

/**
 * Target locks on PostgreSQL: one holder per key (the `locks` primary key), handed to the oldest queued run
 * when the holder ends (rule "lock hand-over", commit-rules.ts). Every change to who holds or queues for a key
 * happens under that key's transaction-scoped advisory lock, taken before any run row is locked, so a start, an
 * ending holder and an operator's change of one key never interleave (and never wait on each other in a cycle).
 */

/** Serialises the transaction with every other one changing these keys' holders; keys are taken in sorted order. */
export async function serializeKeys(client: pg.PoolClient, keys: string[]): Promise<void> {
  const sorted = [...new Set(keys)].sort();
  if (sorted.length === 0) return;
  await client.query({
    name: 'wm_lock_keys',
    text: "SELECT COUNT(pg_advisory_xact_lock(hashtext('waymark-lock:' || k))) FROM unnest($1::text[]) AS k",
    values: [sorted],
  });
}

/** serializeKeys for the keys of these runs (those that have one). */
export async function serializeKeysOfRuns(client: pg.PoolClient, runIds: string[]): Promise<void> {
  if (runIds.length === 0) return;
  const { rows } = await client.query<{ key: string }>({
    name: 'wm_lock_keys_of_runs',
    text: 'SELECT DISTINCT lock_key AS key FROM runs WHERE id = ANY($1::text[]) AND lock_key IS NOT NULL',
    values: [runIds],
  });
  await serializeKeys(
    client,
    rows.map((r) => r.key),
  );
}

/** Frees the locks of finished runs and hands each key to the oldest run queued for it (rule "lock hand-over"). */
export async function releaseLocks(client: pg.PoolClient, runIds: string[]): Promise<void> {
  await client.query({
    name: 'wm_release_locks',
    text: `WITH freed AS (DELETE FROM locks WHERE run_id = ANY($1::text[]) RETURNING key),
           next AS (
             SELECT DISTINCT ON (r.lock_key) r.lock_key AS key, r.id
             FROM runs r JOIN freed f ON r.lock_key = f.key
             WHERE r.status = 'waiting' AND r.waiting_for->>'kind' = 'lock'
             ORDER BY r.lock_key, r.created_at, r.id),
           granted AS (INSERT INTO locks (key, run_id, acquired_at) SELECT key, id, now_ms() FROM next RETURNING run_id)
           UPDATE runs SET due_at = now_ms(), waiting_for = NULL, updated_at = now_ms() WHERE id IN (SELECT run_id FROM
             granted)`,
    values: [runIds],
  });
}

/**
 * After operators' changes: takes, grants or queues again for each run's lock, as lockAfterOperatorChange
 * decides. The caller holds the runs' keys (serializeKeysOfRuns).
 */
export async function keepExclusive(client: pg.PoolClient, runIds: string[]): Promise<void> {
  type State = { id: string; key: string; status: RunStatus; queued: boolean; holder: string | null };
  const { rows } = await client.query<State>({
    name: 'wm_lock_state',
    text: `SELECT r.id, r.lock_key AS key, r.status, (r.waiting_for->>'kind' = 'lock') IS TRUE AS queued,
             l.run_id AS holder
           FROM runs r LEFT JOIN locks l ON l.key = r.lock_key
           WHERE r.id = ANY($1::text[]) AND r.lock_key IS NOT NULL`,
    values: [runIds],
  });
  for (const run of rows) {
    const step = lockAfterOperatorChange(run);
    if (step === 'none') continue;
    if (step === 'take' || step === 'take-and-grant') {
      await client.query({
        name: 'wm_lock_take_free',
        text: 'INSERT INTO locks (key, run_id, acquired_at) VALUES ($1, $2, now_ms())',
        values: [run.key, run.id],
      });
    }
    if (step === 'take-and-grant') {
      await client.query({
        name: 'wm_lock_grant',
        text: 'UPDATE runs SET due_at = now_ms(), waiting_for = NULL, updated_at = now_ms() WHERE id = $1',
        values: [run.id],
      });
    }
    if (step !== 'requeue') continue;
    await client.query({
      name: 'wm_lock_requeue',
      text: `UPDATE runs SET status = 'waiting', waiting_for = $2::jsonb, due_at = NULL, updated_at = now_ms() WHERE id
             = $1`,
      values: [run.id, JSON.stringify({ kind: 'lock', name: run.key })],
    });
  }
}
