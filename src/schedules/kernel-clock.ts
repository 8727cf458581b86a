/** Schedules wired to a kernel: runs started through it, and the clock that fires due slots on a worker. */
import { isTerminal } from '../core/types.js';
import type { Kernel } from '../runtime/kernel.js';
import type { Store } from '../store/types.js';
import { ScheduleLoop } from './loop.js';
import { Schedules } from './schedules.js';

/** What the wiring needs beyond the kernel and store. */
export interface KernelClockOptions {
  /** Whether this engine executes runs (only a worker fires slots). */
  worker: boolean;
  /** Longest the clock sleeps between looks, in ms; 0 turns it off. (Default: 5000) */
  maxSleepMs?: number;
  warn(message: string, facts: Record<string, unknown>): void;
  /** Cancels a run for the cancel_other overlap policy. */
  cancel(runId: string, reason: string): Promise<void>;
}

/** The engine's schedules and, on a worker, the clock that fires them (woken by changes and ended scheduled runs). */
export function kernelSchedules(
  kernel: Kernel,
  store: Store,
  options: KernelClockOptions,
): { schedules: Schedules; clock: ScheduleLoop | undefined } {
  const maxSleepMs = options.maxSleepMs ?? 5000;
  const { warn } = options;
  let clock: ScheduleLoop | undefined;
  const schedules = new Schedules({
    store,
    now: () => Date.now(),
    changed: () => clock?.wake(),
    warn,
    start: async (schedule, id) => {
      const version = schedule.version ?? undefined;
      // A pinned schedule names its version on purpose: it keeps starting it while it drains (a drain warns of it).
      const start = { id, version, trigger: 'schedule' as const, force: version !== undefined };
      return (await kernel.startRun(schedule.workflow, schedule.input, start)).run;
    },
    cancel: options.cancel,
  });
  if (options.worker && maxSleepMs > 0) clock = new ScheduleLoop(() => schedules.fireDue(), { maxSleepMs, warn });
  kernel.subscribe((change) => {
    if (change.status && isTerminal(change.status) && change.runId.startsWith('sched:')) clock?.wake();
  });
  return { schedules, clock };
}
