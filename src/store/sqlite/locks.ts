import type Database from 'better-sqlite3';
import type { RunStatus } from '../../core/types.js';
import { lockAfterOperatorChange } from '../commit-rules.js';

/**
 * Target locks on SQLite: one holder per key for the holder's whole life, handed to the oldest queued run
 * when it ends (rule "lock hand-over", commit-rules.ts). Every method runs inside the caller's write transaction.
 */
export class SqliteLocks {
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      take: db.prepare('INSERT INTO locks (key, run_id, acquired_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING'),
      holder: db.prepare('SELECT run_id FROM locks WHERE key = ?'),
      release: db.prepare('DELETE FROM locks WHERE run_id = ? RETURNING key'),
      nextInQueue: db.prepare(
        `SELECT id FROM runs WHERE lock_key = ? AND status = 'waiting' AND json_extract(waiting_for, '$.kind') =
         'lock' ORDER BY created_at, id LIMIT 1`,
      ),
      lastQueued: db.prepare("SELECT MAX(created_at) AS last FROM runs WHERE lock_key = ? AND status = 'waiting'"),
      grant: db.prepare('UPDATE runs SET due_at = ?, waiting_for = NULL, updated_at = ? WHERE id = ?'),
      state: db.prepare(
        `SELECT r.lock_key, r.status, json_extract(r.waiting_for, '$.kind') AS waiting_kind, l.run_id AS holder
         FROM runs r LEFT JOIN locks l ON l.key = r.lock_key WHERE r.id = ?`,
      ),
      requeue: db.prepare(
        "UPDATE runs SET status = 'waiting', waiting_for = ?, due_at = NULL, updated_at = ? WHERE id = ?",
      ),
    };
  }

  /** Takes `key` for a new run; false when another run holds it. */
  take(key: string, runId: string, now: number): boolean {
    return this.sql.take.run(key, runId, now).changes > 0;
  }

  /**
   * The creation time a run queued for `key` now gets: `now`, or one past the last queued run's when that is not
   * earlier, so runs queued within one millisecond keep their start order (rule "lock hand-over" orders by it).
   */
  queuedAt(key: string, now: number): number {
    const { last } = this.sql.lastQueued.get(key) as { last: number | null };
    return last === null ? now : Math.max(now, last + 1);
  }

  holderOf(key: string): string {
    return (this.sql.holder.get(key) as { run_id: string }).run_id;
  }

  /** Frees the locks a finished run held and hands each to the oldest run queued for it (rule "lock hand-over"). */
  releaseOf(runId: string, now: number): void {
    for (const { key } of this.sql.release.all(runId) as { key: string }[]) {
      const next = this.sql.nextInQueue.get(key) as { id: string } | undefined;
      if (!next) continue;
      this.sql.take.run(key, next.id, now);
      this.sql.grant.run(now, now, next.id);
    }
  }

  /** After an operator's change: takes, grants or queues again for the run's lock (lockAfterOperatorChange). */
  keepExclusive(runId: string, now: number): void {
    type State = { lock_key: string | null; status: RunStatus; waiting_kind: string | null; holder: string | null };
    const run = this.sql.state.get(runId) as State | undefined;
    if (!run?.lock_key) return;
    const step = lockAfterOperatorChange({
      id: runId,
      status: run.status,
      holder: run.holder,
      queued: run.waiting_kind === 'lock',
    });
    if (step === 'take' || step === 'take-and-grant') this.sql.take.run(run.lock_key, runId, now);
    if (step === 'take-and-grant') this.sql.grant.run(now, now, runId);
    if (step === 'requeue') this.sql.requeue.run(JSON.stringify({ kind: 'lock', name: run.lock_key }), now, runId);
  }
}
