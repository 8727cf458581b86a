import { WaymarkError } from '../core/errors.js';
import { isTerminal, RUN_STATUSES, type Run, type RunStatus } from '../core/types.js';
import type { Store } from '../store/types.js';
import { setRoute, setVersionStatus, changeVersion } from './lifecycle.js';
import type { WorkflowRegistry } from '../runtime/registry.js';
import { claim, isFinished, loadRollouts, saveOver, type Rollout } from './rollout.js';

/** Failure rate of a version: failed and parked runs per finished run. */
export interface VersionHealth {
  finished: number;
  failed: number;
  rate: number;
}

/** What a rollout transition needs: the store, the versions' code, and who is acting. */
export interface RolloutPort {
  store: Store;
  registry: WorkflowRegistry;
  workerId: string;
}

const FINISHED: RunStatus[] = ['completed', 'failed', 'cancelled', 'compensated', 'needs_attention'];
const LIVE = RUN_STATUSES.filter((s) => !isTerminal(s) && s !== 'compensating');

/**
 * One look at a rollout: roll back when the candidate fails more than `maxFailureRatio` times as often as
 * the current version (over at least `minSample` finished candidate runs) — also while paused; otherwise,
 * when running, promote by `step` once `everyMs` has passed and the sample is large enough. Two processes
 * evaluating at once never both step it: a transition first claims the stored revision.
 */
export async function evaluateRollout(port: RolloutPort, rollout: Rollout): Promise<Rollout> {
  if (isFinished(rollout)) return rollout;
  if (rollout.status === 'rolling_back') {
    const stale = !rollout.claim || rollout.claim.until < Date.now();
    return stale ? rollBack(port, rollout, rollout.outcome ?? 'rollback resumed') : rollout;
  }
  const [candidate, current] = await Promise.all([
    candidateHealth(port.store, rollout),
    baselineHealth(port.store, rollout),
  ]);
  if (candidate.finished >= rollout.minSample) {
    const baseline = Math.max(current.rate, 1 / rollout.minSample);
    if (candidate.rate > rollout.maxFailureRatio * baseline) {
      const why =
        `v${rollout.to} failed ${candidate.failed}/${candidate.finished} finished runs ` +
        `(${pct(candidate.rate)}) against v${rollout.from}'s ${pct(current.rate)}: over ${rollout.maxFailureRatio}x`;
      return rollBack(port, rollout, why);
    }
  }
  if (rollout.status !== 'running') return rollout;
  // An upgrade rollout moves its first share at once; later shares (and all starts shares) wait for health.
  const firstShare =
    rollout.kind === 'upgrade' && (rollout.upgraded?.length ?? 0) + (rollout.incompatible?.length ?? 0) === 0;
  if (firstShare) return stepTo(port, rollout, rollout.percent);
  const due = Date.now() - rollout.lastStepAt >= rollout.everyMs;
  if (!due || candidate.finished < rollout.minSample) return rollout;
  const percent = Math.min(100, rollout.percent + rollout.step);
  if (percent >= 100)
    return promote(
      port,
      rollout,
      false,
      `healthy at ${rollout.percent}%: ${candidate.failed}/${candidate.finished} candidate runs failed`,
    );
  return stepTo(port, rollout, percent);
}

/** Moves the rollout to `percent`: the route's share, or upgrades until that share of the eligible runs moved. */
async function stepTo(port: RolloutPort, rollout: Rollout, percent: number): Promise<Rollout> {
  const held = await claim(port.store, rollout, port.workerId);
  if (!held) return rollout;
  const next: Rollout = { ...held, percent, lastStepAt: Date.now(), claim: undefined };
  if (rollout.kind === 'starts')
    await setRoute(port.store, port.registry, rollout.workflow, {
      current: rollout.from,
      candidate: rollout.to,
      percent,
    });
  else Object.assign(next, await upgradeShare(port, held, percent));
  return (await saveOver(port.store, held, next)) ?? next;
}

/**
 * Ends a rollout with the candidate everywhere: all routed starts (old version drains), or every compatible
 * run upgraded. When another process holds it: an operator (`insist`) is told; an evaluator leaves it.
 */
