import type { RecordedOperation } from './replay.js';
import type { ErrorInfo, Json } from './types.js';

/** A task's status, in the words remote workers use. */
export type TaskStatus =
  | 'SCHEDULED'
  | 'IN_PROGRESS'
  | 'COMPLETED'
  | 'FAILED'
  | 'FAILED_WITH_TERMINAL_ERROR'
  | 'TIMED_OUT'
  | 'CANCELED'
  | 'SKIPPED';

export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = [
  'COMPLETED',
  'FAILED',
  'FAILED_WITH_TERMINAL_ERROR',
  'TIMED_OUT',
  'CANCELED',
  'SKIPPED',
];

export const isTerminalTask = (status: TaskStatus) => TERMINAL_TASK_STATUSES.includes(status);

/** One attempt of a task: a step a remote worker executes after polling for it. */
export interface Task {
  taskId: string;
  runId: string;
  workflow: string;
  version: number;
  /** The run's ctx operation this task answers. */
  seq: number;
  /** 1 for the first attempt; a retry is a new task. */
  attempt: number;
  /** What workers poll for. */
  taskType: string;
  /** The task's name in its workflow (Conductor's taskReferenceName). */
  refName: string;
  status: TaskStatus;
  input: Json;
  output: Json | undefined;
  reason: string | undefined;
  workerId: string | undefined;
  pollCount: number;
  /** A worker that does not report within this long after polling loses the task (TIMED_OUT). */
  responseTimeoutMs: number;
  /** Longest the attempt may take from its first poll, however often its worker reports progress; 0: no limit. */
  timeoutMs: number;
  scheduledAt: number;
  /** Not handed out before this (a retry delay, or a worker's callbackAfterSeconds). */
  visibleAt: number;
  startedAt: number | undefined;
  endedAt: number | undefined;
  updatedAt: number;
  /** Lines a worker logged for the task. */
  logs: { log: string; createdTime: number }[];
  /** The W3C traceparent its worker continues (the span that scheduled it), when the run is traced. */
  traceparent?: string;
  /** Its run's priority (0-99): polls hand out higher ones first. (Default: 0) */
  priority?: number;
  /** Only pollers of this domain get it; none: only pollers without a domain. */
  domain?: string;
}

/** A task to create with the checkpoint that schedules it. */
export type NewTask = Pick<
  Task,
  | 'taskId'
  | 'runId'
  | 'workflow'
  | 'version'
  | 'seq'
  | 'attempt'
  | 'taskType'
  | 'refName'
  | 'input'
  | 'responseTimeoutMs'
  | 'timeoutMs'
  | 'visibleAt'
  | 'traceparent'
>;

/** The domain a task of `taskType` goes to under a run's task-to-domain map (undefined: none). */
export function domainOf(taskToDomain: Record<string, string> | undefined, taskType: string): string | undefined {
  if (!taskToDomain) return undefined;
  const listed = Object.hasOwn(taskToDomain, taskType) ? taskToDomain[taskType] : taskToDomain['*'];
  const first = typeof listed === 'string' ? listed.split(',')[0]!.trim() : '';
  return first === '' || first === 'NO_DOMAIN' ? undefined : first;
}

/** Which tasks a search reads: narrowed by type, status and run, newest update first, at most `limit`. */
export interface TaskSearch {
  taskTypes?: string[];
  statuses?: TaskStatus[];
  runIds?: string[];
  limit: number;
}

/** How a TIMED_OUT attempt's reason begins when it ran over its time limit (not a missed response timeout). */
export const TIME_LIMIT_REASON = 'took longer than its time limit';

/** Limits on handing out tasks of one type. */
export interface PollLimits {
  /** Most tasks of the type IN_PROGRESS at once. (Default: no limit) */
  concurrentExecLimit?: number;
  /** Most tasks of the type handed out per `rateWindowMs`. (Default: no limit) */
  ratePerWindow?: number;
  /** (Default: 1000) */
  rateWindowMs?: number;
}

/**
 * How many more tasks may be handed out now under `limits`, given those in progress and those started in the window.
 */
export function pollAllowance(
  wanted: number,
  limits: PollLimits | undefined,
  inProgress: number,
  startedInWindow: number,
): number {
  let allowed = wanted;
  if (limits?.concurrentExecLimit) allowed = Math.min(allowed, limits.concurrentExecLimit - inProgress);
  if (limits?.ratePerWindow) allowed = Math.min(allowed, limits.ratePerWindow - startedInWindow);
  return Math.max(0, allowed);
}

/** A worker's report on a task. */
export interface TaskResult {
  status: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED' | 'FAILED_WITH_TERMINAL_ERROR';
  output?: Json;
  reason?: string;
  workerId?: string;
  /** IN_PROGRESS: hand the task out again after this long (the worker checks back later). */
  callbackAfterMs?: number;
  /** IN_PROGRESS: only resets the response timeout. */
  extendLease?: boolean;
  logs?: string[];
}

/** What the run's history says about a task operation. */
export type TaskOpState =
  | { state: 'new' }
  | { state: 'completed'; output: Json | undefined }
  | { state: 'failed'; error: ErrorInfo; attempts: number }
  /** An attempt is scheduled (possibly handed out); the run waits for its outcome. */
  | { state: 'pending'; taskId: string; attempt: number; input: Json };

export function taskState(recorded: RecordedOperation | undefined): TaskOpState {
  if (!recorded) return { state: 'new' };
  let pending: TaskOpState = { state: 'new' };
  for (const event of recorded.events) {
    if (event.type === 'task_scheduled' && event.data)
      pending = {
        state: 'pending',
        taskId: event.data.taskId,
        attempt: event.data.attempt ?? 1,
        input: event.data.input ?? null,
      };
    else if (event.type === 'task_completed') return { state: 'completed', output: event.data?.output };
    else if (event.type === 'task_failed' && !event.data?.retry) {
      return {
        state: 'failed',
        error: event.data?.error ?? { name: 'TaskFailed', message: event.data?.reason ?? 'task failed' },
        attempts: event.data?.attempt ?? 1,
      };
    }
  }
  return pending;
}
