import { userInfo } from 'node:os';
import { WaymarkError } from '../core/errors.js';
import { checkStorableText, roundTrip } from '../core/json.js';
import {
  currentEpoch,
  isTerminal,
  type HistoryEvent,
  type Json,
  type NewEvent,
  type OperatorAction,
  type Run,
} from '../core/types.js';
import type { RunUpdate, Store } from '../store/types.js';
import { assertStorable } from './refused-commits.js';

/** Who acts and why; recorded with every operator action. */
export interface OperatorOptions {
  /** Who acts. (Default: the OS user name) */
  actor?: string;
  /** Why. (Default: '(no reason given)') */
  reason?: string;
}

export interface SkipStepOptions extends OperatorOptions {
  /** Recorded as the parked step's output (ignored when skipping a compensation). */
  output?: unknown;
}

/** What an operator action did: applied now, or left for the worker executing the run (cancel, compensate). */
export interface OperatorResult {
  run: Run;
  applied: boolean;
}

/** Parked-run reasons whose step an operator can retry or skip. */
const STEP_REASONS = ['unknown_outcome', 'step_failed', 'compensation_failed'];

/**
 * Parked-run reasons an operator resumes (after a fix is deployed, or to give it more time): the run replays and goes
 * on.
 */
export const RESUMABLE_REASONS = ['nondeterminism', 'expired', 'invalid_value'];

/**
 * Applies an operator action: checks that it fits the run's state (refusing clearly, changing nothing,
 * when it does not), then records it in the history with actor and reason in one fenced commit. Cancel
 * compensate and pause of a run a live worker is executing are handed to that worker.
 */
export async function applyOperatorAction(
  store: Store,
  runId: string,
  action: OperatorAction,
  options: SkipStepOptions = {},
): Promise<OperatorResult> {
  const actor = checkStorableText(options.actor ?? defaultActor(), 'actor');
  const reason = checkStorableText(options.reason ?? '(no reason given)', 'reason');
  const output = action === 'skip_step' ? (roundTrip(options.output, 'output') as Json | undefined) : undefined;
  for (let tries = 0; tries < 5; tries++) {
    const run = await store.getRun(runId);
    if (!run) throw new WaymarkError('E_RUN_NOT_FOUND', `run '${runId}' does not exist`);
    const history = await store.history(runId);
    const plan = planAction(run, history, action, { actor, reason, output });
    const [outcome] = await store.commit(
      [{ runId, workerId: actor, fromPos: history.length, events: plan.events, update: plan.update, asOperator: true }],
      0,
    );
    if (outcome!.ok) return { run: (await store.getRun(runId))!, applied: true };
    assertStorable(outcome!, `${action} of run '${runId}'`);
    if (outcome!.reason === 'lease_lost') {
      if (action !== 'cancel' && action !== 'compensate' && action !== 'pause') {
        throw new WaymarkError(
          'E_RUN_BUSY',
          `run '${runId}' is executing on a worker: ${action} applies only to a parked run`,
        );
      }
      if (await store.setPendingAction(runId, { action, actor, reason, at: Date.now() })) {
        return { run: (await store.getRun(runId))!, applied: false };
      }
    }
    // The history moved or the lease came free meanwhile: look again.
  }
  throw new WaymarkError('E_RUN_BUSY', `run '${runId}' kept changing; ${action} was not applied, try again`);
}

/** Every operator action, in the order `describe` lists them. */
const ACTIONS: OperatorAction[] = ['retry_step', 'skip_step', 'resume', 'pause', 'compensate', 'cancel'];

/** The operator actions that apply to the run now: those planAction accepts (one set of rules for both). */
export function availableActions(run: Run, history: HistoryEvent[]): OperatorAction[] {
  return ACTIONS.filter((action) => {
    try {
      planAction(run, history, action, { actor: 'check', reason: 'check' });
      return true;
    } catch {
      return false;
    }
  });
}

interface Plan {
  events: NewEvent[];
  update: RunUpdate;
}