export async function promote(port: RolloutPort, rollout: Rollout, insist: boolean, why: string): Promise<Rollout> {
  const held = await claim(port.store, rollout, port.workerId);
  if (!held && !insist) return rollout;
  if (!held)
    throw new WaymarkError(
      'E_ROLLOUT_BUSY',
      `the ${rollout.kind} rollout of ${rollout.workflow} is being changed by ` +
        `${rollout.claim?.by ?? 'another process'}`,
    );
  let next: Rollout = {
    ...held,
    percent: 100,
    status: 'promoted',
    lastStepAt: Date.now(),
    outcome: why,
    claim: undefined,
  };
  if (rollout.kind === 'starts') {
    await setRoute(port.store, port.registry, rollout.workflow, {
      current: rollout.to,
      candidate: rollout.to,
      percent: 0,
    });
    await setVersionStatus(port.store, port.registry, rollout.workflow, rollout.from, 'draining');
  } else {
    next = { ...next, ...(await upgradeShare(port, held, 100)) };
    next.outcome =
      `${why}; ${next.upgraded!.length} runs upgraded, ${next.incompatible!.length} stay on ` +
      `v${rollout.from} and drain`;
  }
  return (await saveOver(port.store, held, next)) ?? next;
}

/**
 * Rolls back at once: starts route back to the previous version and the candidate drains (starts kind);
 * the candidate's in-flight runs (starts kind) or the runs this rollout upgraded (upgrade kind) move back
 * when they replay on the previous version (a verified, recorded upgrade); the others stay where they are.
 */
export async function rollBack(port: RolloutPort, rollout: Rollout, why: string): Promise<Rollout> {
  const marked = await claim(port.store, rollout, port.workerId, { status: 'rolling_back', outcome: why });
  if (!marked) return rollout;
  if (rollout.kind === 'starts') {
    await setRoute(port.store, port.registry, rollout.workflow, {
      current: rollout.from,
      candidate: rollout.to,
      percent: 0,
    });
    await setVersionStatus(port.store, port.registry, rollout.workflow, rollout.to, 'draining');
  }
  const candidates = await port.store.listRuns({
    workflow: rollout.workflow,
    version: rollout.to,
    status: LIVE,
    limit: 1_000_000,
  });
  const upgradedHere = new Set(rollout.upgraded ?? []);
  const movedBack: string[] = [];
  const keptOnCandidate: string[] = [];
  for (const run of candidates.filter((r) => rollout.kind === 'starts' || upgradedHere.has(r.id))) {
    try {
      await changeVersion(port.store, port.registry, run.id, {
        to: rollout.from,
        actor: 'rollout',
        reason: `rolled back: ${why}`,
      });
      movedBack.push(run.id);
    } catch {
      keptOnCandidate.push(run.id); // diverges on the old version, or executing right now: it stays, never deleted
    }
  }
  const done: Rollout = {
    ...marked,
    status: 'rolled_back',
    lastStepAt: Date.now(),
    outcome: why,
    movedBack,
    keptOnCandidate,
    claim: undefined,
  };
  return (await saveOver(port.store, marked, done)) ?? done;
}

/** Pauses promotions (the health gate still rolls back) or resumes them. */
export async function setPaused(port: RolloutPort, rollout: Rollout, paused: boolean): Promise<Rollout> {
  const from = paused ? 'running' : 'paused';
  if (rollout.status !== from)
    throw new WaymarkError(
      'E_RUN_STATE',
      `the ${rollout.kind} rollout of ${rollout.workflow} is ${rollout.status}, not ${from}`,
    );
  const saved = await saveOver(port.store, rollout, {
    ...rollout,
    status: paused ? 'paused' : 'running',
    lastStepAt: paused ? rollout.lastStepAt : Date.now(),
  });
  if (!saved)
    throw new WaymarkError(
      'E_ROLLOUT_BUSY',
      `the ${rollout.kind} rollout of ${rollout.workflow} changed meanwhile: look again`,
    );
  return saved;
}

