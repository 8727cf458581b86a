import type { ClaimedRun, Store, WorkflowVersionRef } from '../store/types.js';

export interface ClaimLoopOptions {
  workerId: string;
  /** The versions this worker executes now (declarative versions can be added while it runs). */
  served(): WorkflowVersionRef[];
  leaseMs: number;
  /** Longest pause between looks at the store for due runs or expired leases, in ms. */
  pollIntervalMs: number;
  /** Free execution slots right now. */
  freeSlots(): number;
  /** Called when a pass finds every slot busy (runs held hot for their tasks can make room). (Default: nothing) */
  full?(): void;
  /** Starts executing a run this worker now leases. */
  execute(claimed: ClaimedRun): void;
  warn(message: string, facts: Record<string, unknown>): void;
}

/**
 * Claims due runs for this worker: at once when nudged (a start, a signal, a freed slot), at the
 * earliest known due time (timers, retries), and at least every poll interval (leases of dead workers).
 */
export class ClaimLoop {
  private stopped = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly store: Store,
    private readonly options: ClaimLoopOptions,
  ) {}

  start(): void {
    this.nudge();
  }

  /** Look for work now. */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.clearTimer();
    this.running = this.pass()
      .catch((error) => this.options.warn('claiming runs failed; will try again', { error: String(error) }))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.nudge();
        }
      });
  }

  /** Make sure the loop looks again no later than `at` (epoch ms). */
  wakeBy(at: number): void {
    if (this.stopped || at >= this.wakeAt) return;
    this.clearTimer();
    this.wakeAt = at;
    // Not unref'd: an open worker keeps its process alive until the engine is closed.
    this.wakeTimer = setTimeout(() => this.nudge(), Math.max(0, at - Date.now()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.running;
  }

  private async pass(): Promise<void> {
    const { workerId, leaseMs, pollIntervalMs } = this.options;
    const served = this.options.served();
    for (;;) {
      const free = this.options.freeSlots();
      if (this.stopped) return;
      if (free <= 0) return this.options.full?.(); // every slot is busy: a freed slot nudges the loop again
      const claimed = await this.store.claimRuns(workerId, served, free, leaseMs);
      if (this.stopped) {
        await this.store.releaseLeases(workerId, claimed.map((c) => c.run.id));
        return;
      }
      for (const run of claimed) this.options.execute(run);
      if (claimed.length < free) break;
    }
    if (this.stopped) return;
    const next = await this.store.nextDueAt(served);
    this.wakeBy(Math.min(next ?? Infinity, Date.now() + pollIntervalMs));
  }

  private clearTimer(): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.wakeAt = Infinity;
  }
}
