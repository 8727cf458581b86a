import { indexHistory, type RecordedOperation } from '../../core/replay.js';
import { isTerminalTask } from '../../core/tasks.js';
import { currentEpoch, isTaskEvent, isTerminal, type HistoryEvent, type Json, type Run } from '../../core/types.js';
import type { Engine } from '../../engine.js';
import { RESUMABLE_REASONS, type OperatorOptions } from '../../runtime/operator.js';
import { MAX_VERSION } from '../../runtime/workflow.js';
import { badRequest, conflict, notFound } from './errors.js';
import { workflowStatus } from './workflow-shape.js';

/**
 * Conductor's operations on one workflow, on Waymark's operator actions, each recorded with `who` (actor and
 * reason). Each throws (a ConductorError or a WaymarkError the plugin maps) when it does not fit the run, and
 * changes nothing then.
 */

/** The reason recorded when the request gives none. */
export const VIA_API = { reason: 'requested over the Conductor API' };

/** Terminate: cancel the run. A COMPLETED one is 409; one already over otherwise is left as it is. */
export async function terminate(engine: Engine, id: string, who: OperatorOptions = VIA_API): Promise<void> {
  const run = await engine.getRun(id);
  if (run.status === 'completed') throw conflict(`cannot terminate workflow '${id}': it is COMPLETED`);
  if (isTerminal(run.status)) return;
  await engine.cancel(id, { ...VIA_API, ...who });
}

/** Longest a removal waits for a terminated run to stop (a worker elsewhere may hold it). */
const REMOVE_WAIT_MS = 10_000;

/**
 * Remove: deletes the workflow with its history and tasks, as Conductor does whatever its status: one still
 * going is terminated first (recorded with `who`), then removed once it has stopped.
 */
