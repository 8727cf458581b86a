import type { CommitOutcome, RunCommit, Store } from '../store/types.js';

interface Waiting {
  commit: RunCommit;
  resolve(outcome: CommitOutcome): void;
  reject(error: unknown): void;
}

/**
 * Group commit: checkpoints enqueued by many runs in the same turn of the event loop share one store
 * transaction; each caller waits for its own outcome. One transaction is in flight at a time; what
 * arrives meanwhile forms the next batch.
 */
export class CommitQueue {
  private queue: Waiting[] = [];
  private scheduled = false;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly leaseMs: number,
    private readonly onCommitted: (commits: RunCommit[], outcomes: CommitOutcome[]) => void,
    /** Most commits in one transaction. (Default: 1000) */
    private readonly maxBatch = 1000,
  ) {}

  enqueue(commit: RunCommit): Promise<CommitOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ commit, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once every commit enqueued so far has been applied. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.flushing || this.scheduled) {
      if (this.flushing) await this.flushing;
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
        if (this.queue.length > 0) this.schedule();
      });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    const commits = batch.map((w) => w.commit);
    let outcomes: CommitOutcome[];
    try {
      outcomes = await this.store.commit(commits, this.leaseMs);
    } catch (error) {
      for (const w of batch) w.reject(error);
      return;
    }
    try {
      this.onCommitted(commits, outcomes);
    } finally {
      batch.forEach((w, i) => w.resolve(outcomes[i]!));
    }
  }
}
