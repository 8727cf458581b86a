import { resolveRetryPolicy, retryDelayMs, type ResolvedRetryPolicy } from '../core/backoff.js';
import { parseDuration } from '../core/duration.js';
import { toErrorInfo } from '../core/errors.js';
import type { AttentionReason, ErrorInfo, Json, NewEvent } from '../core/types.js';
import { checkedOutput, runAttempt, stepFailedError } from './attempt.js';
import { faultPoint } from './faults.js';
import type { StepCall } from './replay-engine.js';
import type { CompletedStep } from './saga.js';
import type { StepOutcome } from './telemetry.js';
import { never, type PendingWait } from './waits.js';
import { isIdempotent, type StepInfo, type StepOptions } from './workflow.js';

/** What the step operation needs from the executor running the workflow. */
export interface StepOpPort {
  readonly runId: string;
  readonly workerId: string;
  /** Aborted when this execution stops: a running attempt is told through its signal. */
  readonly abortSignal: AbortSignal;
  /** Hands the run to a due takeover; true when the workflow must not go past this point. */
  yieldToTakeover(): boolean;
  /** This execution commits nothing more. */
  stopped(): boolean;
  record(event: NewEvent): void;
  /** A step completed by this execution, for the saga (its place in the history is added by the executor). */
  completed(step: Omit<CompletedStep, 'order'>): void;
  /** Commits what is recorded; never settles if the commit is refused (the execution stops). */
  flush(): Promise<boolean>;
  /** Hands a result just recorded to the code at its turn, after `ready` (see ReplayEngine.live). */
  deliver<T>(result: () => T, ready?: Promise<unknown>): Promise<T>;
  /** A wait the run suspends on; the promise never settles. */
  waitFor(wait: PendingWait): Promise<never>;
  /** An attempt begins (+1) or ends (-1): the run suspends only once none runs. */
  executing(delta: 1 | -1): void;
  park(reason: AttentionReason, message: string, details: { [key: string]: Json }): Promise<never>;
  /** Commits the move to `compensating` and unwinds the saga. */
  compensate(error: ErrorInfo): Promise<void>;
  /** An attempt begins (traced, when tracing is on); the returned function records how it ended. */
  attemptStarted(name: string, seq: number, attempt: number): AttemptObserver;
}

/** A step attempt being observed: its span's traceparent, and how it ended (undefined: the execution stopped). */
export interface AttemptObserver {
  readonly traceparent: string | undefined;
  ended(outcome: StepOutcome | undefined, error?: string): void;
}

type AttemptOutcome = { delivered: Promise<unknown> } | { retryAt: number };

/**
 * `ctx.step(name, fn)` past the history: runs an attempt and checkpoints its outcome before the workflow sees
 * it; a retry waits (durably) for its time, a step failed for good fails, compensates or parks as declared.
 */
export async function stepOperation(port: StepOpPort, { seq, name, fn, options, state }: StepCall): Promise<unknown> {
  if (port.yieldToTakeover()) return never();
  const policy = resolveRetryPolicy(options.retry, `step '${name}'`);
  if (state.state === 'failed') return failStep(port, seq, name, options, state.attempts, state.error);
  if (state.state === 'unknown' && !isIdempotent(options)) {
    const details = {
      reason: 'unknown_outcome',
      step: name,
      seq,
      attempt: state.attempt,
      workerId: state.workerId ?? null,
      startedAt: state.startedAt,
    };
    const message =
      `step '${name}' (attempt ${state.attempt}) started on ${state.workerId ?? 'a worker'} and ` +
      `never recorded an outcome; it is not idempotent, so it is not run again blindly`;
    return port.park('unknown_outcome', message, details);
  }
  if (state.state === 'retrying' && Date.now() < state.retryAt)
    return port.waitFor({ kind: 'retry', seq, name, until: state.retryAt });
  const attempt = state.state === 'retrying' || state.state === 'unknown' ? state.attempt : 1;
  port.executing(1);
  let outcome: AttemptOutcome;
  try {
    outcome = await runStepAttempt(port, { seq, name, fn, options, attempt, policy });
  } finally {
    port.executing(-1);
  }
  if ('delivered' in outcome) return outcome.delivered;
  return port.waitFor({ kind: 'retry', seq, name, until: outcome.retryAt });
}

