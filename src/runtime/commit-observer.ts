import type { Run } from '../core/types.js';
import type { CommitOutcome, RunCommit, RunUpdate, Store } from '../store/types.js';
import type { Warn } from './periodic.js';
import type { RunOutcome, Telemetry } from './telemetry.js';

/** What a committed run update means to metrics: an end, a park, or (undefined) neither. */
export function outcomeOf(update: RunUpdate | undefined): RunOutcome | undefined {
  switch (update?.status) {
    case 'completed':
    case 'failed':
    case 'cancelled':
    case 'compensated':
      return update.status;
    case 'needs_attention':
      return 'parked';
    default:
      return undefined;
  }
}

/**
 * Counts the runs the committed checkpoints of a batch ended or parked (with their duration since creation), and
 * logs each park once, with the facts an operator needs. `runOf` finds the run a checkpoint belongs to.
 */
export function observeCommits(
  batch: RunCommit[],
  outcomes: CommitOutcome[],
  runOf: (runId: string) => Run | undefined,
  telemetry: Telemetry,
  warn: Warn,
): void {
  for (let i = 0; i < batch.length; i++) {
    const commit = batch[i]!;
    const outcome = outcomeOf(commit.update);
    if (outcome === undefined || !outcomes[i]!.ok) continue;
    const run = runOf(commit.runId);
    if (!run) continue;
    telemetry.runFinished(run.workflow, run.version, outcome, (Date.now() - run.createdAt.getTime()) / 1000);
    if (outcome === 'parked') logParked(run, commit.update!, warn);
  }
}

/** One line per parked run: which, why, and what an operator reads first. */
export function logParked(run: Pick<Run, 'id' | 'workflow' | 'version'>, update: RunUpdate, warn: Warn): void {
  const attention = update.attention ?? undefined;
  const reason = (attention?.details as { reason?: unknown } | undefined)?.reason;
  warn(`run parked for an operator: ${attention?.message ?? 'no reason recorded'}`, {
    event: 'run_parked',
    runId: run.id,
    workflow: run.workflow,
    version: run.version,
    reason: typeof reason === 'string' ? reason : null,
  });
}

/**
 * One group commit, timed for metrics and (with tracing on) traced, linked to the executions whose checkpoints it
 * carries (`traceparentOf` a run id).
 */
export async function timedCommit(
  store: Store,
  batch: RunCommit[],
  leaseMs: number,
  telemetry: Telemetry,
  traceparentOf: (runId: string) => string | undefined,
): Promise<CommitOutcome[]> {
  const span = telemetry.tracing
    ? telemetry.startSpan('waymark.store.commit', {
        kind: 'client',
        links: batch.flatMap((c) => traceparentOf(c.runId) ?? []),
        attributes: { 'db.system': store.dialect === 'postgres' ? 'postgresql' : 'sqlite', 'batch.size': batch.length },
      })
    : undefined;
  const began = performance.now();
  try {
    const outcomes = await store.commit(batch, leaseMs);
    telemetry.commitBatch(batch.length, (performance.now() - began) / 1000);
    span?.end();
    return outcomes;
  } catch (error) {
    span?.end(String(error));
    throw error;
  }
}
