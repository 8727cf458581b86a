import type { Store, WorkflowVersionRef } from '../store/types.js';

export interface PresenceOptions {
  workerId: string;
  served(): WorkflowVersionRef[];
  leaseMs: number;
  /** Whether this worker holds any run now (leases are renewed only then). */
  busy(): boolean;
  /** Also done at every beat. (Default: nothing) */
  beat?(): Promise<void>;
  warn(message: string, facts: Record<string, unknown>): void;
}

/**
 * Keeps a worker visibly alive: every third of a lease it renews the leases it holds and its heartbeat
 * (which tells others the versions it serves, so runs nobody serves show as stranded).
 */
export class WorkerPresence {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly options: PresenceOptions,
  ) {}

  async start(): Promise<void> {
    await this.store.heartbeat(this.options.workerId, this.options.served(), this.options.leaseMs);
    this.timer = setInterval(() => void this.beat(), Math.max(50, Math.floor(this.options.leaseMs / 3)));
    this.timer.unref();
  }

  /** Stops beating and forgets this worker (a clean stop is not a death). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.store.removeWorker(this.options.workerId);
  }

  private async beat(): Promise<void> {
    const { workerId, leaseMs } = this.options;
    const served = this.options.served();
    try {
      if (this.options.busy()) await this.store.renewLeases(workerId, leaseMs);
      await this.store.heartbeat(workerId, served, leaseMs);
      await this.options.beat?.();
    } catch (error) {
      this.options.warn('renewing leases failed; will retry', { error: String(error) });
    }
  }
}
