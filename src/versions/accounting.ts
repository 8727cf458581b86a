import { isTerminal, type RunStatus } from '../core/types.js';
import type {
  Route,
  ScheduleRecord,
  Store,
  VersionStatus,
  WorkerRecord,
  WorkflowVersionRecord,
} from '../store/types.js';

/** One workflow version as operators see it: its runs by status and by where they wait, and who serves it. */
export interface VersionSummary {
  workflow: string;
  version: number;
  fingerprint: string;
  registeredAt: Date;
  /** active: takes routed starts; draining: finishes its runs, takes no new routed starts; retired: done. */
  status: VersionStatus;
  /** Exact run counts by status. */
  runs: Partial<Record<RunStatus, number>>;
  /** Runs not yet completed, failed, cancelled or compensated. */
  inFlight: number;
  /** In-flight runs by where they are parked ('signal:approval', 'sleep', 'retry:charge', 'executing', ...). */
  parkedOn: Record<string, number>;
  /** When the oldest in-flight run started. */
  oldestInFlightAt: Date | undefined;
  /** The earliest scheduled wake-up of its waiting runs. */
  nextWakeAt: Date | undefined;
  /**
   * For a draining version: when its last run is due to wake if every wait runs to its deadline, or
   * undefined when some run waits with no deadline (a signal with no timeout, an operator).
   */
  drainEta: Date | undefined;
  /** Live workers serving this version. */
  servedBy: string[];
  /** In-flight runs that no live worker serves: they wait, unmoved, for a worker that does. */
  stranded: number;
  /** The percent (0..100) of its workflow's routed (unpinned) starts this version takes now. */
  routeShare: number;
  /** Draining with nothing in flight: retiring it strands nothing. */
  safeToRetire: boolean;
  /**
   * Ids of the active (not paused, not ended) schedules that start it: pinned to it, or unpinned while it takes a
   * share of its workflow's routed starts. A pinned schedule keeps starting a draining version.
   */
  schedules: string[];
}

/** Summarises every registered version from the store: exact counts, where runs wait, live workers. */
export async function summariseVersions(store: Store): Promise<VersionSummary[]> {
  const [versions, counts, groups, workers, routes, schedules] = await Promise.all([
    store.listWorkflowVersions(),
    store.countRuns(),
    store.inFlightGroups(),
    store.liveWorkers(),
    store.listRoutes(),
    store.schedules.list(),
  ]);
  const shares = routeShares(versions, routes);
  return versions.map((v) => {
    const runs: Partial<Record<RunStatus, number>> = {};
    let inFlight = 0;
    for (const c of counts) {
      if (c.workflow !== v.workflow || c.version !== v.version) continue;
      runs[c.status] = c.count;
      if (!isTerminal(c.status)) inFlight += c.count;
    }
    const mine = groups.filter((g) => g.workflow === v.workflow && g.version === v.version);
    const parkedOn: Record<string, number> = {};
    for (const g of mine) {
      const where = g.parkedOn ?? (g.status === 'running' ? 'executing' : g.status);
      parkedOn[where] = (parkedOn[where] ?? 0) + g.count;
    }
    const oldest = Math.min(...mine.map((g) => g.oldestCreatedAt));
    const dues = mine.map((g) => g.earliestDueAt).filter((d): d is number => d !== null);
    const latest = mine.map((g) => g.latestDueAt).filter((d): d is number => d !== null);
    const unscheduled = mine.some((g) => g.unscheduled > 0 && g.status !== 'running');
    const servedBy = workers.filter((w) => serves(w, v.workflow, v.version)).map((w) => w.workerId);
    const routeShare = shares.get(`${v.workflow}@${v.version}`) ?? 0;
    return {
      ...v,
      runs,
      inFlight,
      parkedOn,
      oldestInFlightAt: Number.isFinite(oldest) ? new Date(oldest) : undefined,
      nextWakeAt: dues.length ? new Date(Math.min(...dues)) : undefined,
      drainEta: v.status !== 'draining' || unscheduled ? undefined : new Date(Math.max(Date.now(), ...latest)),
      servedBy,
      stranded: servedBy.length === 0 ? inFlight : 0,
      routeShare,
      safeToRetire: v.status === 'draining' && inFlight === 0,
      schedules: schedulesStarting(schedules, v.workflow, v.version, routeShare),
    };
  });
}

/**
 * Each version's share of its workflow's routed starts ('workflow@version' -> percent), as chooseVersion splits
 * them: a route whose current version is active splits between it and its candidate (when active); otherwise
 * the highest active version takes them all.
 */
export function routeShares(versions: readonly WorkflowVersionRecord[], routes: readonly Route[]): Map<string, number> {
  const shares = new Map<string, number>();
  const byWorkflow = new Map<string, Map<number, VersionStatus>>();
  for (const v of versions) {
    const statuses = byWorkflow.get(v.workflow) ?? new Map<number, VersionStatus>();
    statuses.set(v.version, v.status);
    byWorkflow.set(v.workflow, statuses);
  }
  for (const [workflow, statuses] of byWorkflow) {
    const route = routes.find((r) => r.workflow === workflow);
    if (route && statuses.get(route.current) === 'active') {
      const candidate = statuses.get(route.candidate) === 'active' && route.candidate !== route.current;
      const percent = candidate ? route.percent : 0;
      shares.set(`${workflow}@${route.current}`, 100 - percent);
      if (candidate) shares.set(`${workflow}@${route.candidate}`, percent);
      continue;
    }
    const active = [...statuses].filter(([, status]) => status === 'active').map(([version]) => version);
    if (active.length > 0) shares.set(`${workflow}@${Math.max(...active)}`, 100);
  }
  return shares;
}

/**
 * Ids of the active (not paused, not ended) schedules that start `workflow` v`version`: those pinned to it, and the
 * unpinned ones when it takes `routeShare` > 0 percent of the routed starts.
 */
export function schedulesStarting(
  schedules: readonly ScheduleRecord[],
  workflow: string,
  version: number,
  routeShare: number,
): string[] {
  return schedules
    .filter((s) => s.workflow === workflow && !s.paused && s.nextSlotAt !== null)
    .filter((s) => s.version === version || (s.version === null && routeShare > 0))
    .map((s) => s.id);
}

function serves(worker: WorkerRecord, workflow: string, version: number): boolean {
  return worker.served.some((s) => s.workflow === workflow && s.version === version);
}
