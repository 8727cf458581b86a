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
import { HTTP_ASYNC_TASK } from '../../declarative/interpreter.js';
import { graphTaskOf, type GraphFacts } from './graph-facts.js';
import { asMap, conductorTask, taskJson, type TaskJson } from './task-shape.js';

/** The type of a step that is not a declarative system task (a code workflow's ctx.step). */
export const STEP_TYPE = 'WAYMARK_STEP';

/**
 * A run's Conductor tasks, built from its history (current epoch) in seq order: every attempt of a worker
 * task (status and worker facts from the task queue), every step (a declarative system task under its own
 * type, else WAYMARK_STEP), signal waits and timers as WAIT tasks. Recorded values (now, random) are left out.
 * `graph` (a declarative run's definition) gives system tasks their type and name even when they failed, and
 * shows an optional task's failure as COMPLETED_WITH_ERRORS. An epoch that retried a failed task keeps the
 * failed attempts of the epoch before it (`retried: true`), the new attempt counting on from them.
 */
export function historyTasks(run: Run, history: HistoryEvent[], rows: Task[], graph?: GraphFacts): TaskJson[] {
  const byId = new Map(rows.map((t) => [t.taskId, t]));
  return epochTasks(run, history, run.epoch, byId, graph);
}

/** When the run's current epoch began with a Conductor retry (a rerun of a failed task), else 0. */
export function lastRetriedTime(run: Run, history: HistoryEvent[]): number {
  return retryOf(history, run.epoch)?.at ?? 0;
}

/** The retry an epoch began with: a rerun from an operation that did not complete in the epoch before. */
function retryOf(history: HistoryEvent[], epoch: number): { fromEpoch: number; seq: number; at: number } | undefined {
  const action = currentEpoch(history, epoch).find((e) => e.type === 'operator_action');
  if (action?.type !== 'operator_action') return undefined;
  const { action: kind, fromEpoch, step } = action.data ?? { action: undefined };
  if (kind !== 'rerun' || fromEpoch === undefined || step === undefined || fromEpoch >= epoch) return undefined;
  const failed = [...indexHistory(currentEpoch(history, fromEpoch)).values()]
    .filter((op) => op.name === step && (op.kind === 'task' || op.kind === 'step'))
    .filter((op) => !op.events.some((e) => e.type === 'task_completed' || e.type === 'step_completed'))
    .sort((a, b) => b.seq - a.seq)[0];
  return failed ? { fromEpoch, seq: failed.seq, at: action.at } : undefined;
}

function epochTasks(
  run: Run,
  history: HistoryEvent[],
  epoch: number,
  byId: Map<string, Task>,
  graph: GraphFacts | undefined,
): TaskJson[] {
  const ops = [...indexHistory(currentEpoch(history, epoch)).values()].sort((a, b) => a.seq - b.seq);
  const retry = retryOf(history, epoch);
  const tasks: TaskJson[] = [];
  for (const op of ops) {
    let made: TaskJson[] = [];
    if (op.kind === 'task') made = taskAttempts(run, op, byId, graph);
    else if (op.kind === 'step') made = [stepTask(run, op, graph)];
    else if (op.kind === 'signal') made = [signalTask(run, op)];
    else if (op.kind === 'sleep') made = [timerTask(run, op)];
    if (retry && op.seq === retry.seq)
      made = afterRetried(epochTasks(run, history, retry.fromEpoch, byId, graph), op, made);
    tasks.push(...made);
  }
  return mergeAsyncHttp(tasks, asyncCallPending(run, tasks, graph));
}

/**
 * The ref of an asyncComplete HTTP task whose call is done while its wait for the update is not scheduled yet (the
 * two are committed one after the other): Conductor shows it IN_PROGRESS all along, never COMPLETED in between.
 */
function asyncCallPending(run: Run, tasks: TaskJson[], graph: GraphFacts | undefined): unknown {
  const last = tasks.at(-1);
  if (!last || isTerminal(run.status) || last.taskType !== HTTP_ASYNC_TASK || last.status !== 'COMPLETED') return;
  return graph?.get(String(last.referenceTaskName))?.asyncComplete ? last.referenceTaskName : undefined;
}

