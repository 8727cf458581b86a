import type { FastifyInstance } from 'fastify';
import { nextChange } from '../next-change.js';
import { isTerminalTask, type TaskResult } from '../../core/tasks.js';
import { isTerminal, type Json, type Run } from '../../core/types.js';
import type { Engine } from '../../engine.js';
import { runDetail, type ConductorContext } from './context.js';
import { badRequest, notFound } from './errors.js';
import { operationTaskId } from './history-tasks.js';
import { bodyObject, integer, sendEmpty, sendJson, text } from './replies.js';
import { forWorkers } from './route-roles.js';
import { asMap } from './task-shape.js';
import { workflowJson } from './workflow-shape.js';

type Query = Record<string, unknown>;

/** The statuses a report by reference name or a signal may set. */
export const REPORT_STATUSES: TaskResult['status'][] = [
  'IN_PROGRESS',
  'COMPLETED',
  'FAILED',
  'FAILED_WITH_TERMINAL_ERROR',
];
const RETURN_STRATEGIES = ['TARGET_WORKFLOW', 'BLOCKING_WORKFLOW', 'BLOCKING_TASK', 'BLOCKING_TASK_INPUT'];
/** How long a synchronous update waits, by default, for the workflow to take the report in (seconds). */
const SYNC_WAIT_S = 10;

/**
 * Reports on the open task `ref` of a run (its output merged over what the task has), or, for a code
 * workflow waiting for the signal `ref`, sends it (COMPLETED only). Returns the task id; 404 when neither is open.
 */
export async function reportByRef(
  engine: Engine,
  runId: string,
  ref: string,
  status: string,
  output: Record<string, Json>,
  workerId?: string,
): Promise<string> {
  const result = statusOf(status);
  const run = await engine.getRun(runId);
  const open = (await engine.tasks.ofRun(runId)).filter((t) => t.refName === ref && !isTerminalTask(t.status)).pop();
  if (open) {
    const merged = { ...asMap(open.output, 'result'), ...output };
    await engine.tasks.report(open.taskId, { status: result, output: merged, ...(workerId ? { workerId } : {}) });
    return open.taskId;
  }
  // A code workflow waiting for a signal shows it as a WAIT task named by the signal: completing it sends the signal.
  const wait = run.waitingFor;
  if (result === 'COMPLETED' && wait?.kind === 'signal' && (wait.signals ?? [wait.name]).includes(ref)) {
    await engine.signal(runId, ref, output);
    return operationTaskId(runId, wait.seq ?? 0, ref);
  }
  throw notFound(`workflow '${runId}' has no open task '${ref}'`);
}

/** Orkes' synchronous updates and signals: a report, then the workflow once it has taken the report in. */
export function signalRoutes(app: FastifyInstance, context: ConductorContext): void {
  const { engine } = context;
  type ByRef = { Params: { workflowId: string; taskRefName: string; status: string }; Querystring: Query };
  type Signal = { Params: { workflowId: string; status: string }; Querystring: Query };

  app.post<ByRef>('/tasks/:workflowId/:taskRefName/:status/sync', forWorkers, async (request, reply) => {
    const { workflowId, taskRefName, status } = request.params;
    const output = bodyObject(request.body, 'the task output') as Record<string, Json>;
    const mark = await historyLength(engine, workflowId);
    await reportByRef(engine, workflowId, taskRefName, status, output, text(request.query, 'workerid', 'workerId'));
    const run = await untilTakenIn(context, workflowId, mark, waitMs(request.query));
    return sendJson(reply, workflowJson(run, await runDetail(context, run)));
  });

  app.post<Signal>('/tasks/:workflowId/:status/signal', forWorkers, async (request, reply) => {
    await signalBlocking(engine, request.params.workflowId, request.params.status, request.body);
    return sendEmpty(reply);
  });

  app.post<Signal>('/tasks/:workflowId/:status/signal/sync', forWorkers, async (request, reply) => {
    const { workflowId, status } = request.params;
    const strategy = text(request.query, 'returnStrategy') ?? 'TARGET_WORKFLOW';
    if (!RETURN_STRATEGIES.includes(strategy))
      throw badRequest('returnStrategy', `returnStrategy must be one of ${RETURN_STRATEGIES.join(', ')}`, strategy);
    const mark = await historyLength(engine, workflowId);
    await signalBlocking(engine, workflowId, status, request.body);
    const run = await untilTakenIn(context, workflowId, mark, waitMs(request.query));
    const workflow = workflowJson(run, await runDetail(context, run));
    const target = { targetWorkflowId: run.id, targetWorkflowStatus: workflow.status, workflowId: run.id };
    if (strategy === 'BLOCKING_TASK' || strategy === 'BLOCKING_TASK_INPUT') {
      const tasks = workflow.tasks as { status: string; inputData?: unknown }[];
      const blocking = tasks.find((t) => t.status === 'SCHEDULED' || t.status === 'IN_PROGRESS');
      const body = strategy === 'BLOCKING_TASK' ? (blocking ?? {}) : { input: blocking?.inputData ?? {} };
      return sendJson(reply, { ...body, ...target, responseType: strategy });
    }
    return sendJson(reply, { ...workflow, ...target, responseType: strategy });
  });
}

/** Completes (or fails) the task the run waits on first: its open task of lowest seq, else its awaited signal. */
async function signalBlocking(engine: Engine, runId: string, status: string, body: unknown): Promise<void> {
  const output = bodyObject(body, 'the task output') as Record<string, Json>;
  statusOf(status);
  const open = (await engine.tasks.ofRun(runId)).filter((t) => !isTerminalTask(t.status));
  const first = open.sort((a, b) => a.seq - b.seq)[0];
  const run = await engine.getRun(runId);
  const wait = run.waitingFor;
  const ref = first?.refName ?? (wait?.kind === 'signal' ? (wait.signals?.[0] ?? wait.name) : undefined);
  if (ref === undefined) throw notFound(`workflow '${runId}' has no task waiting for a signal`);
  await reportByRef(engine, runId, ref, status, output);
}

function statusOf(status: string): TaskResult['status'] {
  if (!REPORT_STATUSES.includes(status as TaskResult['status']))
    throw badRequest('status', `status must be one of ${REPORT_STATUSES.join(', ')}, got '${status}'`, status);
  return status as TaskResult['status'];
}

const waitMs = (q: Query) => integer(q, 'waitForSeconds', { min: 0, max: 600, fallback: SYNC_WAIT_S }) * 1000;

async function historyLength(engine: Engine, runId: string): Promise<number> {
  await engine.getRun(runId); // 404 for an unknown run, before anything else
  return (await engine.history(runId)).length;
}

/**
 * The run once its history has grown past `mark` (it recorded the report) and it is not mid-execution, or it is
 * over, or `timeoutMs` passed. Looks again after every change this engine commits to it, else every 250 ms.
 */
async function untilTakenIn(context: ConductorContext, runId: string, mark: number, timeoutMs: number): Promise<Run> {
  const { engine, closing } = context;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await engine.getRun(runId);
    const grown = (await engine.history(runId)).length > mark;
    const left = deadline - Date.now();
    if ((grown && run.status !== 'running') || isTerminal(run.status) || left <= 0 || closing.aborted) return run;
    await nextChange(engine, (change) => change.runId === runId, Math.min(left, 250), closing);
  }
}
