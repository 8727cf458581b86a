import { WaymarkError } from '../core/errors.js';
import { roundTrip } from '../core/json.js';
import { indexHistory, type RecordedOperation } from '../core/replay.js';
import {
  currentEpoch,
  HISTORY_FORMAT,
  isTerminal,
  toNewEvent,
  type HistoryEvent,
  type Json,
  type NewEvent,
  type Run,
} from '../core/types.js';
import type { Store } from '../store/types.js';
import { defaultActor } from '../runtime/operator.js';
import { assertStorable } from '../runtime/refused-commits.js';
import type { WorkflowRegistry } from '../runtime/registry.js';

export interface RestartOptions {
  /** Version to run: the run's own, the latest active one, or a number. (Default: 'same') */
  version?: 'same' | 'latest' | number;
  actor?: string;
  reason?: string;
}

export interface RerunOptions {
  /** A new input for the rerun. (Default: the run's input) */
  input?: unknown;
  actor?: string;
  reason?: string;
}

/** Runs a finished run again from the start, with the same id, in a new history epoch (the earlier attempt is kept). */
export async function restartRun(
  store: Store,
  registry: WorkflowRegistry,
  runId: string,
  options: RestartOptions = {},
): Promise<Run> {
  const { run, all } = await finishedRun(store, runId, 'restart');
  await registry.refresh(store, run.workflow, 0);
  const version =
    options.version === undefined || options.version === 'same'
      ? run.version
      : options.version === 'latest'
        ? registry.resolveVersion(run.workflow, undefined)
        : registry.resolveVersion(run.workflow, options.version);
  return startEpoch(store, run, all, {
    version,
    input: run.input,
    keep: [],
    what: 'run_restarted',
    actor: options.actor,
    reason: options.reason,
  });
}

/**
 * Re-executes a finished run from one of its steps or tasks (by name, a task also by its ref, or by seq),
 * keeping the checkpoints recorded before it.
 */
export async function rerunFrom(
  store: Store,
  runId: string,
  step: string | { seq: number },
  options: RerunOptions = {},
): Promise<Run> {
  const { run, all } = await finishedRun(store, runId, 'rerun');
  const ops = [...indexHistory(currentEpoch(all, run.epoch)).values()].filter(
    (op) => op.kind === 'step' || op.kind === 'task',
  );
  const refOf = (op: RecordedOperation) => op.events.find((e) => e.type === 'task_scheduled')?.data?.ref;
  const from =
    typeof step === 'object'
      ? ops.find((op) => op.seq === step.seq)
      : ops.find((op) => op.name === step || refOf(op) === step);
  if (!from) {
    const names = ops.map((op) => (op.kind === 'task' ? `${refOf(op) ?? op.name} (task)` : op.name));
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `run '${runId}' has no step or task ${typeof step === 'object' ? `at seq ${step.seq}` : `'${step}'`} (has: ` +
        `${names.join(', ') || 'none'})`,
    );
  }
  const keep = [...indexHistory(currentEpoch(all, run.epoch)).values()]
    .filter((op) => op.seq < from.seq)
    .flatMap((op) => op.events);
  const input = options.input === undefined ? run.input : ((roundTrip(options.input, 'input') as Json) ?? null);
  return startEpoch(store, run, all, {
    version: run.version,
    input,
    keep,
    what: 'run_rerun',
    step: from.name,
    actor: options.actor,
    reason: options.reason,
  });
}

async function finishedRun(store: Store, runId: string, what: string): Promise<{ run: Run; all: HistoryEvent[] }> {
  const run = await store.getRun(runId);
  if (!run) throw new WaymarkError('E_RUN_NOT_FOUND', `run '${runId}' does not exist`);
  if (!isTerminal(run.status))
    throw new WaymarkError(
      'E_RUN_STATE',
      `cannot ${what} run '${runId}': it is ${run.status}; only finished runs run again`,
    );
  if (run.lockKey || run.expiresAt) {
    throw new WaymarkError(
      'E_RUN_STATE',
      `cannot ${what} run '${runId}': runs that hold a target lock or have a lifetime run again as new runs`,
    );
  }
  return { run, all: await store.history(runId) };
}

async function startEpoch(
  store: Store,
  run: Run,
  all: HistoryEvent[],
  plan: {
    version: number;
    input: Json;
    keep: HistoryEvent[];
    what: 'run_restarted' | 'run_rerun';
    step?: string;
    actor?: string;
    reason?: string;
  },
): Promise<Run> {
  const actor = plan.actor ?? defaultActor();
  const epoch = Math.max(...all.map((e) => e.epoch ?? 0)) + 1;
  const events: NewEvent[] = [
    {
      type: 'run_started',
      data: { workflow: run.workflow, version: plan.version, input: plan.input, format: HISTORY_FORMAT },
    },
    ...plan.keep.map(toNewEvent),
    {
      type: 'operator_action',
      data: {
        action: plan.what === 'run_restarted' ? 'restart' : 'rerun',
        actor,
        reason: plan.reason ?? '(no reason given)',
        fromEpoch: run.epoch,
        version: plan.version,
        ...(plan.step ? { step: plan.step } : {}),
      },
    },
  ];
  const [outcome] = await store.commit(
    [
      {
        runId: run.id,
        workerId: actor,
        fromPos: all.length,
        asOperator: true,
        events,
        update: {
          status: 'running',
          version: plan.version,
          epoch,
          input: plan.input,
          clearResult: true,
          dueAt: Date.now(),
          waitingFor: null,
          attention: null,
          releaseLease: true,
        },
      },
    ],
    0,
  );
  assertStorable(outcome!, `${plan.what === 'run_restarted' ? 'restart' : 'rerun'} of run '${run.id}'`);
  if (!outcome!.ok)
    throw new WaymarkError('E_RUN_BUSY', `run '${run.id}' changed meanwhile; nothing was changed, try again`);
  return (await store.getRun(run.id))!;
}
