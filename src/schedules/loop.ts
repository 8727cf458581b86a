import { Outage, type Warn } from '../runtime/periodic.js';

/** Options of the schedule clock. */
export interface ScheduleLoopOptions {
  /** Longest sleep between looks, in ms: schedules other processes create are seen within it. (Default: 5000) */
  maxSleepMs?: number;
  warn: Warn;
}

/** Shortest sleep between looks, in ms, so a schedule due again at once does not spin. */
const MIN_SLEEP_MS = 20;

/**
 * The schedule clock of a worker: looks at due slots, then sleeps until the next slot fires (at most `maxSleepMs`),
 * or until `wake`. A failing look (a store outage) is tried again with capped backoff, its outage logged once. Its
 * timer does not keep the process alive.
 */
export class ScheduleLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private again = false;
  private readonly outage: Outage;
  private readonly maxSleepMs: number;

  constructor(
    private readonly look: () => Promise<number | undefined>,
    options: ScheduleLoopOptions,
  ) {
    this.maxSleepMs = options.maxSleepMs ?? 5000;
    this.outage = new Outage('firing schedules', 500, Math.max(this.maxSleepMs, 10_000), options.warn);
  }

  /** Starts looking now. */
  start(): void {
    this.stopped = false;
    this.sleep(0);
  }

  /** Looks again soon (a schedule changed, a run ended). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.sleep(0);
  }

  /** Stops the clock and waits for a look in progress to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private sleep(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.tick().finally(() => (this.running = undefined));
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.again = false;
    let ms: number;
    try {
      const next = await this.look();
      this.outage.succeeded();
      ms = next === undefined ? this.maxSleepMs : Math.min(this.maxSleepMs, Math.max(0, next - Date.now()));
      ms = Math.max(ms, MIN_SLEEP_MS);
    } catch (error) {
      if (this.stopped) return;
      ms = this.outage.failed(error);
    }
    this.sleep(this.again ? 0 : ms);
  }
}
