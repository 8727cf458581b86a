import { WaymarkError } from '../core/errors.js';
import type { Store } from '../store/types.js';

/** How long finished runs are kept. (Default: forever, no retention loop) */
export interface RetentionOptions {
  /** Days a completed, failed, cancelled or compensated run is kept after it finished; fractions allowed. */
  finishedRunsDays: number;
  /** Pause between passes of the retention loop, in ms. (Default: 60000) */
  checkIntervalMs?: number;
  /** Runs deleted per batch; a pass goes on while batches are full. (Default: 500) */
  batchSize?: number;
}

const DAY_MS = 86_400_000;

/** Checks the retention option; E_INVALID_INPUT names what is wrong, before anything is opened. */
export function checkRetention(retention: RetentionOptions | undefined): void {
  if (retention === undefined) return;
  const { finishedRunsDays: days, checkIntervalMs, batchSize } = retention;
  if (typeof days !== 'number' || !Number.isFinite(days) || days <= 0)
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `Engine option retention.finishedRunsDays must be a positive number of days, got ${String(days)}`,
    );
  for (const [name, value] of [
    ['checkIntervalMs', checkIntervalMs],
    ['batchSize', batchSize],
  ] as const)
    if (value !== undefined && (!Number.isInteger(value) || value < 1))
      throw new WaymarkError(
        'E_INVALID_INPUT',
        `Engine option retention.${name} must be a positive integer, got ${String(value)}`,
      );
}

/** One pass: deletes runs finished more than `finishedRunsDays` ago, a bounded batch at a time; the count deleted. */
export async function removeExpiredRuns(store: Store, retention: RetentionOptions, now = Date.now()): Promise<number> {
  const before = now - retention.finishedRunsDays * DAY_MS;
  const batch = retention.batchSize ?? 500;
  let total = 0;
  for (;;) {
    const removed = await store.removeRunsFinishedBefore(before, batch);
    total += removed;
    if (removed < batch) return total;
  }
}