/**
 * An asyncComplete HTTP task is one task in Conductor: its call (a step) and its wait for the update (a queue task
 * of the same ref) show as the waiting task, with the call's response as its output until the update replaces it.
 */
function mergeAsyncHttp(tasks: TaskJson[], pendingRef: unknown): TaskJson[] {
  const isStep = (t: TaskJson) => String(t.taskId).startsWith(`${t.workflowInstanceId}:`);
  if (pendingRef !== undefined) {
    const call = tasks.at(-1)!;
    Object.assign(call, { status: 'IN_PROGRESS', endTime: 0 });
  }
  const waits = new Map<unknown, TaskJson>();
  for (const t of tasks) if (t.taskType === HTTP_ASYNC_TASK && !isStep(t)) waits.set(t.referenceTaskName, t);
  if (waits.size === 0) return tasks;
  const out: TaskJson[] = [];
  for (const t of tasks) {
    const wait = waits.get(t.referenceTaskName);
    if (!wait || !isStep(t) || t.taskType !== HTTP_ASYNC_TASK) {
      out.push(t);
      continue;
    }
    const response = t.outputData as Record<string, Json>;
    Object.assign(wait, {
      inputData: t.inputData,
      outputData: wait.status === 'COMPLETED' ? { ...response, ...(wait.outputData as object) } : response,
      startTime: t.startTime,
      seq: t.seq,
    });
  }
  return out;
}

/** The failed attempts of `op` in the epoch before (kept, `retried`), then the new ones counting on from them. */
function afterRetried(before: TaskJson[], op: RecordedOperation, made: TaskJson[]): TaskJson[] {
  const failed = before
    .filter((t) => t.seq === op.seq)
    .map(
      (t, i): TaskJson => ({
        ...t,
        retried: true,
        // a step keeps its id across epochs: the earlier attempt's is told apart by its attempt number
        taskId: made.some((m) => m.taskId === t.taskId) ? `${t.taskId}#${i + 1}` : t.taskId,
      }),
    );
  const last = failed[failed.length - 1];
  if (!last) return made;
  const offset = Number(last.retryCount) + 1;
  const next = made.map((t, i) => ({
    ...t,
    retryCount: Number(t.retryCount) + offset,
    ...(i === 0 ? { retriedTaskId: last.taskId } : {}),
  }));
  return [...failed, ...next];
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

/** Statuses an optional task's last attempt ends with that Conductor shows as COMPLETED_WITH_ERRORS. */
const FAILURES: readonly unknown[] = ['FAILED', 'FAILED_WITH_TERMINAL_ERROR', 'TIMED_OUT'];

/** An optional task whose last attempt failed ended COMPLETED_WITH_ERRORS (its workflow went on). */
function withErrors(task: TaskJson, graph: GraphFacts | undefined): TaskJson {
  const node = graphTaskOf(graph, String(task.referenceTaskName));
  if (!node) return task;
  const marked = { ...task, workflowTask: { ...(task.workflowTask as object), optional: node.optional } };
  return node.optional && !task.retried && FAILURES.includes(task.status)
    ? { ...marked, status: 'COMPLETED_WITH_ERRORS', executed: true }
    : marked;
}

function taskAttempts(
  run: Run,
  op: RecordedOperation,
  byId: Map<string, Task>,
  graph: GraphFacts | undefined,
): TaskJson[] {
  return attemptsOf(run, op, byId).map((task) => withErrors(task, graph));
}

function attemptsOf(run: Run, op: RecordedOperation, byId: Map<string, Task>): TaskJson[] {
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

function stepTask(run: Run, op: RecordedOperation, graph: GraphFacts | undefined): TaskJson {
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
  // A failed system task recorded no type: its definition says what it is.
  const node = graphTaskOf(graph, op.name);
  const type = record?.taskType ?? (node && node.type !== 'SIMPLE' ? node.type : STEP_TYPE);
  const task = conductorTask({
    taskId: operationTaskId(run.id, op.seq, op.name),
    taskType: type,
    ...(node && type === node.type ? { defName: node.name } : {}),
    type,
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
  return withErrors(task, graph);
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
