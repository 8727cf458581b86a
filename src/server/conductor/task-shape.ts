import { isTerminalTask, type Task, type TaskStatus } from '../../core/tasks.js';
import type { Json } from '../../core/types.js';
import { HTTP_ASYNC_TASK } from '../../declarative/interpreter.js';
import { childRunId, SUB_WORKFLOW_TASK } from '../../declarative/sub-workflows.js';

/** A Conductor Task as JSON. */
export type TaskJson = Record<string, unknown>;

/**
 * Task types that wait for an external update rather than a worker that polls (declarative WAIT and HUMAN, an
 * asyncComplete HTTP task after its call).
 */
const WAIT_TYPES = ['WAIT', 'HUMAN', HTTP_ASYNC_TASK];

/**
 * Queue task types that are not for workers: the engine's own (waits for an update, sub-workflows its runner watches).
 */
export const SYSTEM_TASK_TYPES: readonly string[] = [...WAIT_TYPES, SUB_WORKFLOW_TASK];

/**
 * A JSON value as a Conductor data map: an object as it is, nothing as `{}`, anything else under `key`
 * (Waymark inputs and outputs may be any JSON; Conductor's are maps).
 */
export function asMap(value: Json | undefined, key: string): Record<string, Json> {
  if (value === undefined || value === null) return {};
  if (typeof value === 'object' && !Array.isArray(value)) return value;
  return { [key]: value };
}

/** What every Conductor task carries, around the facts that differ. */
export interface TaskFacts {
  taskId: string;
  taskType: string;
  /** The task's name in its definition (Conductor's taskDefName). (Default: taskType) */
  defName?: string;
  /** The workflowTask's type: SIMPLE for worker tasks, the system type otherwise. */
  type: string;
  ref: string;
  status: TaskStatus;
  runId: string;
  workflow: string;
  version: number;
  seq: number;
  retryCount: number;
  input: Record<string, Json>;
  output: Record<string, Json>;
  reason?: string;
  pollCount?: number;
  scheduledTime: number;
  startTime?: number;
  endTime?: number;
  updateTime: number;
  callbackAfterSeconds?: number;
  responseTimeoutSeconds?: number;
  workerId?: string;
  retried?: boolean;
  subWorkflowId?: string;
  /** The W3C traceparent the worker continues (Waymark's own field: Conductor workers ignore unknown fields). */
  traceparent?: string;
  /** Its run's priority. (Default: 0) */
  priority?: number;
  domain?: string;
  /** The attempt this one retries (the previous attempt's task id). */
  retriedTaskId?: string;
}

/** The Conductor Task JSON of `facts` (fields Conductor omits when null are left out). */
export function conductorTask(f: TaskFacts): TaskJson {
  const startTime = f.startTime ?? 0;
  return {
    taskId: f.taskId,
    taskType: f.taskType,
    taskDefName: f.defName ?? f.taskType,
    referenceTaskName: f.ref,
    taskReferenceName: f.ref,
    status: f.status,
    workflowInstanceId: f.runId,
    workflowType: f.workflow,
    workflowVersion: f.version,
    inputData: f.input,
    outputData: f.output,
    ...(f.reason !== undefined ? { reasonForIncompletion: f.reason } : {}),
    seq: f.seq,
    retryCount: f.retryCount,
    pollCount: f.pollCount ?? 0,
    scheduledTime: f.scheduledTime,
    startTime,
    endTime: f.endTime ?? 0,
    updateTime: f.updateTime,
    startDelayInSeconds: 0,
    callbackAfterSeconds: f.callbackAfterSeconds ?? 0,
    responseTimeoutSeconds: f.responseTimeoutSeconds ?? 0,
    ...(f.workerId !== undefined ? { workerId: f.workerId } : {}),
    ...(f.subWorkflowId !== undefined ? { subWorkflowId: f.subWorkflowId } : {}),
    ...(f.traceparent !== undefined ? { traceparent: f.traceparent } : {}),
    retried: f.retried ?? false,
    executed: isTerminalTask(f.status),
    callbackFromWorker: true,
    workflowPriority: f.priority ?? 0,
    ...(f.domain !== undefined ? { domain: f.domain } : {}),
    ...(f.retriedTaskId !== undefined ? { retriedTaskId: f.retriedTaskId } : {}),
    rateLimitPerFrequency: 0,
    rateLimitFrequencyInSeconds: 0,
    iteration: 0,
    loopOverTask: false,
    queueWaitTime: startTime > 0 ? Math.max(0, startTime - f.scheduledTime) : 0,
    taskDefinition: { name: f.defName ?? f.taskType },
    workflowTask: {
      name: f.defName ?? f.taskType,
      taskReferenceName: f.ref,
      type: f.type,
      inputParameters: {},
      optional: false,
      startDelay: 0,
    },
  };
}

/**
 * A task of the task queue (a worker task, a declarative WAIT/HUMAN
 * waiting for its update, a SUB_WORKFLOW) as Conductor JSON.
 */
export function taskJson(task: Task, options: { retried?: boolean } = {}): TaskJson {
  const waits = WAIT_TYPES.includes(task.taskType);
  return conductorTask({
    taskId: task.taskId,
    taskType: task.taskType,
    type: SYSTEM_TASK_TYPES.includes(task.taskType) ? task.taskType : 'SIMPLE',
    ref: task.refName,
    // Nobody polls a WAIT or HUMAN task: it is in progress from the start, until its external update.
    status: waits && task.status === 'SCHEDULED' ? 'IN_PROGRESS' : task.status,
    runId: task.runId,
    workflow: task.workflow,
    version: task.version,
    seq: task.seq,
    retryCount: task.attempt - 1,
    input: asMap(task.input, 'input'),
    output: asMap(task.output, 'result'),
    reason: task.reason,
    pollCount: task.pollCount,
    scheduledTime: task.scheduledAt,
    startTime: task.startedAt,
    endTime: task.endedAt,
    updateTime: task.updatedAt,
    // A task put back by a worker's callbackAfterSeconds (or a retry delay) is handed out again at visibleAt.
    callbackAfterSeconds:
      task.status === 'SCHEDULED' && task.visibleAt > task.updatedAt
        ? Math.round((task.visibleAt - task.updatedAt) / 1000)
        : 0,
    responseTimeoutSeconds: Math.ceil(task.responseTimeoutMs / 1000),
    workerId: task.workerId,
    retried: options.retried,
    subWorkflowId: task.taskType === SUB_WORKFLOW_TASK ? childRunId(task.runId, task.refName) : undefined,
    traceparent: task.traceparent,
    priority: task.priority,
    domain: task.domain,
  });
}

/** A task's logs as Conductor's TaskExecLog list. */
export function taskLogs(task: Task): { log: string; taskId: string; createdTime: number }[] {
  return task.logs.map((l) => ({ log: l.log, taskId: task.taskId, createdTime: l.createdTime }));
}
