import type Database from 'better-sqlite3';
import { storableText } from '../../core/text.js';
import { isAtRest, isTerminal } from '../../core/types.js';
import { dueAfterCommit, handsLocksOn, reportsWake, signalsThatWake } from '../commit-rules.js';
import { commitProblem } from '../storable.js';
import type { CommitOutcome, PendingAction, RunCommit } from '../types.js';
import type { SqliteLocks } from './locks.js';
import { toColumn, toOptionalColumn } from './rows.js';
import type { SqliteTasks } from './tasks.js';

/**
 * Group commit on SQLite: one write transaction per batch, each commit fenced by its writer's lease and
 * history position. A commit the store cannot keep is refused alone; if one fails in the database, the
 * batch is applied again commit by commit in savepoints, so the others still commit.
 */
export class SqliteCommits {
  private readonly sql;

  constructor(
    private readonly db: Database.Database,
    private readonly tasks: SqliteTasks,
    private readonly locks: SqliteLocks,
  ) {
    this.sql = {
      leaseOf: db.prepare(
        'SELECT lease_owner, lease_expires_at, next_pos, pending_action, epoch FROM runs WHERE id = ?',
      ),
      insertEvent: db.prepare(
        'INSERT INTO history (run_id, pos, type, seq, name, data, at, epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      consumeSignal: db.prepare(
        'UPDATE signals SET consumed_at = ? WHERE id = ? AND run_id = ? AND consumed_at IS NULL',
      ),
      pendingSignalNamed: db.prepare(
        `SELECT 1 FROM signals WHERE run_id = ? AND consumed_at IS NULL AND name IN (SELECT value FROM json_each(?))
         LIMIT 1`,
      ),
      updateRun: db.prepare(
        `UPDATE runs SET next_pos = @nextPos, updated_at = @now,
           status = COALESCE(@status, status),
           version = COALESCE(@version, version),
           epoch = COALESCE(@epoch, epoch),
           input = CASE WHEN @setInput THEN @input ELSE input END,
           output = CASE WHEN @setOutput THEN @output ELSE output END,
           error = CASE WHEN @setError THEN @error ELSE error END,
           waiting_for = CASE WHEN @setWaitingFor THEN @waitingFor ELSE waiting_for END,
           attention = CASE WHEN @setAttention THEN @attention ELSE attention END,
           due_at = CASE WHEN @setDueAt THEN @dueAt ELSE due_at END,
           lease_owner = CASE WHEN @release THEN NULL ELSE lease_owner END,
           lease_expires_at = CASE WHEN @release THEN NULL ELSE @expires END,
           pending_action = CASE WHEN @clearPending THEN NULL ELSE pending_action END
         WHERE id = @id`,
      ),
    };
  }

  /** Applies a batch in one transaction; one outcome per commit. */
  apply(batch: RunCommit[], leaseMs: number): CommitOutcome[] {
    const now = Date.now();
    const problems = batch.map(commitProblem);
    const checked = (c: RunCommit, i: number): CommitOutcome =>
      problems[i] ? { ok: false, reason: 'invalid_value', message: problems[i] } : this.applyOne(c, now, leaseMs);
    try {
      // Fast path: fencing checks run before any write, so a batch normally needs no savepoints.
      return this.db.transaction(() => batch.map(checked)).immediate();
    } catch (error) {
      if (isOutage(error, this.db)) throw error;
    }
    // The database refused one commit (a step outcome written twice, a value it cannot take): each in its own
    // savepoint.
    const inSavepoint = this.db.transaction(checked);
    return this.db
      .transaction(() =>
        batch.map((c, i): CommitOutcome => {
          try {
            return inSavepoint(c, i);
          } catch (error) {
            if (isOutage(error, this.db)) throw error;
            if (isConstraintError(error)) return { ok: false, reason: 'conflict' };
            return {
              ok: false,
              reason: 'invalid_value',
              message: storableText((error as Error).message ?? String(error)),
            };
          }
        }),
      )
      .immediate();
  }