/** The events and run change an action makes, or E_RUN_STATE when it does not apply to the run as it is. */
export function planAction(
  run: Run,
  history: HistoryEvent[],
  action: OperatorAction,
  facts: { actor: string; reason: string; output?: Json },
): Plan {
  const { actor, reason } = facts;
  const parked =
    run.status === 'needs_attention'
      ? ((run.attention?.details as { reason?: string; step?: string; seq?: number } | undefined) ?? {})
      : undefined;
  const refuse = (why: string) =>
    new WaymarkError('E_RUN_STATE', `cannot ${action.replace('_', ' ')} run '${run.id}': ${why}`, {
      details: { runId: run.id, status: run.status, reason: parked?.reason ?? null },
    });
  const recorded: NewEvent = { type: 'operator_action', data: { action, actor, reason } };
  const resumeNow: RunUpdate = {
    status: 'running',
    dueAt: Date.now(),
    attention: null,
    waitingFor: null,
    releaseLease: true,
  };

  switch (action) {
    case 'retry_step':
    case 'skip_step': {
      if (!parked || !STEP_REASONS.includes(parked.reason ?? '')) {
        throw refuse(
          `it is ${describeState(run)}; only a run parked on a failed, unknown or uncompensated step has a step to ` +
            `${action === 'retry_step' ? 'retry' : 'skip'}`,
        );
      }
      const seq = parked.seq!;
      const name = parked.step!;
      const compensation = parked.reason === 'compensation_failed';
      const data = { action, actor, reason, step: name, ...(compensation ? { phase: 'compensation' as const } : {}) };
      const events: NewEvent[] = [{ type: 'operator_action', seq, name, data }];
      if (action === 'skip_step') {
        const by = { by: actor, reason, skipped: true };
        if (compensation) events.push({ type: 'compensation_completed', seq, name, data: by });
        else
          events.push({
            type: 'step_completed',
            seq,
            name,
            data: facts.output === undefined ? by : { ...by, output: facts.output },
          });
      }
      return { events, update: compensation ? { ...resumeNow, status: 'compensating' } : resumeNow };
    }
    case 'compensate': {
      if (isTerminal(run.status) || run.status === 'compensating') throw refuse(`it is ${run.status}`);
      if (parked?.reason === 'nondeterminism')
        throw refuse('its code no longer replays its history; deploy code that does, then resume it');
      return {
        events: [recorded, { type: 'compensation_started', data: { reason: 'operator', actor, why: reason } }],
        update: {
          ...resumeNow,
          status: 'compensating',
          error: { name: 'WaymarkError', code: 'E_RUN_CANCELLED', message: `compensated by ${actor}: ${reason}` },
        },
      };
    }
    case 'cancel': {
      if (isTerminal(run.status)) throw refuse(`it is already ${run.status}`);
      return {
        events: [recorded, { type: 'run_cancelled', data: { actor, reason } }],
        update: {
          status: 'cancelled',
          waitingFor: null,
          releaseLease: true,
          error: { name: 'WaymarkError', code: 'E_RUN_CANCELLED', message: `cancelled by ${actor}: ${reason}` },
        },
      };
    }
    case 'pause': {
      if (run.status !== 'running' && run.status !== 'waiting')
        throw refuse(`it is ${run.status}; only a running or waiting run can be paused`);
      return { events: [recorded], update: { status: 'paused', releaseLease: true, clearPendingAction: true } };
    }
    case 'resume': {
      // it replays and waits again as before
      if (run.status === 'paused') return { events: [recorded], update: { ...resumeNow, status: 'running' } };
      if (!parked) throw refuse(`it is ${run.status}, not parked for an operator`);
      if (!RESUMABLE_REASONS.includes(parked.reason ?? '')) {
        throw refuse(`it is parked on ${parked.reason} of step '${parked.step}': retry or skip that step instead`);
      }
      return {
        events: [recorded],
        update: {
          ...resumeNow,
          status: currentEpoch(history, run.epoch).some((e) => e.type === 'compensation_started')
            ? 'compensating'
            : 'running',
        },
      };
    }
  }
}

function describeState(run: Run): string {
  const reason = (run.attention?.details as { reason?: string } | undefined)?.reason;
  return run.status === 'needs_attention' && reason ? `parked on ${reason}` : run.status;
}

/** The OS user name, else 'operator'. */
export function defaultActor(): string {
  try {
    return userInfo().username;
  } catch {
    return 'operator';
  }
}