/** Upgrades in-flight runs of `from` until `percent` of the eligible ones have moved; refused ones are recorded. */
async function upgradeShare(
  port: RolloutPort,
  rollout: Rollout,
  percent: number,
): Promise<Pick<Rollout, 'upgraded' | 'incompatible'>> {
  const upgraded = [...(rollout.upgraded ?? [])];
  const incompatible = [...(rollout.incompatible ?? [])];
  const target = Math.ceil(((rollout.eligible ?? 0) * percent) / 100);
  const skip = new Set(incompatible);
  const runs = (
    await port.store.listRuns({ workflow: rollout.workflow, version: rollout.from, status: LIVE, limit: 1_000_000 })
  ).filter((r) => !skip.has(r.id));
  for (const run of oldestFirst(runs)) {
    if (upgraded.length >= target) break;
    try {
      await changeVersion(port.store, port.registry, run.id, {
        to: rollout.to,
        actor: 'rollout',
        reason: `progressive upgrade to v${rollout.to} (${percent}%)`,
      });
      upgraded.push(run.id);
    } catch (error) {
      // A run executing right now is tried again at the next step; one that does not replay stays and drains.
      if ((error as WaymarkError).code !== 'E_RUN_BUSY') incompatible.push(run.id);
    }
  }
  return { upgraded, incompatible };
}

const oldestFirst = (runs: Run[]) =>
  [...runs].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id));

/** Health of the candidate: its runs created since the rollout began, or the runs the rollout upgraded. */
async function candidateHealth(store: Store, rollout: Rollout): Promise<VersionHealth> {
  if (rollout.kind === 'starts')
    return rates(await store.outcomesSince(rollout.workflow, rollout.to, rollout.startedAt));
  const upgraded = new Set(rollout.upgraded ?? []);
  if (upgraded.size === 0) return rates({});
  return finishedAmong(
    await store.listRuns({ workflow: rollout.workflow, version: rollout.to, status: FINISHED, limit: 1_000_000 }),
    (r) => upgraded.has(r.id),
  );
}

/** Health of the current version: its runs created since the rollout began, or (upgrade) its runs finished since. */
async function baselineHealth(store: Store, rollout: Rollout): Promise<VersionHealth> {
  if (rollout.kind === 'starts')
    return rates(await store.outcomesSince(rollout.workflow, rollout.from, rollout.startedAt));
  const runs = await store.listRuns({
    workflow: rollout.workflow,
    version: rollout.from,
    status: FINISHED,
    limit: 1_000_000,
  });
  return finishedAmong(runs, (r) => r.updatedAt.getTime() >= rollout.startedAt);
}

function finishedAmong(runs: Run[], keep: (run: Run) => boolean): VersionHealth {
  const counts: Partial<Record<RunStatus, number>> = {};
  for (const run of runs.filter(keep)) counts[run.status] = (counts[run.status] ?? 0) + 1;
  return rates(counts);
}

function rates(outcomes: Partial<Record<RunStatus, number>>): VersionHealth {
  const finished = FINISHED.reduce((n, s) => n + (outcomes[s] ?? 0), 0);
  const failed = (outcomes.failed ?? 0) + (outcomes.needs_attention ?? 0);
  return { finished, failed, rate: finished ? failed / finished : 0 };
}

const pct = (rate: number) => `${Math.round(rate * 1000) / 10}%`;

export type RolloutAction = 'promote' | 'pause' | 'resume' | 'abort';

/** An operator's decision on a workflow's unfinished rollout (of `kind`, when it has both). */
export async function applyRolloutAction(
  port: RolloutPort,
  workflow: string,
  action: RolloutAction,
  options: { kind?: Rollout['kind']; reason?: string } = {},
): Promise<Rollout> {
  const open = (await loadRollouts(port.store)).filter(
    (r) => r.workflow === workflow && !isFinished(r) && (options.kind === undefined || r.kind === options.kind),
  );
  if (open.length === 0)
    throw new WaymarkError(
      'E_RUN_STATE',
      `${workflow} has no ${options.kind ? `${options.kind} ` : ''}rollout in progress`,
    );
  if (open.length > 1)
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `${workflow} has a starts and an upgrade rollout in progress: say which (kind)`,
    );
  const rollout = open[0]!;
  if (action === 'pause' || action === 'resume') return setPaused(port, rollout, action === 'pause');
  if (action === 'promote') return promote(port, rollout, true, options.reason ?? 'promoted by an operator');
  return rollBack(port, rollout, options.reason ?? 'aborted by an operator');
}
