import type { Task } from '../../core/tasks.js';
import { isTerminal, type HistoryEvent, type Json, type Run, type RunStatus } from '../../core/types.js';
import type { RunSummary } from '../../store/types.js';
import { graphFacts } from './graph-facts.js';
import { historyTasks, lastRetriedTime } from './history-tasks.js';
import { asMap, type TaskJson } from './task-shape.js';
import { conductorWorkflowName } from './start.js';

/** What status, reasons and times are read from: a run, or its summary in a list. */
export type RunFacts = Omit<Run, 'input' | 'output'>;

export type WorkflowStatus = 'RUNNING' | 'COMPLETED' | 'FAILED' | 'TIMED_OUT' | 'TERMINATED' | 'PAUSED';
export const WORKFLOW_STATUSES: readonly WorkflowStatus[] = [
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'TIMED_OUT',
  'TERMINATED',
  'PAUSED',
];

/**
 * A run's status in Conductor's words. running/waiting/compensating: RUNNING; paused: PAUSED; completed:
 * COMPLETED; needs_attention (parked for an operator): FAILED; cancelled: TERMINATED. A failed or compensated run
 * is TIMED_OUT when its lifetime ran out (E_RUN_EXPIRED) or a task's last attempt timed out,
 * TERMINATED when an operator ended it
 * (E_RUN_CANCELLED) or a TERMINATE task did, else FAILED.
 */
export function workflowStatus(run: RunFacts): WorkflowStatus {
  switch (run.status) {
    case 'paused':
      return 'PAUSED';
    case 'running':
    case 'waiting':
    case 'compensating':
      return 'RUNNING';
    case 'completed':
      return 'COMPLETED';
    case 'needs_attention':
      return 'FAILED';
    case 'cancelled':
      return 'TERMINATED';
    default: {
      const code = run.error?.code;
      const taskSaid = (run.error?.details as { status?: unknown } | undefined)?.status;
      if (code === 'E_RUN_EXPIRED') return 'TIMED_OUT';
      if (code === 'E_TASK_FAILED' && taskSaid === 'TIMED_OUT') return 'TIMED_OUT';
      if (code === 'E_RUN_CANCELLED') return 'TERMINATED';
      if (code === 'E_TERMINATED' && taskSaid === 'TERMINATED') return 'TERMINATED';
      if (code === 'TERMINATED') return 'TERMINATED'; // how a TERMINATE task's end was recorded before E_TERMINATED
      return 'FAILED';
    }
  }
}

/** The Waymark statuses a Conductor status can come from (to narrow a run listing before it is filtered exactly). */
export function runStatusesOf(status: WorkflowStatus): RunStatus[] {
  switch (status) {
    case 'RUNNING':
      return ['running', 'waiting', 'compensating'];
    case 'COMPLETED':
      return ['completed'];
    case 'FAILED':
      return ['failed', 'compensated', 'needs_attention'];
    case 'TIMED_OUT':
      return ['failed', 'compensated'];
    case 'TERMINATED':
      return ['cancelled', 'failed', 'compensated'];
    case 'PAUSED':
      return ['paused'];
  }
}

/** Why the run stopped or is parked: the operator's reason, its error, nothing while it goes on. */
export function reasonForIncompletion(run: RunFacts): string | undefined {
  if (run.status === 'needs_attention') return run.attention?.message;
  return isTerminal(run.status) && run.status !== 'completed' ? run.error?.message : undefined;
}

/** The reference names (and task names) of what failed the run, from its error or parking facts. */
export function failedTasks(run: RunFacts): { refs: string[]; names: string[] } {
  const info = run.status === 'needs_attention' ? run.attention : run.status === 'completed' ? undefined : run.error;
  const details = (info?.details ?? {}) as Record<string, Json | undefined>;
  const ref =
    typeof details.ref === 'string' ? details.ref : typeof details.step === 'string' ? details.step : undefined;
  if (ref === undefined) return { refs: [], names: [] };
  return { refs: [ref], names: [typeof details.taskType === 'string' ? details.taskType : ref] };
}

const endTime = (run: RunFacts) => (isTerminal(run.status) ? run.updatedAt.getTime() : 0);

/** What a full Workflow needs beyond the run: its history, its queue tasks and (declarative) its source. */
export interface RunDetail {
  history: HistoryEvent[];
  tasks: Task[];
  source: Json | undefined;
}