export async function remove(engine: Engine, id: string, who: OperatorOptions = VIA_API): Promise<void> {
  let run = await engine.getRun(id);
  if (!isTerminal(run.status)) {
    await engine.cancel(id, { ...VIA_API, ...who });
    const deadline = Date.now() + REMOVE_WAIT_MS;
    for (run = await engine.getRun(id); !isTerminal(run.status) && Date.now() < deadline; run = await engine.getRun(id))
      await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await engine.removeRun(id);
}

/**
 * Pause: nothing new executes until resume (tasks already handed
 * out may still be reported). Pausing a PAUSED one is a no-op.
 */
export async function pause(engine: Engine, id: string, who: OperatorOptions = VIA_API): Promise<void> {
  const run = await engine.getRun(id);
  if (run.status === 'paused') return;
  if (isTerminal(run.status)) throw conflict(`cannot pause workflow '${id}': it is ${workflowStatus(run)}`);
  await engine.pause(id, who);
}

/** Resume a PAUSED workflow (409 otherwise). */
export async function resume(engine: Engine, id: string, who: OperatorOptions = VIA_API): Promise<void> {
  const run = await engine.getRun(id);
  if (run.status !== 'paused')
    throw conflict(`cannot resume workflow '${id}': it is ${workflowStatus(run)}, not PAUSED`);
  await engine.resume(id, who);
}

/** Restart: a finished run again from the start, same id, on its version or the latest. */
export async function restart(
  engine: Engine,
  id: string,
  useLatestDefinitions: boolean,
  restartable: (run: Run) => Promise<boolean>,
  who: OperatorOptions = VIA_API,
): Promise<void> {
  const run = await engine.getRun(id);
  if (isTerminal(run.status) && !(await restartable(run)))
    throw conflict(`workflow '${id}' is not restartable: its definition says restartable: false`);
  await engine.restart(id, { version: useLatestDefinitions ? 'latest' : 'same', ...who });
}

/**
 * Retry: a run parked for an operator (FAILED here) has its step retried (or, parked on a divergence or its
 * expiry, is resumed); a failed or terminated run re-executes from its last unfinished step, keeping the
 * checkpoints before it. RUNNING is 404 (as Conductor answers), COMPLETED or nothing to retry 409.
 */
export async function retry(engine: Engine, id: string, who: OperatorOptions = VIA_API): Promise<void> {
  const run = await engine.getRun(id);
  const status = workflowStatus(run);
  if (status === 'RUNNING' || status === 'PAUSED')
    throw notFound(`workflow '${id}' is still ${status}: there is nothing to retry`);
  if (run.status === 'completed') throw conflict(`workflow '${id}' is COMPLETED: there is nothing to retry`);
  if (run.status === 'needs_attention') {
    const parked = (run.attention?.details as { reason?: string } | undefined)?.reason;
    if (RESUMABLE_REASONS.includes(parked ?? '')) await engine.resume(id, who);
    else await engine.retryStep(id, who);
    return;
  }
  if (run.status === 'compensated')
    throw conflict(`workflow '${id}' was compensated (its completed steps were undone): restart it instead`);
  const op = lastUnfinished(run, await engine.history(id));
  if (!op) throw conflict(`workflow '${id}' has no failed or unfinished task to retry: restart it instead`);
  await rerunFromOperation(engine, run, op, undefined, who);
}

/**
 * Rerun a finished run (same id): from the start, or from `reRunFromTaskId` (checkpoints before it kept),
 * optionally with a new input. A task's own input cannot be replaced (its workflow computes it).
 */
export async function rerun(
  engine: Engine,
  id: string,
  body: Record<string, unknown>,
  who: OperatorOptions = VIA_API,
): Promise<void> {
  const run = await engine.getRun(id);
  if (!isTerminal(run.status))
    throw conflict(`cannot rerun workflow '${id}': it is ${workflowStatus(run)}; only finished workflows rerun`);
  const taskInput = body.taskInput;
  if (
    taskInput !== undefined &&
    taskInput !== null &&
    !(typeof taskInput === 'object' && Object.keys(taskInput).length === 0)
  ) {
    throw badRequest(
      'taskInput',
      "taskInput is not supported: a task's input is computed by its workflow (give workflowInput)",
      taskInput,
    );
  }
  const input =
    body.workflowInput === undefined || body.workflowInput === null ? undefined : (body.workflowInput as Json);
  const from =
    typeof body.reRunFromTaskId === 'string' && body.reRunFromTaskId !== '' ? body.reRunFromTaskId : undefined;
  const ops = operations(run, await engine.history(id));
  if (from === undefined) {
    if (input === undefined) {
      await engine.restart(id, { version: 'same', ...who });
      return;
    }
    const first = ops[0];
    if (!first) throw conflict(`workflow '${id}' has no task to rerun from with a new input: restart it instead`);
    return rerunFromOperation(engine, run, first, input, who);
  }
  const op = ops.find(
    (o) => o.events.some((e) => isTaskEvent(e) && e.data?.taskId === from) || `${run.id}:${o.seq}:${o.name}` === from,
  );
  if (!op) throw notFound(`workflow '${id}' has no task '${from}'`);
  return rerunFromOperation(engine, run, op, input, who);
}

/**
 * Skip a task: a parked step gets `output` recorded, an open task completes with it, an awaited signal is sent with it.
 */
export async function skipTask(
  engine: Engine,
  id: string,
  ref: string,
  output: Json | undefined,
  who: OperatorOptions = VIA_API,
): Promise<void> {
  const run = await engine.getRun(id);
  if (isTerminal(run.status))
    throw conflict(`cannot skip task '${ref}' of workflow '${id}': it is ${workflowStatus(run)}`);
  const parked =
    run.status === 'needs_attention' ? (run.attention?.details as { step?: string } | undefined)?.step : undefined;
  if (parked === ref) {
    await engine.skipStep(id, { output: output ?? {}, ...who });
    return;
  }
  const open = (await engine.tasks.ofRun(id)).filter((t) => t.refName === ref && !isTerminalTask(t.status)).pop();
  if (open) {
    await engine.tasks.report(open.taskId, {
      status: 'COMPLETED',
      output: output ?? {},
      reason: 'skipped over the Conductor API',
    });
    return;
  }
  const wait = run.waitingFor;
  if (wait?.kind === 'signal' && (wait.signals ?? [wait.name]).includes(ref)) {
    await engine.signal(id, ref, output ?? {});
    return;
  }
  throw conflict(
    `workflow '${id}' has no task '${ref}' to skip now (a scheduled or running task, ` +
      `a parked step or an awaited signal)`,
  );
}

/** Upgrade to `version` once it replays the run's history; a divergence is 409 with the reason. */
export async function upgrade(
  engine: Engine,
  id: string,
  body: Record<string, unknown>,
  who: OperatorOptions = VIA_API,
): Promise<void> {
  const { name, version, taskOutput, workflowInput } = body;
  if (typeof name !== 'string' || name === '') throw badRequest('name', 'name is required', name);
  if (!Number.isInteger(version) || (version as number) < 1 || (version as number) > MAX_VERSION)
    throw badRequest('version', `version is required: an integer from 1 to ${MAX_VERSION}`, version);
  const run = await engine.getRun(id);
  if (name !== run.workflow)
    throw badRequest('name', `workflow '${id}' is a run of '${run.workflow}', not '${name}'`, name);
  for (const [field, value] of [
    ['taskOutput', taskOutput],
    ['workflowInput', workflowInput],
  ] as const) {
    if (value !== undefined && value !== null && !(typeof value === 'object' && Object.keys(value).length === 0)) {
      throw badRequest(
        field,
        `${field} is not supported: an upgrade replays the run's history on the new ` +
          `version unchanged (a migration rewrites it: see POST /v1/runs/{id}/upgrade)`,
        value,
      );
    }
  }
  await engine.upgrade(id, { to: version as number, ...who });
}

/** Steps and tasks of the run's current epoch, by seq. */
function operations(run: Run, history: HistoryEvent[]): RecordedOperation[] {
  return [...indexHistory(currentEpoch(history, run.epoch)).values()]
    .filter((op) => op.kind === 'step' || op.kind === 'task')
    .sort((a, b) => a.seq - b.seq);
}

/** The last step or task that did not complete (the failed one, or the one cut short). */
function lastUnfinished(run: Run, history: HistoryEvent[]): RecordedOperation | undefined {
  return operations(run, history)
    .reverse()
    .find((op) => !op.events.some((e) => e.type === 'step_completed' || e.type === 'task_completed'));
}

async function rerunFromOperation(
  engine: Engine,
  run: Run,
  op: RecordedOperation,
  input: Json | undefined,
  who: OperatorOptions,
): Promise<void> {
  await engine.rerunFrom(run.id, { seq: op.seq }, { ...(input !== undefined ? { input } : {}), ...who });
}
