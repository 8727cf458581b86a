import type { PollRecord, Store } from '../store/types.js';

/** Least time between two stored polls of one (task type, domain, worker), in ms. (Default: 5000) */
export const POLL_NOTE_MS = 5_000;

/** Most (task type, domain, worker) keys remembered for throttling; beyond it the oldest are forgotten. */
const MAX_REMEMBERED = 10_000;

/**
 * Keeps workers' polls in the store (poll data), at most one write per POLL_NOTE_MS per (type, domain, worker),
 * so a hot poll loop does not write at every poll. A failing write never fails the poll: `warn` says so.
 */
export class PollNotes {
  /** Key -> when its poll was last written (epoch ms), oldest first. */
  private readonly written = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly warn: (message: string, facts: Record<string, unknown>) => void = () => {},
    private readonly everyMs = POLL_NOTE_MS,
  ) {}

  /** Records that `workerId` polled for `taskType` (in `domain`) now, unless it was recorded less than everyMs ago. */
  async note(taskType: string, workerId: string, domain: string | null = null, now = Date.now()): Promise<void> {
    const key = JSON.stringify([taskType, domain, workerId]);
    const last = this.written.get(key);
    if (last !== undefined && now - last < this.everyMs) return;
    this.written.delete(key);
    this.written.set(key, now);
    if (this.written.size > MAX_REMEMBERED) this.written.delete(this.written.keys().next().value!);
    const poll: PollRecord = { taskType, domain, workerId, lastPollAt: now };
    try {
      await this.store.queues.recordPoll(poll);
    } catch (error) {
      this.written.delete(key); // the next poll tries again
      this.warn('a poll could not be recorded in the poll data', { taskType, workerId, err: String(error) });
    }
  }
}