interface AttemptCall {
  seq: number;
  name: string;
  fn: (info: StepInfo) => unknown;
  options: StepOptions;
  attempt: number;
  policy: ResolvedRetryPolicy;
}

/** Runs one attempt and checkpoints its outcome: the output, a scheduled retry, or the final failure. */
async function runStepAttempt(port: StepOpPort, call: AttemptCall): Promise<AttemptOutcome> {
  const { seq, name, fn, options, attempt, policy } = call;
  const { workerId, runId } = port;
  const effect = options.effect ?? 'none';
  if (!isIdempotent(options)) {
    // Recorded before the effect: a crash from here on leaves an outcome that is known to be unknown.
    port.record({ type: 'step_started', seq, name, data: { attempt, workerId, effect } });
    await port.flush();
  }
  const timeoutMs =
    options.timeoutMs === undefined ? undefined : parseDuration(options.timeoutMs, `step '${name}' timeoutMs`);
  const key = `${runId}:${seq}:${name}`;
  const observer = port.attemptStarted(name, seq, attempt);
  const { traceparent } = observer;
  const info = (signal: AbortSignal): StepInfo =>
    traceparent === undefined
      ? { idempotencyKey: key, attempt, signal, runId, step: name }
      : { idempotencyKey: key, attempt, signal, runId, step: name, traceparent };
  const result = await runAttempt((signal) => fn(info(signal)), {
    timeoutMs,
    what: `step '${name}'`,
    parent: port.abortSignal,
    check: (raw) => checkedOutput(raw, name, options),
  });
  if (port.stopped()) {
    observer.ended(undefined);
    return never();
  }
  faultPoint('step-effect');
  const audit = { attempt, workerId, effect, startedAt: result.startedAt, durationMs: result.durationMs };
  const retried = !result.ok && result.retryable && attempt < policy.maxAttempts;
  observer.ended(
    result.ok ? 'completed' : retried ? 'retried' : 'failed',
    result.ok ? undefined : result.error.message,
  );
  if (result.ok) {
    const data: { [key: string]: Json } = { ...audit };
    if (result.value !== undefined) data.output = result.value as Json;
    port.completed({ seq, name, output: result.value as Json, options });
    port.record({ type: 'step_completed', seq, name, data });
    return { delivered: port.deliver(() => result.value, port.flush()) };
  }
  const error = result.error;
  if (retried) {
    const retryAt = Date.now() + retryDelayMs(policy, attempt, Math.random());
    port.record({ type: 'step_failed', seq, name, data: { ...audit, error, retryAt } });
    await port.flush();
    return { retryAt };
  }
  port.record({ type: 'step_failed', seq, name, data: { ...audit, error } });
  if ((options.onFailure ?? 'fail') === 'fail') {
    const failure = stepFailedError(name, seq, attempt, result.error);
    return { delivered: port.deliver(() => throwing(failure), port.flush()) };
  }
  return failStep(port, seq, name, options, attempt, result.error);
}

/** A step failed for good under 'compensate' or 'escalate': unwind the saga or park for an operator. */
async function failStep(
  port: StepOpPort,
  seq: number,
  name: string,
  options: StepOptions,
  attempts: number,
  error: ErrorInfo,
): Promise<never> {
  const facts = { step: name, seq, attempts, error };
  if (options.onFailure === 'compensate') {
    port.record({ type: 'compensation_started', data: { reason: 'step_failed', ...facts } });
    const failure = toErrorInfo(stepFailedError(name, seq, attempts, error));
    delete failure.stack;
    await port.compensate(failure);
    return never();
  }
  return port.park(
    'step_failed',
    `step '${name}' failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${error.message}`,
    { reason: 'step_failed', ...facts },
  );
}

function throwing(error: Error): never {
  throw error;
}
