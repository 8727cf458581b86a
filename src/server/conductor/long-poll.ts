import type { PollLimits, Task } from '../../core/tasks.js';
import type { Engine } from '../../runtime/engine.js';
import { SYSTEM_TASK_TYPES } from './task-shape.js';
import { nextChange } from '../next-change.js';

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
    const tasks = await pollLimited(engine, taskType, workerId, count);
    if (tasks.length > 0) return tasks;
    const left = deadline - Date.now();
    if (left <= 0) return [];
    await nextChange(engine, (change) => change.events.includes('task_scheduled'), Math.min(left, RECHECK_MS), stop);
  }
}

/** Polls within the limits of the type's task definition (concurrentExecLimit, rateLimitPerFrequency per rateLimitFrequencyInSeconds); system types hand out nothing. */
export async function pollLimited(engine: Engine, taskType: string, workerId: string, count: number): Promise<Task[]> {
  if (SYSTEM_TASK_TYPES.includes(taskType)) return []; // the engine's own: never handed to workers
  return engine.tasks.poll(taskType, workerId, count, limitsOf(engine.definitions.taskDefinition(taskType)));
}

function limitsOf(definition: unknown): PollLimits | undefined {
  if (definition === null || typeof definition !== 'object') return undefined;
  const d = definition as { concurrentExecLimit?: unknown; rateLimitPerFrequency?: unknown; rateLimitFrequencyInSeconds?: unknown };
  const positive = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined);
  const limits: PollLimits = {};
  const concurrent = positive(d.concurrentExecLimit);
  const rate = positive(d.rateLimitPerFrequency);
  if (concurrent !== undefined) limits.concurrentExecLimit = concurrent;
  if (rate !== undefined) {
    limits.ratePerWindow = rate;
    limits.rateWindowMs = (positive(d.rateLimitFrequencyInSeconds) ?? 1) * 1000;
  }
  return concurrent === undefined && rate === undefined ? undefined : limits;
}
