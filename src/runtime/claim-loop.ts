import type { ClaimedRun, Store, WorkflowVersionRef } from '../store/types.js';
import { MAX_BACKOFF_MS, Outage, type Warn } from './periodic.js';

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
  warn: Warn;
}

/**
 * Claims due runs for this worker: at once when nudged (a start, a signal, a freed slot), at the
 * earliest known due time (timers, retries), and at least every poll interval (leases of dead workers).
 * A failed pass (the store is down, locked, or cancelled the statement) is tried again with capped
 * backoff, logged once per outage; the loop ends only with `stop`, and until then keeps the process alive.
 */
export class ClaimLoop {
  private stopped = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private running: Promise<void> | undefined;
  private again = false;
  private readonly outage: Outage;
  /** Runs this worker still leases but no longer executes: handed back (released) at the start of the next pass. */
  private readonly handedBack = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly options: ClaimLoopOptions,
  ) {
    this.outage = new Outage(
      'claiming runs',
      options.pollIntervalMs,
      Math.max(options.pollIntervalMs, MAX_BACKOFF_MS),
      options.warn,
    );
  }

  start(): void {
    this.nudge();
  }

  /** Look for work now (during an outage: at the next try of the backoff). */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.outage.failing) return; // the backoff timer is set
    this.runPass();
  }

  /** Make sure the loop looks again no later than `at` (epoch ms). */
  wakeBy(at: number): void {
    if (this.stopped || this.outage.failing || at >= this.wakeAt) return;
    this.setTimer(at, () => this.nudge());
  }

  /**
   * Releases the lease of a run this worker stopped executing, at the start of the next pass (nudged now), so
   * it is claimable at once; while the store is down it stays with this worker, unrenewed, until the store
   * answers again or the lease expires.
   */
  handBack(runId: string): void {
    this.handedBack.add(runId);
    this.nudge();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.running;
  }

  private runPass(): void {
    this.clearTimer();
    this.running = this.pass()
      .then(
        () => this.outage.succeeded(),
        (error) => {
          if (this.stopped) return; // the engine is closing: nothing more to claim
          const delay = this.outage.failed(error);
          this.setTimer(Date.now() + delay, () => this.runPass());
        },
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.nudge();
        }
      });
  }

  private async pass(): Promise<void> {
    const { workerId, leaseMs, pollIntervalMs } = this.options;
    await this.releaseHandedBack();
    const served = this.options.served();
    for (;;) {
      const free = this.options.freeSlots();
      if (this.stopped) return;
      if (free <= 0) {
        this.options.full?.(); // runs held hot for their tasks make room
        this.wakeBy(Date.now() + pollIntervalMs); // a freed slot nudges the loop sooner
        return;
      }
      const claimed = await this.store.claimRuns(workerId, served, free, leaseMs);
      if (this.stopped) {
        await this.store.releaseLeases(
          workerId,
          claimed.map((c) => c.run.id),
        );
        return;
      }
      for (const run of claimed) {
        this.handedBack.delete(run.run.id); // claimed again (its lease had expired): it is executing here now
        this.options.execute(run);
      }
      if (claimed.length < free) break;
    }
    if (this.stopped) return;
    const next = await this.store.nextDueAt(served);
    this.wakeBy(Math.min(next ?? Infinity, Date.now() + pollIntervalMs));
  }

  private async releaseHandedBack(): Promise<void> {
    if (this.handedBack.size === 0) return;
    const runIds = [...this.handedBack];
    await this.store.releaseLeases(this.options.workerId, runIds);
    for (const id of runIds) this.handedBack.delete(id);
  }

  /** Not unref'd: an open worker keeps its process alive until the engine is closed. */
  private setTimer(at: number, then: () => void): void {
    this.clearTimer();
    this.wakeAt = at;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.wakeAt = Infinity;
        then();
      },
      Math.max(0, at - Date.now()),
    );
  }

  private clearTimer(): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.wakeAt = Infinity;
  }
}
