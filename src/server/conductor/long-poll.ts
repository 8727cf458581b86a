import type { Task } from '../../core/tasks.js';
import type { Engine } from '../../runtime/engine.js';

/** Longest a batch poll waits for tasks, in ms. */
export const MAX_POLL_WAIT_MS = 60_000;

/** Between looks while waiting: tasks scheduled by other processes, or put back with a callback delay, appear without an event here. */
const RECHECK_MS = 200;

/**
 * Hands out up to `count` tasks of `taskType`, waiting up to `timeoutMs` for the first to arrive: it looks
 * again as soon as this engine commits a checkpoint that schedules a task, and every 200 ms otherwise.
 * Answers [] when the time passes, or at once when `stop` aborts (the client left or the server closes).
 */
export async function pollWithin(engine: Engine, taskType: string, workerId: string, count: number, timeoutMs: number, stop: AbortSignal): Promise<Task[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (stop.aborted) return []; // nobody would receive them: leave them queued
    const tasks = await engine.tasks.poll(taskType, workerId, count);
    if (tasks.length > 0) return tasks;
    const left = deadline - Date.now();
    if (left <= 0) return [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.min(left, RECHECK_MS));
      const unsubscribe = engine.subscribe((change) => {
        if (change.events.includes('task_scheduled')) done();
      });
      stop.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        unsubscribe();
        stop.removeEventListener('abort', done);
        resolve();
      }
    });
  }
}
