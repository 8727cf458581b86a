import { resolveRetryPolicy, retryDelayMs } from '../core/backoff.js';
import { parseDuration } from '../core/duration.js';
import type { CompensationState } from '../core/replay.js';
import type { ErrorInfo, Json, NewEvent, RunParkedData, RunStatus, WaitInfo } from '../core/types.js';
import type { RunUpdate } from '../store/types.js';
import { runAttempt } from './attempt.js';
import type { StepOptions } from './workflow.js';

/** A step whose outcome the run has committed, with the options its call gave (compensate included). */
export interface CompletedStep {
  seq: number;
  name: string;
  output: Json | undefined;
  options: StepOptions;
  /** Position of its completion in the history: compensation runs in reverse of this. */
  order: number;
}

/** What the saga needs from the executor running it. */
export interface SagaPort {
  readonly runId: string;
  readonly workerId: string;
  readonly signal: AbortSignal;
  readonly completed: CompletedStep[];
  /** Compensation progress by step seq; the saga updates it as it commits. */
  readonly progress: Map<number, CompensationState>;
  record(event: NewEvent): void;
  /** Commits what was recorded with `update`; false when this execution lost the run. */
  commit(update: RunUpdate): Promise<boolean>;
  /** The executor stops here: the run suspended, parked or ended. */
  done(how: 'suspended' | 'parked' | 'finished', dueAt?: number): void;
}

/** Steps that changed the world, split by whether compensation undoes them. */
export function effectsOf(completed: CompletedStep[]) {
  const byOrder = [...completed].sort((a, b) => b.order - a.order);
  return {
    reversible: byOrder.filter((s) => s.options.effect === 'reversible'),
    irreversible: byOrder.filter((s) => s.options.effect === 'irreversible'),
  };
}

/**
 * Unwinds the saga: compensates completed reversible steps in reverse completion order, each durable,
 * checkpointed and retried like a step; resumes where a crash left it. Ends `compensated`, or parks
 * `needs_attention` when a compensation exhausts its retries.
 */
export async function runCompensations(port: SagaPort): Promise<void> {
  const { reversible, irreversible } = effectsOf(port.completed);
  for (const step of reversible) {
    const progress = port.progress.get(step.seq);
    if (progress?.state === 'done') continue;
    if (progress?.state === 'failed') return park(port, step, progress.attempts, progress.error, reversible);
    let attempt = progress?.attempt ?? 1;
    if (progress && progress.retryAt > Date.now()) return suspend(port, step, progress.retryAt);
    const policy = resolveRetryPolicy(step.options.retry, `compensation of step '${step.name}'`);
    const timeoutMs = step.options.timeoutMs === undefined ? undefined : parseDuration(step.options.timeoutMs);
    for (;;) {
      const info = { idempotencyKey: `${port.runId}:${step.seq}:${step.name}:compensate`, attempt };
      const result = await runAttempt((signal) => step.options.compensate!(step.output as never, { ...info, signal }), {
        timeoutMs,
        what: `compensation of step '${step.name}'`,
        parent: port.signal,
      });
      const audit = { attempt, workerId: port.workerId, startedAt: result.startedAt, durationMs: result.durationMs };
      if (result.ok) {
        port.record({ type: 'compensation_completed', seq: step.seq, name: step.name, data: audit });
        if (!(await port.commit({ status: 'compensating' }))) return;
        port.progress.set(step.seq, { state: 'done' });
        break;
      }
      const error = result.error;
      if (result.retryable && attempt < policy.maxAttempts) {
        const retryAt = Date.now() + retryDelayMs(policy, attempt, Math.random());
        port.record({
          type: 'compensation_failed',
          seq: step.seq,
          name: step.name,
          data: { ...audit, error, retryAt },
        });
        port.progress.set(step.seq, { state: 'pending', attempt: attempt + 1, retryAt });
        if (retryAt - Date.now() > 0) return suspend(port, step, retryAt);
        attempt++;
        continue;
      }
      port.record({ type: 'compensation_failed', seq: step.seq, name: step.name, data: { ...audit, error } });
      return park(port, step, attempt, result.error, reversible);
    }
  }
  const undone = reversible.map((s) => s.name);
  const notUndone = irreversible.map((s) => s.name);
  port.record({ type: 'run_compensated', data: { undone, notUndone } });
  if (await port.commit({ status: 'compensated', waitingFor: null })) port.done('finished');
}

async function suspend(port: SagaPort, step: CompletedStep, retryAt: number): Promise<void> {
  const waitingFor: WaitInfo = { kind: 'retry', name: `compensate:${step.name}`, seq: step.seq, until: retryAt };
  const status: RunStatus = 'compensating';
  if (await port.commit({ status, waitingFor, dueAt: retryAt, releaseLease: true })) port.done('suspended', retryAt);
}

async function park(
  port: SagaPort,
  step: CompletedStep,
  attempts: number,
  error: ErrorInfo,
  reversible: CompletedStep[],
): Promise<void> {
  const done = reversible.filter((s) => port.progress.get(s.seq)?.state === 'done').map((s) => s.name);
  const pending = reversible.filter((s) => port.progress.get(s.seq)?.state !== 'done').map((s) => s.name);
  const details: RunParkedData = {
    reason: 'compensation_failed',
    step: step.name,
    seq: step.seq,
    attempts,
    error,
    done,
    pending,
  };
  port.record({ type: 'run_parked', data: details });
  const attention: ErrorInfo = {
    name: 'WaymarkError',
    code: 'E_STEP_FAILED',
    message:
      `compensation of step '${step.name}' failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ` +
      `${error.message}`,
    details,
  };
  if (await port.commit({ status: 'needs_attention', attention, waitingFor: null })) port.done('parked');
}
