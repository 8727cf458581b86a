import { WaymarkError } from '../core/errors.js';
import type { RunParkedData } from '../core/types.js';
import { storableText } from '../core/text.js';
import type { CommitOutcome, RunCommit, Store } from '../store/types.js';
import type { ExecutorHost, ReleaseHow } from './host.js';
import { attentionFor } from './waits.js';

/**
 * The commit a worker writes in place of a checkpoint the store refused for a value it cannot keep (the
 * rest of its batch committed): the run is parked `needs_attention` ('invalid_value') with the facts, what
 * was refused and why, and its lease is given up. An operator can resume it once its code is fixed
 * (it replays from its last checkpoint) or cancel it.
 */
export function parkingCommit(refused: RunCommit, why: string): RunCommit {
  const events = refused.events.map((e) => ({
    type: e.type,
    ...(e.seq === undefined ? {} : { seq: e.seq }),
    ...(e.name === undefined ? {} : { name: storableText(e.name) }),
  }));
  const step = refused.events.find((e) => e.seq !== undefined && e.name !== undefined && e.type.startsWith('step_'));
  const details: RunParkedData = {
    reason: 'invalid_value',
    error: { name: 'WaymarkError', code: 'E_NOT_SERIALIZABLE', message: storableText(why) },
    refused: events,
  };
  if (step) Object.assign(details, { step: storableText(step.name!), seq: step.seq! });
  const message = `a checkpoint of run '${storableText(refused.runId)}' could not be stored: ${storableText(why)}`;
  return {
    runId: refused.runId,
    workerId: refused.workerId,
    fromPos: refused.fromPos,
    events: [{ type: 'run_parked', data: details }],
    update: {
      status: 'needs_attention',
      attention: attentionFor('invalid_value', message, details),
      waitingFor: null,
      releaseLease: true,
    },
  };
}

/** An operator's commit the store refused for a value it cannot keep is bad input: E_INVALID_INPUT, nothing changed. */
export function assertStorable(outcome: CommitOutcome, what: string): void {
  if (!outcome.ok && outcome.reason === 'invalid_value')
    throw new WaymarkError('E_INVALID_INPUT', `${what} cannot be stored (nothing was changed): ${outcome.message}`);
}

/**
 * Parks the runs whose workers' checkpoints in `batch` the store refused as invalid values (each once,
 * at the first refused checkpoint): returns the parking commits written, and the runs it could not park
 * (they are released by their executor and tried again).
 */
export async function parkRefused(
  store: Store,
  batch: RunCommit[],
  outcomes: CommitOutcome[],
  leaseMs: number,
): Promise<{ parked: RunCommit[]; failed: string[] }> {
  const parks = new Map<string, RunCommit>();
  batch.forEach((commit, i) => {
    const outcome = outcomes[i]!;
    if (outcome.ok || outcome.reason !== 'invalid_value' || commit.asOperator || parks.has(commit.runId)) return;
    parks.set(commit.runId, parkingCommit(commit, outcome.message));
  });
  if (parks.size === 0) return { parked: [], failed: [] };
  const commits = [...parks.values()];
  const results = await store.commit(commits, leaseMs);
  return {
    parked: commits.filter((_, i) => results[i]!.ok),
    failed: commits.filter((_, i) => !results[i]!.ok).map((c) => c.runId),
  };
}

/**
 * Says why an execution whose checkpoint was not committed stops (no outcome: the commit failed) and how its run
 * is released: lost to another worker, parked for a value the store cannot keep, or abandoned to replay later.
 */
export function abandonedExecution(host: ExecutorHost, runId: string, outcome: CommitOutcome | undefined): ReleaseHow {
  if (outcome?.ok === false && outcome.reason === 'lease_lost') {
    host.warn(
      "run checkpoint refused: this worker no longer holds the run's lease (it expired, or another worker took the " +
        'run); this execution stops',
      { runId },
    );
    return 'lost';
  }
  if (outcome?.ok === false && outcome.reason === 'invalid_value') {
    // The engine parked the run with the facts (the rest of the batch committed); an operator resumes it.
    host.warn('run checkpoint refused: it holds a value the store cannot keep; the run is parked for an operator', {
      runId,
      error: outcome.message,
    });
    return 'parked';
  }
  if (outcome && !outcome.ok)
    host.warn('run checkpoint refused; the run resumes from its last checkpoint', { runId, reason: outcome.reason });
  return 'abandoned';
}
