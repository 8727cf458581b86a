import { WaymarkError } from '../core/errors.js';
import { isTerminal, RUN_STATUSES, type Json } from '../core/types.js';
import type { Store } from '../store/types.js';
import { setRoute } from './lifecycle.js';
import type { WorkflowRegistry } from '../runtime/registry.js';

export interface RolloutOptions {
  /** The candidate version. */
  to: number;
  /** The version the rollout moves away from. (Default: the highest active version other than `to`) */
  from?: number;
  /** Share the candidate gets at first, 0..100: of routed starts, or of the in-flight runs to upgrade. (Default: 5) */
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

/**
 * starts: routed new starts move to the candidate by share. upgrade: a growing share of the `from` version's
 * in-flight runs are upgraded (verified) to the candidate; those that do not replay on it stay and drain.
 */
export type RolloutKind = 'starts' | 'upgrade';

/** rolling_back is transient: a rollback in progress (resumed by the next evaluation if its process died). */
export type RolloutStatus = 'running' | 'paused' | 'promoted' | 'rolled_back' | 'rolling_back';

/** A progressive, health-gated move of a workflow from one version to another. */
export interface Rollout {
  kind: RolloutKind;
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
  /** Upgrade rollouts: in-flight runs of `from` when the rollout began. */
  eligible?: number;
  /** Upgrade rollouts: runs this rollout moved to the candidate. */
  upgraded?: string[];
  /** Upgrade rollouts: runs that do not replay on the candidate; they stay on `from` and drain. */
  incompatible?: string[];
  /** A process carrying out a transition holds the rollout until then (another evaluator leaves it alone). */
  claim?: { by: string; until: number };
  /** Stored revision (optimistic concurrency); not part of the saved state. */
  revision: number;
}

/** How long a transition may hold a rollout before another evaluator may take it over, in ms. */
export const CLAIM_MS = 60_000;

const LIVE = RUN_STATUSES.filter((s) => !isTerminal(s));

/** The store key of a workflow's rollout of one kind ('/' cannot appear in workflow names). */
export const rolloutKey = (workflow: string, kind: RolloutKind) =>
  kind === 'starts' ? workflow : `${workflow}/upgrade`;

export async function loadRollouts(store: Store): Promise<Rollout[]> {
  return (await store.listRollouts()).map(
    (r) => ({ kind: 'starts', ...(r.state as object), revision: r.revision }) as Rollout,
  );
}

/** The workflow's rollout of `kind` that is not finished, if any. */
export async function activeRollout(store: Store, workflow: string, kind?: RolloutKind): Promise<Rollout | undefined> {
  return (await loadRollouts(store)).find(
    (r) => r.workflow === workflow && (kind === undefined || r.kind === kind) && !isFinished(r),
  );
}

export const isFinished = (r: Rollout) => r.status === 'promoted' || r.status === 'rolled_back';

/**
 * Saves `next` over `current` if nobody saved in between; returns the saved rollout, or undefined when it lost the
 * race.
 */
export async function saveOver(
  store: Store,
  current: Pick<Rollout, 'revision' | 'workflow' | 'kind'>,
  next: Rollout,
): Promise<Rollout | undefined> {
  const { revision: _revision, ...state } = next;
  const saved = await store.saveRollout(
    rolloutKey(next.workflow, next.kind),
    state as unknown as Json,
    current.revision,
  );
  return saved ? { ...next, revision: current.revision + 1 } : undefined;
}

/**
 * Takes a rollout for a transition (saving `changes` with the claim); undefined when another process changed or holds
 * it.
 */
export async function claim(
  store: Store,
  rollout: Rollout,
  by: string,
  changes: Partial<Rollout> = {},
): Promise<Rollout | undefined> {
  if (rollout.claim && rollout.claim.by !== by && rollout.claim.until > Date.now()) return undefined;
  return saveOver(store, rollout, { ...rollout, ...changes, claim: { by, until: Date.now() + CLAIM_MS } });
}

/** Starts a rollout. starts: a canary route to `to` at the first share; upgrade: counts the runs to move. */
export async function startRollout(
  store: Store,
  registry: WorkflowRegistry,
  workflow: string,
  kind: RolloutKind,
  options: RolloutOptions,
): Promise<Rollout> {
  await registry.refresh(store, workflow, 0);
  const from = options.from ?? registry.resolveVersion(workflow, undefined);
  if (from === options.to)
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `a rollout needs two versions: ${workflow} v${from} is already the routed version`,
    );
  for (const version of [from, options.to]) {
    if (registry.statusOf(workflow, version) === undefined)
      throw new WaymarkError('E_UNKNOWN_VERSION', `${workflow} v${version} is not registered`, {
        details: { workflow, version },
      });
  }
  checkShare(options.percent, 'percent');
  checkShare(options.step, 'step');
  const all = await loadRollouts(store);
  const existing = all.find((r) => r.workflow === workflow && r.kind === kind && !isFinished(r));
  if (existing)
    throw new WaymarkError(
      'E_RUN_STATE',
      `${workflow} already has a ${existing.status} ${kind} rollout to v${existing.to}: abort or finish it first`,
    );
  const now = Date.now();
  const rollout: Rollout = {
    kind,
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
    revision: all.find((r) => r.workflow === workflow && r.kind === kind)?.revision ?? 0,
  };
  if (kind === 'upgrade') {
    const runs = await store.listRuns({ workflow, version: from, status: LIVE, limit: 1_000_000 });
    Object.assign(rollout, { eligible: runs.length, upgraded: [], incompatible: [] });
  } else {
    await setRoute(store, registry, workflow, { current: from, candidate: options.to, percent: rollout.percent });
  }
  const saved = await saveOver(store, rollout, rollout);
  if (!saved)
    throw new WaymarkError('E_ROLLOUT_BUSY', `another process started a ${kind} rollout of ${workflow} meanwhile`);
  return saved;
}

function checkShare(value: number | undefined, what: string): void {
  if (value !== undefined && !(typeof value === 'number' && value >= 0 && value <= 100)) {
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `rollout ${what} must be a number between 0 and 100, got ${String(value)}`,
    );
  }
}
