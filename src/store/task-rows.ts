import { domainOf, type Task, type TaskStatus } from '../core/tasks.js';
import type { Json, RunStartOptions } from '../core/types.js';

/** A tasks row; `J` is how a dialect returns JSON columns (text on SQLite, parsed values on PostgreSQL). */
export interface TaskRow<J> {
  task_id: string;
  run_id: string;
  workflow: string;
  version: number;
  seq: number;
  attempt: number;
  task_type: string;
  ref_name: string;
  status: TaskStatus;
  input: J;
  output: J | null;
  reason: string | null;
  worker_id: string | null;
  poll_count: number;
  response_timeout_ms: number;
  timeout_ms: number;
  scheduled_at: number;
  visible_at: number;
  started_at: number | null;
  ended_at: number | null;
  updated_at: number;
  logs: J;
  traceparent: string | null;
  priority: number;
  domain: string | null;
}

/** Maps a tasks row to a Task, reading JSON columns with `json`. */
export function taskFromRow<J>(row: TaskRow<J>, json: (value: J) => Json): Task {
  const task: Task = {
    taskId: row.task_id,
    runId: row.run_id,
    workflow: row.workflow,
    version: row.version,
    seq: row.seq,
    attempt: row.attempt,
    taskType: row.task_type,
    refName: row.ref_name,
    status: row.status,
    input: json(row.input),
    output: row.output === null ? undefined : json(row.output),
    reason: row.reason ?? undefined,
    workerId: row.worker_id ?? undefined,
    pollCount: row.poll_count,
    responseTimeoutMs: row.response_timeout_ms,
    timeoutMs: row.timeout_ms,
    scheduledAt: row.scheduled_at,
    visibleAt: row.visible_at,
    startedAt: row.started_at ?? undefined,
    endedAt: row.ended_at ?? undefined,
    updatedAt: row.updated_at,
    logs: json(row.logs) as unknown as Task['logs'],
  };
  if (row.traceparent !== null && row.traceparent !== undefined) task.traceparent = row.traceparent;
  if (row.priority) task.priority = row.priority;
  if (row.domain !== null && row.domain !== undefined) task.domain = row.domain;
  return task;
}

/** A run's start options as stored (JSON text): undefined when none were given or the text is not an object. */
export function startOptionsFromColumn(text: string | null | undefined): RunStartOptions | undefined {
  if (text === null || text === undefined) return undefined;
  const value = JSON.parse(text) as unknown;
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as RunStartOptions) : undefined;
}

/** The priority and domain a new task of `taskType` gets from its run's stored start options. */
export function routingOf(
  startOptions: string | null | undefined,
  taskType: string,
): { priority: number; domain: string | null } {
  const options = startOptionsFromColumn(startOptions);
  return { priority: options?.priority ?? 0, domain: domainOf(options?.taskToDomain, taskType) ?? null };
}