/** A run as Conductor's Workflow JSON; `tasks` is [] unless `detail` is given. */
export function workflowJson(run: Run, detail?: RunDetail): Record<string, unknown> {
  const failed = failedTasks(run);
  const reason = reasonForIncompletion(run);
  const tasks: TaskJson[] = detail ? historyTasks(run, detail.history, detail.tasks, graphFacts(detail.source)) : [];
  return {
    workflowId: run.id,
    workflowName: conductorWorkflowName(run.workflow),
    workflowType: conductorWorkflowName(run.workflow),
    workflowVersion: run.version,
    version: run.version,
    ...(run.correlationId !== undefined ? { correlationId: run.correlationId } : {}),
    status: workflowStatus(run),
    input: asMap(run.input, 'input'),
    output: asMap(run.output, 'result'),
    ...(reason !== undefined ? { reasonForIncompletion: reason } : {}),
    variables: detail ? variablesOf(detail) : {},
    priority: run.startOptions?.priority ?? 0,
    ...idempotencyOf(run),
    createTime: run.createdAt.getTime(),
    startTime: run.createdAt.getTime(),
    updateTime: run.updatedAt.getTime(),
    endTime: endTime(run),
    lastRetriedTime: detail ? lastRetriedTime(run, detail.history) : 0,
    failedReferenceTaskNames: failed.refs,
    failedTaskNames: failed.names,
    taskToDomain: run.startOptions?.taskToDomain ?? {},
    ownerApp: '',
    workflowDefinition: isObject(detail?.source)
      ? detail!.source
      : { name: run.workflow, version: run.version, schemaVersion: 2, restartable: true, tasks: [] },
    tasks,
  };
}

/** The idempotency key and strategy a run was started with, when it was given one. */
function idempotencyOf(run: RunFacts): { idempotencyKey?: string; idempotencyStrategy?: string } {
  const { idempotencyKey, idempotencyStrategy } = run.startOptions ?? {};
  return idempotencyKey === undefined ? {} : { idempotencyKey, idempotencyStrategy: idempotencyStrategy ?? 'FAIL' };
}

/** A declarative run's variables: the definition's, merged with every SET_VARIABLE it completed. */
function variablesOf(detail: RunDetail): Record<string, Json> {
  const source = detail.source as { variables?: Json } | undefined;
  const variables: Record<string, Json> = { ...(isObject(source?.variables) ? source!.variables : {}) };
  for (const event of detail.history) {
    const output = event.type === 'step_completed' ? event.data?.output : undefined;
    if (isObject(output) && output.taskType === 'SET_VARIABLE' && isObject(output.input))
      Object.assign(variables, output.input);
  }
  return variables;
}

const isObject = (value: unknown): value is Record<string, Json> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Epoch ms as `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`. */
export const isoTime = (ms: number) => new Date(ms).toISOString();

/**
 * A run summary as Conductor's WorkflowSummary: times, and input/output when the summary has them, as strings
 * (typed clients need them so). Sizes are those of the stored JSON.
 */
export function workflowSummary(run: RunSummary): Record<string, unknown> {
  const failed = failedTasks(run);
  const reason = reasonForIncompletion(run);
  const input = 'input' in run ? JSON.stringify(asMap(run.input, 'input')) : undefined;
  const output = 'output' in run ? JSON.stringify(asMap(run.output, 'result')) : undefined;
  const ended = endTime(run);
  return {
    workflowType: run.workflow,
    version: run.version,
    workflowId: run.id,
    ...(run.correlationId !== undefined ? { correlationId: run.correlationId } : {}),
    startTime: isoTime(run.createdAt.getTime()),
    updateTime: isoTime(run.updatedAt.getTime()),
    ...(ended ? { endTime: isoTime(ended) } : {}),
    status: workflowStatus(run),
    ...(input !== undefined ? { input } : {}),
    ...(output !== undefined ? { output } : {}),
    ...(reason !== undefined ? { reasonForIncompletion: reason } : {}),
    executionTime: ended ? ended - run.createdAt.getTime() : 0,
    event: '',
    failedReferenceTaskNames: failed.refs.join(','),
    failedTaskNames: failed.names,
    priority: run.startOptions?.priority ?? 0,
    ...idempotencyOf(run),
    inputSize: run.inputSize,
    outputSize: run.outputSize,
  };
}
