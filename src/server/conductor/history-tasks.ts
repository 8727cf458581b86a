import { indexHistory, type RecordedOperation } from '../../core/replay.js';
import type { Task, TaskStatus } from '../../core/tasks.js';
import {
  currentEpoch,
  isTerminal,
  type HistoryEvent,
  type HistoryEventOf,
  type Json,
  type Run,
} from '../../core/types.js';
import { asMap, conductorTask, taskJson, type TaskJson } from './task-shape.js';

/** The type of a step that is not a declarative system task (a code workflow's ctx.step). */
export const STEP_TYPE = 'WAYMARK_STEP';

/**
 * A run's Conductor tasks, built from its history (current epoch) in seq order: every attempt of a worker
 * task (status and worker facts from the task queue), every step (a declarative system task under its own
 * type, else WAYMARK_STEP), signal waits and timers as WAIT tasks. Recorded values (now, random) are left out.
 */
export function historyTasks(run: Run, history: HistoryEvent[], rows: Task[]): TaskJson[] {
  const byId = new Map(rows.map((t) => [t.taskId, t]));
  const ops = [...indexHistory(currentEpoch(history, run.epoch)).values()].sort((a, b) => a.seq - b.seq);
  const tasks: TaskJson[] = [];
  for (const op of ops) {
    if (op.kind === 'task') tasks.push(...taskAttempts(run, op, byId));
    else if (op.kind === 'step') tasks.push(stepTask(run, op));
    else if (op.kind === 'signal') tasks.push(signalTask(run, op));
    else if (op.kind === 'sleep') tasks.push(timerTask(run, op));
  }
  return tasks;
}

/** The Conductor task id of a step, signal wait or timer: the step's idempotency key `<run>:<seq>:<name>`. */
export function operationTaskId(runId: string, seq: number, name: string): string {
  return `${runId}:${seq}:${name}`;
}

type Data = Record<string, Json | undefined>;

/** A task attempt's report: the event that ended it. */
type TaskOutcome = HistoryEventOf<'task_completed' | 'task_failed'>;

/** The attempt a step event records, if it records one. */
const attemptOf = (event: HistoryEvent): number | undefined =>
  event.type === 'step_started' || event.type === 'step_completed' || event.type === 'step_failed'
    ? event.data?.attempt
    : undefined;

/** Open operations of a finished run were cut short. */
const open = (run: Run, status: TaskStatus): TaskStatus => (isTerminal(run.status) ? 'CANCELED' : status);

function taskAttempts(run: Run, op: RecordedOperation, byId: Map<string, Task>): TaskJson[] {
  const attempts: { taskId: string; attempt: number; ref: string; input: Json; at: number; outcome?: TaskOutcome }[] =
    [];
  for (const event of op.events) {
    if (event.type === 'task_scheduled') {
      const data = event.data;
      attempts.push({
        taskId: String(data?.taskId),
        attempt: Number(data?.attempt ?? 1),
        ref: String(data?.ref ?? op.name),
        input: data?.input ?? null,
        at: event.at,
      });
    } else if (event.type === 'task_completed' || event.type === 'task_failed') {
      const attempt = attempts.find((a) => a.taskId === event.data?.taskId);
      if (attempt) attempt.outcome = event;
    }
  }
  return attempts.map((a, i) => {
    const retried = i < attempts.length - 1;
    const row = byId.get(a.taskId);
    if (row) return taskJson(row, { retried });
    // No queue row (e.g. the history was copied by a migration): the history alone says what happened.
    const outcome = a.outcome;
    const status: TaskStatus = !outcome
      ? open(run, 'SCHEDULED')
      : outcome.type === 'task_completed'
        ? 'COMPLETED'
        : (outcome.data?.status ?? 'FAILED');
    return conductorTask({
      taskId: a.taskId,
      taskType: op.name,
      type: 'SIMPLE',
      ref: a.ref,
      status,
      runId: run.id,
      workflow: run.workflow,
      version: run.version,
      seq: op.seq,
      retryCount: a.attempt - 1,
      input: asMap(a.input, 'input'),
      output: asMap(outcome?.type === 'task_completed' ? outcome.data?.output : undefined, 'result'),
      reason: outcome?.type === 'task_failed' ? outcome.data?.reason : undefined,
      scheduledTime: a.at,
      endTime: a.outcome?.at,
      updateTime: a.outcome?.at ?? a.at,
      workerId: outcome?.data?.workerId ?? undefined,
      retried,
    });
  });
}

