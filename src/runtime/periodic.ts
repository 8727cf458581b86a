import { retryDelayMs, type ResolvedRetryPolicy } from '../core/backoff.js';

/** Where a loop's warnings go. */
export type Warn = (message: string, facts: Record<string, unknown>) => void;

/** Longest pause between tries of a failing loop, in ms, unless its own interval is longer. */
export const MAX_BACKOFF_MS = 10_000;

/**
 * The failures in a row of one loop: the pause before its next try (doubling from `baseMs` up to `maxMs`,
 * with 10% jitter so many workers do not retry in step), one warning when they start and one when the loop
 * works again, however long the outage lasts.
 */
export class Outage {
  private failures = 0;
  private since = 0;
  private readonly policy: ResolvedRetryPolicy;

  constructor(
    private readonly what: string,
    baseMs: number,
    maxMs: number,
    private readonly warn: Warn,
  ) {
    this.policy = {
      maxAttempts: Infinity,
      initialDelayMs: baseMs,
      backoff: 'exponential',
      multiplier: 2,
      maxDelayMs: Math.max(baseMs, maxMs),
      jitter: 0.1,
    };
  }

  /** Whether the last try failed. */
  get failing(): boolean {
    return this.failures > 0;
  }

  /** Records a failure and returns the pause before the next try, in ms; only the first failure in a row is logged. */
  failed(error: unknown): number {
    this.failures++;
    const delay = retryDelayMs(this.policy, this.failures, Math.random());
    if (this.failures === 1) {
      this.since = Date.now();
      const { initialDelayMs, maxDelayMs } = this.policy;
      const when =
        initialDelayMs === maxDelayMs
          ? `every ${maxDelayMs} ms`
          : `in ${delay} ms, then less often, up to every ${maxDelayMs} ms,`;
      this.warn(`${this.what} failed; trying again ${when} until it works (logged once per outage)`, {
        event: 'store_outage_began',
        loop: this.what,
        error: String(error),
      });
    }
    return delay;
  }

  /** Records a success; the first one after failures ends the outage with one warning saying how long it lasted. */
  succeeded(): void {
    if (this.failures === 0) return;
    this.warn(`${this.what} works again`, {
      event: 'store_outage_ended',
      loop: this.what,
      failedTries: this.failures,
      outageMs: Date.now() - this.since,
    });
    this.failures = 0;
  }
}

export interface PeriodicOptions {
  /** What the job does, as warnings name it ('evaluating rollouts'). */
  what: string;
  /** Pause between the end of one run of the job and the next, in ms. */
  intervalMs: number;
  /**
   * Longest pause between tries while the job fails, in ms. (Default: the interval or MAX_BACKOFF_MS, whichever is
   * longer)
   */
  maxBackoffMs?: number;
  warn: Warn;
  /** Errors that stop the job for good instead of being tried again (e.g. its engine was closed). (Default: none) */
  stopsOn?(error: unknown): boolean;
}

/**
 * Runs a job every `intervalMs`, never two at once. A failing job (a store outage) is tried again with
 * capped backoff and its outage logged once; the loop only ends with `stop`. Its timer does not keep the
 * process alive (a worker's claim loop does).
 */
export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly outage: Outage;

  constructor(
    private readonly job: () => Promise<unknown>,
    private readonly options: PeriodicOptions,
  ) {
    const { what, intervalMs, maxBackoffMs, warn } = options;
    this.outage = new Outage(what, intervalMs, maxBackoffMs ?? Math.max(intervalMs, MAX_BACKOFF_MS), warn);
  }

  start(): void {
    this.stopped = false;
    this.schedule(this.options.intervalMs);
  }

  /** Stops the loop and waits for a run of the job in progress to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.tick().finally(() => (this.running = undefined));
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    let next = this.options.intervalMs;
    try {
      await this.job();
      this.outage.succeeded();
    } catch (error) {
      if (this.stopped) return;
      if (this.options.stopsOn?.(error)) {
        this.stopped = true;
        return;
      }
      next = this.outage.failed(error);
    }
    this.schedule(next);
  }
}
