import { leaseText, type LeaseView } from './leases.js';
import { compensationStates } from './replay.js';
import {
  currentEpoch,
  type HistoryEvent,
  type HistoryEventOf,
  type OperatorAction,
  type Run,
  type StepEffect,
} from './types.js';

/** A completed step that changed the world, and whether compensation has undone it. */
export interface EffectSummary {
  step: string;
  seq: number;
  effect: Exclude<StepEffect, 'none'>;
  completedAt: number;
  /** 'undone' (compensated), 'kept' (irreversible or not yet compensated), or 'skipped by operator'. */
  state: 'undone' | 'kept' | 'skipped';
}

/** An operator's view of a run: where it is, what it changed, what is pending, what can be done now. */
export interface RunDescription {
  run: Run;
  /** One sentence on where the run is. */
  where: string;
  /** The step or wait the run is on, if any. */
  /** `attempt`: the attempt whose outcome is unknown; `attempts`: how many a failed step or compensation used. */
  current:
    | { kind: 'step' | 'wait' | 'compensation'; name: string; seq?: number; attempt?: number; attempts?: number }
    | undefined;
  effects: EffectSummary[];
  /** What remains to happen before the run can end (waits, retries, compensations). */
  pending: string[];
  /** Operator actions that apply to the run right now. */
  actions: OperatorAction[];
  /** Steps completed so far, in order. */
  completedSteps: string[];
  /** The run's lease, when a worker holds one: who, until when, and whether that worker still heartbeats. */
  lease?: LeaseView;
}

/** What describeRun knows of the run's lease, read at `now` (epoch ms). */
export interface LeaseFacts {
  lease: LeaseView | undefined;
  now: number;
}

/**
 * Builds the operator's view of a run from the run, its history, the operator actions that apply to it now and its
 * lease (where it executes, and who takes it over when its worker stopped). (Default: no lease known)
 */
export function describeRun(
  run: Run,
  allEpochs: HistoryEvent[],
  actions: OperatorAction[],
  leased: LeaseFacts = { lease: undefined, now: 0 },
): RunDescription {
  const history = currentEpoch(allEpochs, run.epoch);
  const compensations = compensationStates(history);
  const effects: EffectSummary[] = [];
  const completedSteps: string[] = [];
  const started = new Map<number, HistoryEventOf<'step_started'>>();
  for (const event of history) {
    if (event.type === 'step_started') started.set(event.seq!, event);
    if (event.type !== 'step_completed') continue;
    completedSteps.push(event.name!);
    const effect = event.data?.effect ?? started.get(event.seq!)?.data?.effect ?? 'none';
    if (effect === 'none') continue;
    const undone = compensations.get(event.seq!)?.state === 'done';
    effects.push({
      step: event.name!,
      seq: event.seq!,
      effect,
      completedAt: event.at,
      state: undone ? 'undone' : event.data?.skipped ? 'skipped' : 'kept',
    });
  }
  const details = (run.attention?.details ?? {}) as {
    reason?: string;
    step?: string;
    seq?: number;
    attempt?: number;
    attempts?: number;
    pending?: string[];
  };

  const pending: string[] = [];
  let current: RunDescription['current'];
  let where: string;
  switch (run.status) {
    case 'waiting': {
      const w = run.waitingFor;
      const until = w?.until ? ` until ${new Date(w.until).toISOString()}` : '';
      where = w ? `waiting for ${w.kind === 'sleep' ? 'a timer' : `${w.kind} '${w.name}'`}${until}` : 'waiting';
      if (w) current = { kind: 'wait', name: w.name ?? w.kind, ...(w.seq !== undefined ? { seq: w.seq } : {}) };
      pending.push(where);
      break;
    }
    case 'needs_attention':
      where = `parked for an operator (${details.reason ?? 'unknown reason'}): ${run.attention?.message ?? ''}`;
      if (details.step)
        current = {
          kind: details.reason === 'compensation_failed' ? 'compensation' : 'step',
          name: details.step,
          seq: details.seq,
          ...(details.attempt ? { attempt: details.attempt } : {}),
          ...(details.attempts ? { attempts: details.attempts } : {}),
        };
      pending.push(...(details.pending ?? []).map((step) => `compensate '${step}'`));
      break;
    case 'compensating':
      where = 'compensating: undoing completed reversible steps in reverse order';
      for (const e of [...effects].reverse())
        if (e.effect === 'reversible' && e.state === 'kept') pending.push(`compensate '${e.step}'`);
      break;
    case 'running': {
      const last = [...history].reverse().find((e) => e.type === 'step_started' || e.type === 'step_failed');
      where = last?.name ? `executing (last step activity: '${last.name}')` : 'executing';
      if (leased.lease) where += ` ${leaseText(leased.lease, `v${run.version}`, leased.now)}`;
      if (last?.name) current = { kind: 'step', name: last.name, seq: last.seq! };
      break;
    }
    default:
      where = `${run.status}${run.error ? `: ${run.error.message}` : ''}`;
  }
  const { lease, now } = leased;
  if (lease && !lease.holderAlive && run.status !== 'running')
    where += `; leased ${leaseText(lease, `v${run.version}`, now)}`;
  return { run, where, current, effects, pending, actions, completedSteps, ...(lease ? { lease } : {}) };
}