/**
 * How a declarative system task records itself: a step named by its reference, output `{ taskType, input, output }`.
 */
function systemRecord(output: Json | undefined): { taskType: string; input: Json; output: Json } | undefined {
  if (output === null || typeof output !== 'object' || Array.isArray(output)) return undefined;
  const record = output as Data;
  return typeof record.taskType === 'string' && 'output' in record
    ? { taskType: record.taskType, input: record.input ?? null, output: record.output ?? null }
    : undefined;
}

function stepTask(run: Run, op: RecordedOperation): TaskJson {
  const first = op.events[0]!;
  const last = op.events[op.events.length - 1]!;
  const done = op.events.find((e) => e.type === 'step_completed');
  const failures = op.events.filter((e) => e.type === 'step_failed');
  const lastFailure = failures[failures.length - 1];
  let status: TaskStatus;
  if (done) status = done.data?.skipped ? 'SKIPPED' : 'COMPLETED';
  else if (last.type === 'step_failed') status = last.data?.retryAt === undefined ? 'FAILED' : open(run, 'SCHEDULED');
  else if (last.type === 'operator_action') status = open(run, 'SCHEDULED');
  else status = open(run, 'IN_PROGRESS');
  const attempt = Math.max(1, ...op.events.map((e) => Number(attemptOf(e) ?? 1)));
  const output = done?.data?.output;
  const record = systemRecord(output);
  const startedAt = done?.data?.startedAt;
  const failure = lastFailure ?? last;
  const ended = status === 'COMPLETED' || status === 'SKIPPED' || status === 'FAILED';
  return conductorTask({
    taskId: operationTaskId(run.id, op.seq, op.name),
    taskType: record?.taskType ?? STEP_TYPE,
    type: record?.taskType ?? STEP_TYPE,
    ref: op.name,
    status,
    runId: run.id,
    workflow: run.workflow,
    version: run.version,
    seq: op.seq,
    retryCount: attempt - 1,
    input: asMap(record?.input, 'input'),
    output: asMap(record ? record.output : output, 'result'),
    reason:
      (status === 'FAILED' || status === 'SCHEDULED') && failure.type === 'step_failed'
        ? failure.data?.error?.message
        : undefined,
    scheduledTime: first.at,
    startTime: typeof startedAt === 'number' ? startedAt : first.at,
    endTime: ended ? last.at : undefined,
    updateTime: last.at,
  });
}

function signalTask(run: Run, op: RecordedOperation): TaskJson {
  const first = op.events[0]!;
  const last = op.events[op.events.length - 1]!;
  const received = op.events.find((e) => e.type === 'signal_received');
  const timedOut = op.events.some((e) => e.type === 'signal_timed_out');
  const status: TaskStatus = received || timedOut ? 'COMPLETED' : open(run, 'IN_PROGRESS');
  return conductorTask({
    taskId: operationTaskId(run.id, op.seq, op.name),
    taskType: 'WAIT',
    type: 'WAIT',
    ref: op.name,
    status,
    runId: run.id,
    workflow: run.workflow,
    version: run.version,
    seq: op.seq,
    retryCount: 0,
    input: { signal: op.name },
    output: received ? asMap(received.data?.payload, 'payload') : {},
    scheduledTime: first.at,
    startTime: first.at,
    endTime: status === 'COMPLETED' ? last.at : undefined,
    updateTime: last.at,
  });
}

function timerTask(run: Run, op: RecordedOperation): TaskJson {
  const first = op.events[0]!;
  const last = op.events[op.events.length - 1]!;
  const fired = op.events.some((e) => e.type === 'timer_fired');
  const until = first.type === 'timer_set' ? first.data?.until : undefined;
  const ref = `timer_${op.seq}`;
  return conductorTask({
    taskId: operationTaskId(run.id, op.seq, ref),
    taskType: 'WAIT',
    type: 'WAIT',
    ref,
    status: fired ? 'COMPLETED' : open(run, 'IN_PROGRESS'),
    runId: run.id,
    workflow: run.workflow,
    version: run.version,
    seq: op.seq,
    retryCount: 0,
    input: typeof until === 'number' ? { until: new Date(until).toISOString() } : {},
    output: {},
    scheduledTime: first.at,
    startTime: first.at,
    endTime: fired ? last.at : undefined,
    updateTime: last.at,
  });
}
