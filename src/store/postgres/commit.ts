import type pg from 'pg';
import { isAtRest, isTerminal, type RunStatus } from '../../core/types.js';
import type { CommitOutcome, PendingAction, RunCommit } from '../types.js';
import { storableText } from '../../core/text.js';
import { handsLocksOn, reportsWake, signalsThatWake } from '../commit-rules.js';
import { commitProblem } from '../storable.js';
import { isDataError, isTransientClash, isUniqueViolation } from './errors.js';
import { applyFastCommits } from './fast-commit.js';
import { keepExclusive, releaseLocks, serializeKeysOfRuns } from './locks.js';
import { applyTaskWrites } from './tasks.js';
import { inTransaction } from './transaction.js';

/** A run's row change after all of its commits in one batch, merged in order. */
export interface MergedUpdate {
  runId: string;
  nextPos: number;
  status: string | null;
  version: number | null;
  epoch: number | null;
  input?: string;
  output?: string | null;
  error?: string | null;
  waitingFor?: string | null;
  attention?: string | null;
  dueAt?: number | null;
  /** Signal names whose pending arrival makes a suspending run due at once (signalsThatWake). */
  wakeSignals: string | null;
  release: boolean;
  ends: boolean;
  clearPending: boolean;
}

/**
 * Group commit on PostgreSQL. Workers' checkpoints go through the one-statement fast path; batches that
 * end runs or hold operator commits lock their runs in id order, are fenced by lease owner and history
 * position, and are written with one multi-row statement per table. A commit the store cannot keep
 * (storable.ts) is refused before anything is sent; one the server refuses (a step outcome committed twice,
 * a value out of range) aborts the batch, which is then applied commit by commit in savepoints, so it
 * alone is refused and the others commit.
 */
export async function applyCommits(pool: pg.Pool, batch: RunCommit[], leaseMs: number): Promise<CommitOutcome[]> {
  const problems = batch.map(commitProblem);
  const valid = batch.filter((_, i) => problems[i] === undefined);
  const outcomes = valid.length > 0 ? await applyChecked(pool, valid, leaseMs) : [];
  let next = 0;
  return batch.map(
    (_, i): CommitOutcome =>
      problems[i] === undefined ? outcomes[next++]! : { ok: false, reason: 'invalid_value', message: problems[i]! },
  );
}

/** Attempts at a batch that met a deadlock or serialization failure (it is tried again whole). (Default: 3) */
const CLASH_ATTEMPTS = 3;

async function applyChecked(pool: pg.Pool, batch: RunCommit[], leaseMs: number): Promise<CommitOutcome[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (
        (await applyFastCommits(pool, batch, leaseMs)) ??
        (await inTransaction(pool, (client) => applyBatch(client, batch, leaseMs)))
      );
    } catch (error) {
      if (isDataError(error)) break;
      if (!isTransientClash(error) || attempt >= CLASH_ATTEMPTS) throw error;
    }
  }
  return inTransaction(pool, async (client) => {
    await serializeKeysOfRuns(client, changingKeys(batch)); // all keys first, in order, as applyBatch does
    const outcomes: CommitOutcome[] = [];
    for (const commit of batch) {
      await client.query('SAVEPOINT wm_commit');
      try {
        const [outcome] = await applyBatch(client, [commit], leaseMs);
        outcomes.push(outcome!);
        await client.query('RELEASE SAVEPOINT wm_commit');
      } catch (error) {
        if (!isDataError(error)) throw error;
        await client.query('ROLLBACK TO SAVEPOINT wm_commit');
        outcomes.push(
          isUniqueViolation(error)
            ? { ok: false, reason: 'conflict' }
            : { ok: false, reason: 'invalid_value', message: storableText((error as Error).message) },
        );
      }
    }
    return outcomes;
  });
}

/**
 * Runs whose commits may change who holds their lock key: ending a run hands its lock on, an operator's change may make
 * a run executable.
 */
function changingKeys(batch: RunCommit[]): string[] {
  return [...new Set(batch.filter((c) => c.asOperator || handsLocksOn(c.update)).map((c) => c.runId))];
}

