/**
 * Leases whose holder stopped heartbeating: what `runs describe` says of a run leased by a dead worker, and the line a
 * worker logs at startup when it waits for a dead worker's leases to expire before it can take those runs over.
 */
import { holderStopped, relativeTime, type LeaseView } from '../core/leases.js';
import type { Run } from '../core/types.js';
import type { LeaseHold, Store, WorkflowVersionRef } from '../store/types.js';
import type { Warn } from './periodic.js';

/** The lease of `run` as an operator sees it at `now` (epoch ms), or undefined when no worker holds one. */
export async function leaseView(store: Store, run: Run, now: number): Promise<LeaseView | undefined> {
  const [lease, workers] = await Promise.all([store.runLease(run.id), store.liveWorkers()]);
  if (!lease) return undefined;
  const servedBy = workers.filter(
    (w) =>
      w.workerId !== lease.workerId && w.served.some((s) => s.workflow === run.workflow && s.version === run.version),
  ).length;
  return {
    workerId: lease.workerId,
    expiresAt: lease.expiresAt,
    holderAlive: !holderStopped(lease, now),
    heartbeatAt: lease.heartbeatAt ?? undefined,
    servedBy,
  };
}

/** The unexpired leases one stopped worker holds on runs this worker serves. */
export interface AwaitedLeases {
  workerId: string;
  leases: number;
  /** When the last of them expires (epoch ms). */
  latestExpiresAt: number;
  heartbeatAt: number | undefined;
}

/** Per stopped worker other than `self`, its unexpired leases on runs of the `served` versions, at `now`. */
export function awaitedLeases(
  holds: readonly LeaseHold[],
  self: string,
  served: readonly WorkflowVersionRef[],
  now: number,
): AwaitedLeases[] {
  const byWorker = new Map<string, AwaitedLeases>();
  for (const hold of holds) {
    if (hold.workerId === self || holderStopped(hold, now) === false) continue;
    if (!serves(served, hold)) continue;
    const seen = byWorker.get(hold.workerId);
    byWorker.set(hold.workerId, {
      workerId: hold.workerId,
      leases: (seen?.leases ?? 0) + hold.leases,
      latestExpiresAt: Math.max(seen?.latestExpiresAt ?? 0, hold.latestExpiresAt),
      heartbeatAt: hold.heartbeatAt ?? undefined,
    });
  }
  return [...byWorker.values()];
}

/**
 * When a worker would see another's leases as stopped, if it is still silent then: two beats after its last heartbeat
 * (the first time holderStopped can say so), or undefined when that is after the leases expire anyway.
 */
function stoppedBy(hold: LeaseHold): number | undefined {
  if (hold.heartbeatAt === null || hold.heartbeatExpiresAt === null) return undefined;
  const beatMs = Math.max(50, Math.floor((hold.heartbeatExpiresAt - hold.heartbeatAt) / 3));
  const at = Math.min(hold.heartbeatAt + 2 * beatMs, hold.heartbeatExpiresAt) + 1;
  return at < hold.latestExpiresAt ? at : undefined;
}

/** Logs one line per stopped worker whose leases this worker waits for: how many, and when the last expires. */
export function warnAwaited(awaited: readonly AwaitedLeases[], now: number, warn: Warn): void {
  for (const a of awaited) {
    const since = a.heartbeatAt === undefined ? '' : ` (no heartbeat since ${new Date(a.heartbeatAt).toISOString()})`;
    const expires = `${new Date(a.latestExpiresAt).toISOString()} (${relativeTime(a.latestExpiresAt, now)})`;
    warn(
      `waiting for ${a.leases} lease${a.leases === 1 ? '' : 's'} of worker ${a.workerId}${since}, which stopped, ` +
        `to expire: ${a.leases === 1 ? 'it expires' : 'the last expires'} at ${expires}; its runs are taken over then`,
      {
        event: 'leases_awaited',
        lostWorkerId: a.workerId,
        leases: a.leases,
        latestExpiresAt: a.latestExpiresAt,
        lastHeartbeatAt: a.heartbeatAt ?? null,
      },
    );
  }
}

/**
 * At a worker's startup: says which stopped workers' leases it waits for. A worker that died moments ago still looks
 * alive, so the holders not yet seen stopped are looked at once more when they would be (if their leases last that
 * long); each worker is named at most once. Resolves when that is done, or when `delay` resolves false (the worker
 * closes).
 */
export async function noticeAwaitedLeases(
  store: Store,
  self: string,
  served: () => readonly WorkflowVersionRef[],
  warn: Warn,
  delay: (ms: number) => Promise<boolean>,
): Promise<void> {
  const named = new Set<string>();
  const look = async (): Promise<LeaseHold[]> => {
    const holds = await store.leaseHolds();
    const now = Date.now();
    const awaited = awaitedLeases(holds, self, served(), now).filter((a) => !named.has(a.workerId));
    for (const a of awaited) named.add(a.workerId);
    warnAwaited(awaited, now, warn);
    return holds.filter((h) => h.workerId !== self && !named.has(h.workerId) && serves(served(), h));
  };
  const pending = await look();
  const again = [...new Set(pending.map(stoppedBy).filter((at): at is number => at !== undefined))].sort();
  for (const at of again.slice(0, 3)) {
    if (!(await delay(at - Date.now()))) return;
    if ((await look()).length === 0) return;
  }
}

function serves(served: readonly WorkflowVersionRef[], ref: WorkflowVersionRef): boolean {
  return served.some((s) => s.workflow === ref.workflow && s.version === ref.version);
}

/** noticeAwaitedLeases for a worker's lifetime: started at boot, its follow-up look cancelled at close. */
export class AwaitedLeaseNotice {
  private readonly abort = new AbortController();
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly workerId: string,
    private readonly served: () => readonly WorkflowVersionRef[],
    private readonly warn: Warn,
  ) {}

  /** Looks now and, in the background, once more when holders that look alive now would be seen stopped. */
  start(): void {
    const { signal } = this.abort;
    const delay = (ms: number) =>
      new Promise<boolean>((resolve) => {
        if (signal.aborted) return resolve(false);
        const timer = setTimeout(() => resolve(true), Math.max(0, ms));
        timer.unref();
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve(false);
        });
      });
    this.done = noticeAwaitedLeases(this.store, this.workerId, this.served, this.warn, delay).catch((error) =>
      this.warn('could not read the leases of stopped workers', { error: String(error) }),
    );
  }

  /** Cancels a pending look and waits for one in progress. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}
