import type pg from 'pg';
import { isTerminal } from '../../core/types.js';
import type { CommitOutcome, PendingAction, RunCommit } from '../types.js';
import { merge, runUpdateSql, runUpdateValues } from './commit.js';

/** The single statement: fence and update the runs, then write the accepted runs' events and consumed signals. */
const FAST_COMMIT_SQL = `WITH fenced AS (
  ${runUpdateSql({
    from: ',\n             unnest($22::text[], $23::text[], $24::int[]) AS f(id, worker, from_pos)',
    where: ' AND f.id = u.id AND r.lease_owner = f.worker AND r.next_pos = f.from_pos',
    returning: '\n           RETURNING r.id, r.epoch, r.pending_action',
  })}),
events AS (
  INSERT INTO history (run_id, pos, type, seq, name, data, at, epoch)
  SELECT e.r, e.p, e.t, e.s, e.n, e.d, COALESCE(e.a, now_ms()), fenced.epoch
  FROM unnest($25::text[], $26::int[], $27::text[], $28::int[], $29::text[], $30::text[], $31::bigint[])
    AS e(r, p, t, s, n, d, a)
  JOIN fenced ON fenced.id = e.r
  RETURNING 1),
consumed AS (
  UPDATE signals s SET consumed_at = now_ms()
  FROM fenced WHERE s.run_id = fenced.id AND s.id = ANY($19::bigint[]) AND s.consumed_at IS NULL
  RETURNING 1)
SELECT id, pending_action, (SELECT COUNT(*) FROM events) AS events, (SELECT COUNT(*) FROM consumed) AS consumed
  FROM fenced`;

/**
 * The hot path of group commit on PostgreSQL: one statement, one round trip, its own transaction. It
 * takes batches of workers' step checkpoints and suspensions on timers, and returns undefined for any
 * other batch (see needsFullPath), which the full path applies.
 */
export async function applyFastCommits(
  pool: pg.Pool,
  batch: RunCommit[],
  leaseMs: number,
): Promise<CommitOutcome[] | undefined> {
  if (batch.some(needsFullPath)) return undefined;
  const first = new Map<string, RunCommit>();
  for (const c of batch) {
    const earlier = first.get(c.runId);
    if (!earlier) first.set(c.runId, c);
    else if (earlier.workerId !== c.workerId) return undefined;
  }
  const merged = merge(batch);
  const events = {
    run: [] as string[],
    pos: [] as number[],
    type: [] as string[],
    seq: [] as (number | null)[],
    name: [] as (string | null)[],
    data: [] as (string | null)[],
    at: [] as (number | null)[],
  };
  for (const c of batch) {
    let pos = c.fromPos;
    for (const e of c.events) {
      events.run.push(c.runId);
      events.pos.push(pos++);
      events.type.push(e.type);
      events.seq.push(e.seq ?? null);
      events.name.push(e.name ?? null);
      events.data.push(e.data === undefined ? null : JSON.stringify(e.data));
      events.at.push(e.at ?? null);
    }
  }
  const consumed = batch.flatMap((c) => c.consumedSignals ?? []);
  const runs = [...first.values()];
  const { rows } = await pool.query<{ id: string; pending_action: PendingAction | null }>({
    name: 'wm_fast_commit',
    text: FAST_COMMIT_SQL,
    values: [
      ...runUpdateValues(merged, leaseMs, consumed),
      runs.map((c) => c.runId),
      runs.map((c) => c.workerId),
      runs.map((c) => c.fromPos),
      events.run,
      events.pos,
      events.type,
      events.seq,
      events.name,
      events.data,
      events.at,
    ],
  });
  const accepted = new Map(rows.map((r) => [r.id, r.pending_action]));
  const refused = runs.filter((c) => !accepted.has(c.runId)).map((c) => c.runId);
  const reasons = refused.length ? await refusalReasons(pool, refused, batch) : new Map<string, CommitOutcome>();
  return batch.map((c) => {
    if (!accepted.has(c.runId)) return reasons.get(c.runId)!;
    const pending = c.update?.clearPendingAction ? null : accepted.get(c.runId);
    return pending ? { ok: true, pendingAction: pending } : { ok: true };
  });
}

/**
 * Operator commits and commits that end a run take the full path, and so do suspensions on a signal: one
 * statement reads the signals table at its start, so a signal committed while it waited for the run's row
 * would not wake the run; the full path locks the row first and reads the signals after.
 */
function needsFullPath(c: RunCommit): boolean {
  const u = c.update;
  const tasks = Boolean(c.newTasks?.length || c.consumedTasks?.length || u?.waitingFor?.tasks?.length);
  return Boolean(
    c.asOperator || tasks || (u && isTerminal(u.status)) || (u?.status === 'waiting' && u.waitingFor?.signals?.length),
  );
}

/** Why runs were not accepted: gone, leased by someone else, or their history moved on. */
async function refusalReasons(
  pool: pg.Pool,
  runIds: string[],
  batch: RunCommit[],
): Promise<Map<string, CommitOutcome>> {
  const { rows } = await pool.query<{ id: string; lease_owner: string | null; next_pos: number }>({
    name: 'wm_fast_commit_refusals',
    text: 'SELECT id, lease_owner, next_pos FROM runs WHERE id = ANY($1::text[])',
    values: [runIds],
  });
  const found = new Map(rows.map((r) => [r.id, r]));
  const reasons = new Map<string, CommitOutcome>();
  for (const id of runIds) {
    const row = found.get(id);
    const worker = batch.find((c) => c.runId === id)!.workerId;
    reasons.set(
      id,
      !row
        ? { ok: false, reason: 'missing' }
        : row.lease_owner !== worker
          ? { ok: false, reason: 'lease_lost' }
          : { ok: false, reason: 'conflict' },
    );
  }
  return reasons;
}
