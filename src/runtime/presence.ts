import type { Store, WorkflowVersionRef } from '../store/types.js';
import { Periodic, type Warn } from './periodic.js';

export interface PresenceOptions {
  workerId: string;
  served(): WorkflowVersionRef[];
  leaseMs: number;
  /** The runs this worker is executing now: only their leases are renewed. */
  executing(): string[];
  warn: Warn;
}

/**
 * Time between heartbeats for a lease term: a third of it, so two beats can fail before a lease lapses. (Minimum: 50
 * ms)
 */
export const beatIntervalMs = (leaseMs: number) => Math.max(50, Math.floor(leaseMs / 3));

/**
 * Keeps a worker visibly alive: every third of a lease it renews the leases of the runs it is executing
 * (a run it holds but no longer executes is left to expire) and its heartbeat, which tells others the
 * versions it serves (so runs nobody serves show as stranded). While the store is down it tries again at
 * the same pace (a longer pause would let live leases lapse once the store is back), logging once.
 */
export class WorkerPresence {
  private readonly beats: Periodic;

  constructor(
    private readonly store: Store,
    private readonly options: PresenceOptions,
  ) {
    const intervalMs = beatIntervalMs(options.leaseMs);
    this.beats = new Periodic(() => this.beat(), {
      what: 'renewing leases and the heartbeat',
      intervalMs,
      maxBackoffMs: intervalMs,
      warn: options.warn,
    });
  }

  async start(): Promise<void> {
    await this.store.heartbeat(this.options.workerId, this.options.served(), this.options.leaseMs);
    this.beats.start();
  }

  /** Stops beating and forgets this worker (a clean stop is not a death). */
  async stop(): Promise<void> {
    await this.beats.stop();
    await this.store.removeWorker(this.options.workerId);
  }

  private async beat(): Promise<void> {
    const { workerId, leaseMs } = this.options;
    const executing = this.options.executing();
    if (executing.length > 0) await this.store.renewLeases(workerId, executing, leaseMs);
    await this.store.heartbeat(workerId, this.options.served(), leaseMs);
  }
}
