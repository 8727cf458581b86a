/**
 * Leases seen from outside their holder: whether the worker holding one is still alive, and what that means for the
 * run (it executes there, or waits for another worker to take it over once the lease expires).
 */

/** A lease holder's last heartbeat (epoch ms) and when it lapses; null when nothing of the worker is known. */
export interface HolderHeartbeat {
  heartbeatAt: number | null;
  heartbeatExpiresAt: number | null;
}

/** What an operator's view of a run knows of its lease. */
export interface LeaseView {
  workerId: string;
  /** Epoch ms when the lease lapses unless renewed (it may be past). */
  expiresAt: number;
  /** False when its holder stopped heartbeating (see holderStopped). */
  holderAlive: boolean;
  /** The holder's last heartbeat (epoch ms), when known. */
  heartbeatAt: number | undefined;
  /** How many live workers serve the run's version (one of them takes the run over once the lease expires). */
  servedBy: number;
}

/**
 * True when a lease's holder stopped heartbeating at `now`: the store has no heartbeat of it, its heartbeat lapsed,
 * or it missed two beats (a worker beats every third of its term, at least every 50 ms).
 */
export function holderStopped(holder: HolderHeartbeat, now: number): boolean {
  const { heartbeatAt, heartbeatExpiresAt } = holder;
  if (heartbeatAt === null || heartbeatExpiresAt === null || heartbeatExpiresAt < now) return true;
  const beatMs = Math.max(50, Math.floor((heartbeatExpiresAt - heartbeatAt) / 3));
  return now > heartbeatAt + 2 * beatMs;
}

/** `in 12 s` / `12 s ago` (`in 3 min`, `2 h ago` for longer), from `now` to `at` (epoch ms). */
export function relativeTime(at: number, now: number): string {
  const ms = Math.abs(at - now);
  const seconds = Math.ceil(ms / 1000);
  const amount =
    seconds < 120
      ? `${seconds} s`
      : seconds < 7200
        ? `${Math.round(seconds / 60)} min`
        : `${Math.round(seconds / 3600)} h`;
  return at >= now ? `in ${amount}` : `${amount} ago`;
}

/**
 * Where a leased run executes, for `runs describe`: `on worker X`, or, once X stopped heartbeating, who takes the run
 * over and when, e.g. `on worker X, which stopped heartbeating at T; another worker takes it over when its lease
 * expires at T2 (in 12 s)`.
 */
export function leaseText(lease: LeaseView, version: string, now: number): string {
  const on = `on worker ${lease.workerId}`;
  if (lease.holderAlive) return on;
  const stopped =
    lease.heartbeatAt === undefined
      ? `${on}, which stopped heartbeating`
      : `${on}, which stopped heartbeating at ${new Date(lease.heartbeatAt).toISOString()}`;
  const expiry = `${new Date(lease.expiresAt).toISOString()} (${relativeTime(lease.expiresAt, now)})`;
  if (lease.expiresAt >= now)
    return lease.servedBy > 0
      ? `${stopped}; another worker takes it over when its lease expires at ${expiry}`
      : `${stopped}; its lease expires at ${expiry}, but no live worker serves ${version} to take it over`;
  return lease.servedBy > 0
    ? `${stopped}; its lease expired at ${expiry}: a worker serving ${version} takes it over at its next claim`
    : `${stopped}; its lease expired at ${expiry} and no live worker serves ${version}: start one to take it over`;
}
