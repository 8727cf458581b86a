import { WaymarkError } from '../core/errors.js';
import { isTerminal, RUN_STATUSES, type Json, type RunStatus } from '../core/types.js';
import type { Store } from '../store/types.js';
import { setRoute, setVersionStatus, upgradeRun } from './lifecycle.js';
import type { WorkflowRegistry } from './registry.js';

export interface RolloutOptions {
  /** The candidate version. */
  to: number;
  /** The version routed starts come from. (Default: the highest active version other than `to`) */
  from?: number;
  /** Share of routed starts the candidate gets at first, 0..100. (Default: 5) */
  percent?: number;
  /** Added at each healthy promotion. (Default: 25) */
  step?: number;
  /** Least time between promotions, in ms. (Default: 600000) */
  everyMs?: number;
  /** Roll back when the candidate's failure rate exceeds this multiple of the current one's. (Default: 2) */
  maxFailureRatio?: number;
  /** Finished candidate runs needed before health is judged and before a promotion. (Default: 20) */
  minSample?: number;
}

export type RolloutStatus = 'running' | 'paused' | 'promoted' | 'rolled_back';

/** A progressive, health-gated move of routed starts from one version to another. */
export interface Rollout {
  workflow: string;
  from: number;
  to: number;
  percent: number;
  step: number;
  everyMs: number;
  maxFailureRatio: number;
  minSample: number;
  status: RolloutStatus;
  startedAt: number;
  lastStepAt: number;
  /** Why it stopped, and what happened to the candidate's in-flight runs on a rollback. */
  outcome?: string;
  movedBack?: string[];
  keptOnCandidate?: string[];
}

/** Failure rate of a version: failed and parked runs per finished run (runs created since the rollout began). */
export interface VersionHealth {
  finished: number;
  failed: number;
  rate: number;
}

const FINISHED: RunStatus[] = ['completed', 'failed', 'cancelled', 'compensated', 'needs_attention'];

/** Starts a rollout: a canary route to `to` at the first percentage. */
export async function startRollout(store: Store, registry: WorkflowRegistry, workflow: string, options: RolloutOptions): Promise<Rollout> {
  await registry.refresh(store, workflow, 0);
  const from = options.from ?? registry.resolveVersion(workflow, undefined);
  if (from === options.to) throw new WaymarkError('E_INVALID_INPUT', `a rollout needs two versions: ${workflow} v${from} is already the routed version`);
  const existing = (await loadRollouts(store)).find((r) => r.workflow === workflow && (r.status === 'running' || r.status === 'paused'));
  if (existing) throw new WaymarkError('E_RUN_STATE', `${workflow} already has a ${existing.status} rollout to v${existing.to}: abort or finish it first`);
  const now = Date.now();
  const rollout: Rollout = {
    workflow,
    from,
    to: options.to,
    percent: options.percent ?? 5,
    step: options.step ?? 25,
    everyMs: options.everyMs ?? 600_000,
    maxFailureRatio: options.maxFailureRatio ?? 2,
    minSample: options.minSample ?? 20,
    status: 'running',
    startedAt: now,
    lastStepAt: now,
  };
  await setRoute(store, registry, workflow, { current: from, candidate: options.to, percent: rollout.percent });
  await save(store, rollout);
  return rollout;
}

export async function loadRollouts(store: Store): Promise<Rollout[]> {
  return (await store.listRollouts()).map((r) => r.state as unknown as Rollout);
}

export async function health(store: Store, rollout: Rollout, version: number): Promise<VersionHealth> {
  const outcomes = await store.outcomesSince(rollout.workflow, version, rollout.startedAt);
  const finished = FINISHED.reduce((n, s) => n + (outcomes[s] ?? 0), 0);
  const failed = (outcomes.failed ?? 0) + (outcomes.needs_attention ?? 0);
  return { finished, failed, rate: finished ? failed / finished : 0 };
}

/**
 * One look at a running rollout: roll back when the candidate fails more than `maxFailureRatio` times as
 * often as the current version (over at least `minSample` finished candidate runs); otherwise promote by
 * `step` once `everyMs` has passed and the sample is large enough; at 100% the rollout is promoted.
 */
export async function evaluateRollout(store: Store, registry: WorkflowRegistry, rollout: Rollout): Promise<Rollout> {
  if (rollout.status !== 'running') return rollout;
  const [candidate, current] = await Promise.all([health(store, rollout, rollout.to), health(store, rollout, rollout.from)]);
  if (candidate.finished >= rollout.minSample) {
    const baseline = Math.max(current.rate, 1 / rollout.minSample);
    if (candidate.rate > rollout.maxFailureRatio * baseline) {
      const why = `v${rollout.to} failed ${candidate.failed}/${candidate.finished} finished runs (${pct(candidate.rate)}) against v${rollout.from}'s ${pct(current.rate)}: over ${rollout.maxFailureRatio}x`;
      return rollBack(store, registry, rollout, why);
    }
  }
  const due = Date.now() - rollout.lastStepAt >= rollout.everyMs;
  if (!due || candidate.finished < rollout.minSample) return rollout;
  const percent = Math.min(100, rollout.percent + rollout.step);
  if (percent >= 100) return promote(store, registry, rollout, `healthy at ${rollout.percent}%: ${candidate.failed}/${candidate.finished} candidate runs failed`);
  const next = { ...rollout, percent, lastStepAt: Date.now() };
  await setRoute(store, registry, rollout.workflow, { current: rollout.from, candidate: rollout.to, percent });
  await save(store, next);
  return next;
}

/** Routes every start to the candidate, drains the old version, and ends the rollout. */
export async function promote(store: Store, registry: WorkflowRegistry, rollout: Rollout, why: string): Promise<Rollout> {
  await setRoute(store, registry, rollout.workflow, { current: rollout.to, candidate: rollout.to, percent: 0 });
  await setVersionStatus(store, registry, rollout.workflow, rollout.from, 'draining');
  const done: Rollout = { ...rollout, percent: 100, status: 'promoted', lastStepAt: Date.now(), outcome: why };
  await save(store, done);
  return done;
}

/**
 * Routes starts back to the previous version at once and drains the candidate. Its in-flight runs that
 * replay on the previous version are moved back (a verified, recorded upgrade); the others stay where they are.
 */
export async function rollBack(store: Store, registry: WorkflowRegistry, rollout: Rollout, why: string): Promise<Rollout> {
  await setRoute(store, registry, rollout.workflow, { current: rollout.from, candidate: rollout.to, percent: 0 });
  await setVersionStatus(store, registry, rollout.workflow, rollout.to, 'draining');
  const live = RUN_STATUSES.filter((s) => !isTerminal(s) && s !== 'compensating');
  const runs = await store.listRuns({ workflow: rollout.workflow, version: rollout.to, status: live, limit: 100_000 });
  const movedBack: string[] = [];
  const keptOnCandidate: string[] = [];
  for (const run of runs) {
    try {
      await upgradeRun(store, registry, run.id, { to: rollout.from, actor: 'rollout', reason: `rolled back: ${why}` });
      movedBack.push(run.id);
    } catch {
      keptOnCandidate.push(run.id); // diverges on the old version, or executing right now: it stays, never deleted
    }
  }
  const done: Rollout = { ...rollout, status: 'rolled_back', lastStepAt: Date.now(), outcome: why, movedBack, keptOnCandidate };
  await save(store, done);
  return done;
}

export async function save(store: Store, rollout: Rollout): Promise<void> {
  await store.saveRollout(rollout.workflow, rollout as unknown as Json);
}

const pct = (rate: number) => `${Math.round(rate * 1000) / 10}%`;