async function applyBatch(client: pg.PoolClient, batch: RunCommit[], leaseMs: number): Promise<CommitOutcome[]> {
  const ids = [...new Set(batch.map((c) => c.runId))].sort();
  await serializeKeysOfRuns(client, changingKeys(batch));
  type Locked = {
    id: string;
    lease_owner: string | null;
    lease_free: boolean;
    next_pos: number;
    pending_action: PendingAction | null;
    epoch: number;
  };
  const locked = await client.query<Locked>({
    name: 'wm_commit_lock',
    text: `SELECT id, lease_owner, (lease_owner IS NULL OR lease_expires_at < now_ms()) AS lease_free, next_pos,
      pending_action, epoch
           FROM runs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
    values: [ids],
  });
  const state = new Map(
    locked.rows.map((r) => [
      r.id,
      { owner: r.lease_owner, free: r.lease_free, nextPos: r.next_pos, pending: r.pending_action, epoch: r.epoch },
    ]),
  );
  const outcomes: CommitOutcome[] = [];
  const accepted: RunCommit[] = [];
  const epochs = new Map<RunCommit, number>();
  for (const commit of batch) {
    const run = state.get(commit.runId);
    if (!run) outcomes.push({ ok: false, reason: 'missing' });
    else if (commit.asOperator ? !run.free : run.owner !== commit.workerId)
      outcomes.push({ ok: false, reason: 'lease_lost' });
    else if (run.nextPos !== commit.fromPos) outcomes.push({ ok: false, reason: 'conflict' });
    else {
      const u = commit.update;
      if (u?.clearPendingAction) run.pending = null;
      outcomes.push(run.pending ? { ok: true, pendingAction: run.pending } : { ok: true });
      accepted.push(commit);
      run.nextPos += commit.events.length;
      if (u?.epoch !== undefined) run.epoch = u.epoch;
      epochs.set(commit, run.epoch);
      if (u && (u.releaseLease || isAtRest(u.status))) {
        run.owner = null;
        run.free = true;
      }
    }
  }
  if (accepted.length === 0) return outcomes;
  await insertEvents(client, accepted, epochs);
  const consumed = accepted.flatMap((c) => c.consumedSignals ?? []);
  if (consumed.length > 0) {
    await client.query({
      name: 'wm_commit_consume',
      text: 'UPDATE signals SET consumed_at = now_ms() WHERE id = ANY($1::bigint[]) AND consumed_at IS NULL',
      values: [consumed],
    });
  }
  const merged = merge(accepted);
  await updateRuns(client, merged, leaseMs, consumed);
  const ended = merged.filter((m) => m.status !== null && isTerminal(m.status as RunStatus)).map((m) => m.runId);
  if (ended.length > 0) await releaseLocks(client, ended); // rule "lock hand-over" (commit-rules.ts)
  const operated = accepted.filter((c) => c.asOperator).map((c) => c.runId);
  // the ended ones are left alone: they execute nothing more
  if (operated.length > 0) await keepExclusive(client, operated);
  const onTasks = accepted.filter((c) => reportsWake(c.update)).map((c) => c.runId);
  if (ended.length || onTasks.length || accepted.some((c) => c.newTasks || c.consumedTasks))
    await applyTaskWrites(client, accepted, ended, onTasks);
  return outcomes;
}

async function insertEvents(
  client: pg.PoolClient,
  commits: RunCommit[],
  epochs: Map<RunCommit, number>,
): Promise<void> {
  const cols = {
    run: [] as string[],
    pos: [] as number[],
    type: [] as string[],
    seq: [] as (number | null)[],
    name: [] as (string | null)[],
    data: [] as (string | null)[],
    at: [] as (number | null)[],
    epoch: [] as number[],
  };
  for (const c of commits) {
    let pos = c.fromPos;
    for (const e of c.events) {
      cols.epoch.push(epochs.get(c)!);
      cols.run.push(c.runId);
      cols.pos.push(pos++);
      cols.type.push(e.type);
      cols.seq.push(e.seq ?? null);
      cols.name.push(e.name ?? null);
      cols.data.push(e.data === undefined ? null : JSON.stringify(e.data));
      cols.at.push(e.at ?? null);
    }
  }
  if (cols.run.length === 0) return;
  await client.query({
    name: 'wm_commit_events',
    text: `INSERT INTO history (run_id, pos, type, seq, name, data, at, epoch)
           SELECT r, p, t, s, n, d, COALESCE(a, now_ms()), ep
           FROM unnest($1::text[], $2::int[], $3::text[], $4::int[], $5::text[], $6::text[], $7::bigint[], $8::int[])
             AS e(r, p, t, s, n, d, a, ep)`,
    values: [cols.run, cols.pos, cols.type, cols.seq, cols.name, cols.data, cols.at, cols.epoch],
  });
}

export function merge(commits: RunCommit[]): MergedUpdate[] {
  const byRun = new Map<string, MergedUpdate>();
  for (const c of commits) {
    const m = byRun.get(c.runId) ?? {
      runId: c.runId,
      nextPos: c.fromPos,
      status: null,
      version: null,
      epoch: null,
      wakeSignals: null,
      release: false,
      ends: false,
      clearPending: false,
    };
    m.nextPos = c.fromPos + c.events.length;
    const u = c.update;
    if (u) {
      m.status = u.status;
      if (u.version !== undefined) m.version = u.version;
      if (u.epoch !== undefined) m.epoch = u.epoch;
      if (u.input !== undefined) m.input = JSON.stringify(u.input);
      const ends = isAtRest(u.status);
      m.clearPending = m.clearPending || Boolean(u.clearPendingAction);
      if (u.clearResult) {
        m.output = null;
        m.error = null;
      }
      if (u.output !== undefined) m.output = JSON.stringify(u.output);
      if (u.error !== undefined) m.error = u.error === null ? null : JSON.stringify(u.error);
      if (u.waitingFor !== undefined) m.waitingFor = u.waitingFor === null ? null : JSON.stringify(u.waitingFor);
      if (u.attention !== undefined) m.attention = u.attention === null ? null : JSON.stringify(u.attention);
      if (u.dueAt !== undefined) m.dueAt = u.dueAt;
      const wake = signalsThatWake(u);
      m.wakeSignals = wake ? JSON.stringify(wake) : null;
      m.release = m.release || Boolean(u.releaseLease) || ends;
      m.ends = ends;
      if (ends) m.dueAt = null;
    }
    byRun.set(c.runId, m);
  }
  return [...byRun.values()];
}

/**
 * The run-row UPDATE of a batch, its rows given as parameters $1..$19 (`u`); `fence` adds conditions and a
 * RETURNING. Its due_at is rule "due after a commit" (dueAfterCommit in commit-rules.ts), in SQL.
 */
export function runUpdateSql(fence = { from: '', where: '', returning: '' }): string {
  return `UPDATE runs r SET
             next_pos = u.next_pos,
             updated_at = now_ms(),
             status = COALESCE(u.status, r.status),
             version = COALESCE(u.version, r.version),
             epoch = COALESCE(u.epoch, r.epoch),
             input = COALESCE(u.input, r.input),
             output = CASE WHEN u.set_output THEN u.output ELSE r.output END,
             error = CASE WHEN u.set_error THEN u.error::jsonb ELSE r.error END,
             waiting_for = CASE WHEN u.set_waiting THEN u.waiting::jsonb ELSE r.waiting_for END,
             attention = CASE WHEN u.set_attention THEN u.attention::jsonb ELSE r.attention END,
             due_at = CASE
               -- dueAfterCommit rule 3: a signal it waits for is in its inbox (rule 1: wake is null at rest)
               WHEN u.wake IS NOT NULL AND EXISTS (
                 SELECT 1 FROM signals s
                 WHERE s.run_id = r.id AND s.consumed_at IS NULL AND s.name IN (SELECT
                   jsonb_array_elements_text(u.wake::jsonb))
                   AND NOT (s.id = ANY($19::bigint[])))
                 THEN now_ms()
               -- dueAfterCommit rule 2 (leavesActionToNextClaim): an action pending as the run gives up its lease
               WHEN u.release AND u.status IN ('waiting', 'running', 'compensating') AND r.pending_action IS NOT NULL
                 AND NOT u.clear_pending THEN now_ms()
               -- rules 1 and 4: merge set due_at null for a run at rest
               WHEN u.set_due THEN u.due_at
               ELSE r.due_at END,
             lease_owner = CASE WHEN u.release THEN NULL ELSE r.lease_owner END,
             lease_expires_at = CASE WHEN u.release THEN NULL ELSE now_ms() + $16 END,
             pending_action = CASE WHEN u.clear_pending THEN NULL ELSE r.pending_action END
           FROM unnest($1::text[], $2::int[], $3::text[], $4::bool[], $5::text[], $6::bool[], $7::text[], $8::bool[],
             $9::text[],
                       $10::bool[], $11::text[], $12::bool[], $13::bigint[], $14::text[], $15::bool[], $17::bool[],
                         $18::int[], $20::int[], $21::text[])
             AS u(id, next_pos, status, set_output, output, set_error, error, set_waiting, waiting, set_attention,
               attention,
                  set_due, due_at, wake, release, clear_pending, version, epoch, input)${fence.from}
           WHERE r.id = u.id${fence.where}${fence.returning}`;
}

/** Parameters $1..$21 of runUpdateSql ($19: signals consumed by the batch, which no longer wake anyone). */
export function runUpdateValues(updates: MergedUpdate[], leaseMs: number, consumed: number[]): unknown[] {
  const col = <T>(pick: (u: MergedUpdate) => T) => updates.map(pick);
  const has = (key: keyof MergedUpdate) => col((u) => u[key] !== undefined);
  return [
    col((u) => u.runId),
    col((u) => u.nextPos),
    col((u) => u.status),
    has('output'),
    col((u) => u.output ?? null),
    has('error'),
    col((u) => u.error ?? null),
    has('waitingFor'),
    col((u) => u.waitingFor ?? null),
    has('attention'),
    col((u) => u.attention ?? null),
    has('dueAt'),
    col((u) => u.dueAt ?? null),
    col((u) => u.wakeSignals),
    col((u) => u.release),
    leaseMs,
    col((u) => u.clearPending),
    col((u) => u.version),
    consumed,
    col((u) => u.epoch),
    col((u) => u.input ?? null),
  ];
}

async function updateRuns(
  client: pg.PoolClient,
  updates: MergedUpdate[],
  leaseMs: number,
  consumed: number[],
): Promise<void> {
  await client.query({
    name: 'wm_commit_runs',
    text: runUpdateSql(),
    values: runUpdateValues(updates, leaseMs, consumed),
  });
}