  private applyOne(c: RunCommit, now: number, leaseMs: number): CommitOutcome {
    type Current = {
      lease_owner: string | null;
      lease_expires_at: number | null;
      next_pos: number;
      pending_action: string | null;
      epoch: number;
    };
    const current = this.sql.leaseOf.get(c.runId) as Current | undefined;
    if (!current) return { ok: false, reason: 'missing' };
    const leaseFree = current.lease_owner === null || (current.lease_expires_at ?? 0) < now;
    if (c.asOperator ? !leaseFree : current.lease_owner !== c.workerId) return { ok: false, reason: 'lease_lost' };
    if (current.next_pos !== c.fromPos) return { ok: false, reason: 'conflict' };
    let pos = c.fromPos;
    const epoch = c.update?.epoch ?? current.epoch;
    for (const e of c.events)
      this.sql.insertEvent.run(
        c.runId,
        pos++,
        e.type,
        e.seq ?? null,
        e.name ?? null,
        toColumn(e.data),
        e.at ?? now,
        epoch,
      );
    for (const id of c.consumedSignals ?? []) this.sql.consumeSignal.run(now, id, c.runId);
    const ends = c.update !== undefined && isTerminal(c.update.status);
    if (c.newTasks || c.consumedTasks || ends)
      this.tasks.applyWithCommit(c.runId, c.newTasks ?? [], c.consumedTasks ?? [], ends, now);
    const pending = c.update?.clearPendingAction ? null : current.pending_action;
    this.sql.updateRun.run(this.updateParams(c, pos, now, leaseMs, current.pending_action !== null));
    if (handsLocksOn(c.update)) this.locks.releaseOf(c.runId, now);
    else if (c.asOperator) this.locks.keepExclusive(c.runId, now);
    return pending ? { ok: true, pendingAction: JSON.parse(pending) as PendingAction } : { ok: true };
  }

  /** Parameters of the one run-row UPDATE: each `set*` flag says whether its column changes. */
  private updateParams(
    c: RunCommit,
    nextPos: number,
    now: number,
    leaseMs: number,
    /** An operator's action was pending on the run before this commit. */
    actionPending: boolean,
  ): Record<string, unknown> {
    const u = c.update;
    const release = Boolean(u?.releaseLease) || (u !== undefined && isAtRest(u.status));
    const signals = signalsThatWake(u);
    const dueAt = dueAfterCommit(
      u,
      {
        actionPending,
        signalWaiting:
          signals !== undefined && this.sql.pendingSignalNamed.get(c.runId, JSON.stringify(signals)) !== undefined,
        taskReported: reportsWake(u) && this.tasks.hasOutcome(c.runId),
      },
      now,
    );
    const flag = (value: unknown) => (value === undefined ? 0 : 1);
    return {
      id: c.runId,
      nextPos,
      now,
      status: u?.status ?? null,
      version: u?.version ?? null,
      epoch: u?.epoch ?? null,
      setInput: flag(u?.input),
      input: toColumn(u?.input),
      setOutput: u?.clearResult ? 1 : flag(u?.output),
      output: toColumn(u?.output),
      setError: u?.clearResult ? 1 : flag(u?.error),
      error: toOptionalColumn(u?.error),
      setWaitingFor: flag(u?.waitingFor),
      waitingFor: toOptionalColumn(u?.waitingFor),
      setAttention: flag(u?.attention),
      attention: toOptionalColumn(u?.attention),
      setDueAt: flag(dueAt),
      dueAt: dueAt ?? null,
      release: release ? 1 : 0,
      expires: now + leaseMs,
      clearPending: u?.clearPendingAction ? 1 : 0,
    };
  }
}

export function isConstraintError(error: unknown): boolean {
  return (error as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT') === true;
}

/**
 * SQLite result codes that mean the database, not one item, is failing: the whole batch fails (and is retried by its
 * writers).
 */
const OUTAGE_CODES = [
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_IOERR',
  'SQLITE_FULL',
  'SQLITE_READONLY',
  'SQLITE_CANTOPEN',
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
  'SQLITE_NOMEM',
  'SQLITE_INTERRUPT',
  'SQLITE_PROTOCOL',
  'SQLITE_PERM',
  'SQLITE_AUTH',
];

/** True when the store as a whole is failing (busy, I/O, full, `db` closed), not one item of the batch. */
export function isOutage(error: unknown, db: Database.Database): boolean {
  const code = (error as { code?: string }).code ?? '';
  return OUTAGE_CODES.some((prefix) => code.startsWith(prefix)) || !db.open;
}
