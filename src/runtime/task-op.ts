import { randomUUID } from 'node:crypto';
import { parseDuration } from '../core/duration.js';
import { WaymarkError } from '../core/errors.js';
import { checkStorableText } from '../core/json.js';
import { TIME_LIMIT_REASON, type NewTask, type Task } from '../core/tasks.js';
import type { Duration, ErrorInfo, Json, NewEvent } from '../core/types.js';
import type { TaskCall } from './replay-engine.js';
import { never, type PendingWait } from './waits.js';

/** How a task is dispatched to remote workers and retried. */
export interface TaskOptions {
  /** The task's name in this run (what operators and workers see as its reference). (Default: the task type) */
  ref?: string;
  /** Attempts in all, the first included; a FAILED_WITH_TERMINAL_ERROR report ends them early. (Default: 1) */
  maxAttempts?: number;
  /** Delay before retry number n (0 for the first retry), in ms. (Default: 0) */
  retryDelayMs?: number | ((retryNumber: number) => number);
  /**
   * A worker that polled the task and does not report within this long loses it (TIMED_OUT, then retried).
   * (Default: 1h)
   */
  responseTimeoutMs?: Duration;
  /**
   * Longest one attempt may take from its first poll, progress reports included; then it is TIMED_OUT. (Default: no
   * limit)
   */
  timeoutMs?: Duration;
  /**
   * Whether an attempt that ran over `timeoutMs` is retried like a failed one; false fails the task at once.
   * (Default: true)
   */
  retryTimedOut?: boolean;
}

/** What the task operation needs from the executor running the workflow. */
export interface TaskOpPort {
  readonly runId: string;
  readonly workflow: string;
  readonly version: number;
  /** Hands the run to a due takeover; true when the workflow must not go past this point. */
  yieldToTakeover(): boolean;
  record(event: NewEvent): void;
  /** Hands a result just recorded to the code at its turn (see ReplayEngine.live). */
  deliver<T>(result: () => T): Promise<T>;
  schedule(task: NewTask): void;
  /** A worker's final report on the task, if one came in and the run has not recorded it. */
  outcome(taskId: string): Task | undefined;
  consume(taskId: string): void;
  /** Waits for a worker's final report on `taskId`; resolves if it reaches this process while the run is hot. */
  waitFor(wait: PendingWait): Promise<void>;
}

/**
 * `ctx.task(type, input)` past the history: schedules a task for remote workers (with the checkpoint), waits
 * until a worker reports, records the report in the history, and retries failed attempts as `options` say.
 */
export async function taskOperation(
  port: TaskOpPort,
  { seq, type, input, options, state: recorded }: TaskCall,
): Promise<Json> {
  if (port.yieldToTakeover()) return never();
  let state = recorded;
  const ref = checkStorableText(options.ref ?? type, `task '${type}' ref`);
  const maxAttempts = options.maxAttempts ?? 1;
  const responseTimeoutMs = parseDuration(options.responseTimeoutMs ?? 3_600_000, `task '${ref}' responseTimeoutMs`);
  const timeoutMs = options.timeoutMs === undefined ? 0 : parseDuration(options.timeoutMs, `task '${ref}' timeoutMs`);
  const schedule = (attempt: number, delayMs: number) => {
    const taskId = randomUUID();
    const visibleAt = Date.now() + delayMs;
    port.schedule({
      taskId,
      runId: port.runId,
      workflow: port.workflow,
      version: port.version,
      seq,
      attempt,
      taskType: type,
      refName: ref,
      input,
      responseTimeoutMs,
      timeoutMs,
      visibleAt,
    });
    port.record({ type: 'task_scheduled', seq, name: type, data: { taskId, attempt, ref, input, visibleAt } });
    return { state: 'pending' as const, taskId, attempt, input };
  };
  if (state.state !== 'pending') state = schedule(1, 0);
  for (;;) {
    let outcome = port.outcome(state.taskId);
    while (!outcome) {
      await port.waitFor({ kind: 'task', seq, name: type, taskId: state.taskId });
      outcome = port.outcome(state.taskId);
    }
    port.consume(outcome.taskId);
    const facts = {
      taskId: outcome.taskId,
      attempt: state.attempt,
      ref,
      status: outcome.status,
      workerId: outcome.workerId ?? null,
    };
    if (outcome.status === 'COMPLETED') {
      port.record({ type: 'task_completed', seq, name: type, data: { ...facts, output: outcome.output ?? null } });
      const output = outcome.output ?? null;
      return port.deliver(() => output);
    }
    const reason = outcome.reason ?? outcome.status.toLowerCase();
    const overTime = outcome.status === 'TIMED_OUT' && (outcome.reason ?? '').startsWith(TIME_LIMIT_REASON);
    const final =
      outcome.status === 'FAILED_WITH_TERMINAL_ERROR' ||
      outcome.status === 'CANCELED' ||
      (overTime && options.retryTimedOut === false);
    const retry = !final && state.attempt < maxAttempts;
    if (retry) {
      const delay = parseDuration(
        typeof options.retryDelayMs === 'function'
          ? options.retryDelayMs(state.attempt - 1)
          : (options.retryDelayMs ?? 0),
        `task '${ref}' retryDelayMs`,
      );
      port.record({ type: 'task_failed', seq, name: type, data: { ...facts, reason, retry: true } });
      state = schedule(state.attempt + 1, delay);
      continue;
    }
    const error: ErrorInfo = { name: 'TaskFailed', message: reason, code: outcome.status };
    port.record({ type: 'task_failed', seq, name: type, data: { ...facts, reason, error } });
    const failure = taskFailedError(type, ref, state.attempt, error);
    return port.deliver(() => {
      throw failure;
    });
  }
}

/** Thrown into the workflow when a task's last attempt failed. */
export function taskFailedError(type: string, ref: string, attempts: number, cause: ErrorInfo): WaymarkError {
  return new WaymarkError(
    'E_TASK_FAILED',
    `task '${ref}' (${type}) failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${cause.message}`,
    {
      details: { taskType: type, ref, attempts, status: cause.code ?? null, reason: cause.message },
    },
  );
}
