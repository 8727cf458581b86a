import type { PollLimits, Task } from '../../core/tasks.js';
import type { Engine } from '../../engine.js';
import { SYSTEM_TASK_TYPES } from './task-shape.js';

/** Longest a batch poll waits for tasks, in ms. */
export const MAX_POLL_WAIT_MS = 60_000;

/**
 * Between looks while polls wait: tasks scheduled by other processes, put back
 * with a callback delay, or freed by a limit, appear without an event here.
 */
const RECHECK_MS = 200;

interface Waiter {
  workerId: string;
  count: number;
  resolve(tasks: Task[]): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
  /** A store poll for it is under way: it is answered when that poll returns. */
  polling: boolean;
  /** Its time is up (or its client left) while a poll for it was under way. */
  due: boolean;
  done: boolean;
  onStop(): void;
  stop: AbortSignal;
}

/** The waiting polls of one task type, oldest first, and what the last store poll found. */
interface TypeQueue {
  /** The map key: type and domain. */
  key: string;
  taskType: string;
  /** The domain its pollers poll (undefined: none). */
  domain: string | undefined;
  /** In arrival order (a Set keeps it, and lets thousands leave in any order cheaply). */
  waiters: Set<Waiter>;
  pumping: boolean;
  /** Look again when the current pass is over: something may have changed. */
  again: boolean;
  /** The current pass found the queue empty: its lanes stop. */
  drained: boolean;
  /** When a poll last found fewer tasks than it asked for (0: not since the last change). */
  emptyAt: number;
  recheck: NodeJS.Timeout | undefined;
}

/**
 * The batch long polls of one server. However many wait, each task type is polled in the store by one
 * pass at a time, for its oldest waiters first (with their worker ids and counts), and only when
 * something may have changed: a task scheduled by this engine, a new waiter when the queue was not just
 * found empty, or every 200 ms while polls wait. So thousands of waiting polls cost a few store polls a
 * second, not thousands, and each is answered at its timeout at the latest.
 */
export class PollHub {
  private readonly queues = new Map<string, TypeQueue>();
  private readonly unsubscribe: () => void;
  private closed = false;
  /**
   * Waiters whose time is up, answered [] a batch at a time so other requests (health checks) are served in between.
   */
  private readonly expired: { queue: TypeQueue; waiter: Waiter }[] = [];
  private flushing = false;

  constructor(private readonly engine: Engine) {
    this.unsubscribe = engine.subscribe((change) => {
      if (change.events.includes('task_scheduled')) for (const type of this.queues.keys()) this.kick(type, true);
    });
  }

  /**
   * Up to `count` tasks of `taskType` for `workerId`, waiting up to `timeoutMs`
   * for the first; [] at the timeout, when `stop` aborts, or once the hub closes.
   */
  async wait(
    taskType: string,
    workerId: string,
    count: number,
    timeoutMs: number,
    stop: AbortSignal,
    domain?: string,
  ): Promise<Task[]> {
    if (this.closed || stop.aborted) return []; // nobody would receive them: leave them queued
    if (timeoutMs <= 0) return pollLimited(this.engine, taskType, workerId, count, domain);
    // A waiting poll may never reach the store (another waiter's poll finds the queue empty): it is recorded now.
    if (!SYSTEM_TASK_TYPES.includes(taskType)) await this.engine.tasks.notePoll(taskType, workerId, domain ?? null);
    const queue = this.queueOf(taskType, domain);
    return new Promise<Task[]>((resolve, reject) => {
      const waiter: Waiter = {
        workerId,
        count,
        resolve,
        reject,
        polling: false,
        due: false,
        done: false,
        stop,
        timer: setTimeout(() => this.expire(queue, waiter), timeoutMs),
        onStop: () => this.expire(queue, waiter),
      };
      stop.addEventListener('abort', waiter.onStop, { once: true });
      queue.waiters.add(waiter);
      this.scheduleRecheck(queue.key, queue);
      this.kick(queue.key, false);
    });
  }

  /** Answers every waiting poll with [] and stops listening to the engine. */
  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const queue of this.queues.values()) {
      clearTimeout(queue.recheck);
      // one being polled for gets what its poll finds
      for (const waiter of [...queue.waiters]) this.expire(queue, waiter);
    }
    this.queues.clear();
  }

  private queueOf(taskType: string, domain: string | undefined): TypeQueue {
    const key = domain === undefined ? taskType : `${taskType}\u0000${domain}`;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = {
        key,
        taskType,
        domain,
        waiters: new Set(),
        pumping: false,
        again: false,
        drained: false,
        emptyAt: 0,
        recheck: undefined,
      };
      this.queues.set(key, queue);
    }
    return queue;
  }

  /**
   * Starts a pass over the type's waiters (or asks the running one for another).
   * `changed`: something may be there even if the last poll found nothing.
   */
  private kick(key: string, changed: boolean): void {
    const queue = this.queues.get(key);
    if (!queue || queue.waiters.size === 0) return;
    if (changed) queue.emptyAt = 0;
    else if (queue.emptyAt !== 0 && Date.now() - queue.emptyAt < RECHECK_MS) {
      return; // just found empty, and nothing changed since
    }
    if (queue.pumping) {
      queue.again = true;
      return;
    }
    void this.pump(queue);
  }

  /**
   * A pass: one store poll for the oldest waiter; while polls come back full, up to PARALLEL_POLLS at a
   * time, each for the oldest waiter not yet polled for. The pass ends at the first that finds fewer tasks
   * than it asked for.
   */
  private async pump(queue: TypeQueue): Promise<void> {
    queue.pumping = true;
    try {
      do {
        queue.again = false;
        queue.drained = false;
        if (await this.pollNext(queue))
          await Promise.all(Array.from({ length: PARALLEL_POLLS }, () => this.lane(queue)));
      } while (queue.again && queue.waiters.size > 0 && !this.closed);
    } finally {
      queue.pumping = false;
      if (queue.waiters.size === 0) this.forget(queue);
    }
  }

  private async lane(queue: TypeQueue): Promise<void> {
    // A synchronous store would otherwise hold timers and sockets until the pass ends.
    while (await this.pollNext(queue)) await yieldToEventLoop();
  }

  /** Polls for the oldest waiter not yet polled for; true when its poll came back full (more tasks may be there). */
  private async pollNext(queue: TypeQueue): Promise<boolean> {
    if (queue.drained || this.closed) return false;
    const waiter = this.nextUnpolled(queue);
    if (!waiter) return false;
    waiter.polling = true;
    let tasks: Task[];
    try {
      tasks = await pollLimited(this.engine, queue.taskType, waiter.workerId, waiter.count, queue.domain);
    } catch (error) {
      waiter.polling = false;
      queue.drained = true;
      this.fail(queue, waiter, error);
      return false;
    }
    waiter.polling = false;
    if (tasks.length > 0 || waiter.due) this.settle(queue, waiter, tasks);
    if (tasks.length < waiter.count) {
      queue.emptyAt = Date.now();
      queue.drained = true;
      return false;
    }
    return true;
  }

  /** The oldest waiter no poll is under way for (at most PARALLEL_POLLS are skipped). */
  private nextUnpolled(queue: TypeQueue): Waiter | undefined {
    for (const waiter of queue.waiters) if (!waiter.polling) return waiter;
    return undefined;
  }

  /** Every 200 ms while polls of the type wait: look again, whatever the last poll found. */
  private scheduleRecheck(key: string, queue: TypeQueue): void {
    if (queue.recheck) return;
    queue.recheck = setTimeout(() => {
      queue.recheck = undefined;
      if (queue.waiters.size === 0) return;
      this.kick(key, true);
      this.scheduleRecheck(key, queue);
    }, RECHECK_MS);
  }

  /**
   * The waiter's time is up or its client left: [] soon (thousands
   * may expire together), or when the poll under way for it returns.
   */
  private expire(queue: TypeQueue, waiter: Waiter): void {
    if (waiter.polling) {
      waiter.due = true;
      return;
    }
    this.expired.push({ queue, waiter });
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flushExpired());
    }
  }

  private flushExpired(): void {
    for (const { queue, waiter } of this.expired.splice(0, EXPIRED_PER_TURN)) {
      if (waiter.polling) waiter.due = true;
      else this.settle(queue, waiter, []);
    }
    if (this.expired.length > 0) setImmediate(() => this.flushExpired());
    else this.flushing = false;
  }

  private settle(queue: TypeQueue, waiter: Waiter, tasks: Task[]): void {
    if (!this.release(queue, waiter)) return;
    waiter.resolve(tasks);
  }

  private fail(queue: TypeQueue, waiter: Waiter, error: unknown): void {
    if (this.release(queue, waiter)) waiter.reject(error);
  }

  private release(queue: TypeQueue, waiter: Waiter): boolean {
    if (waiter.done) return false;
    waiter.done = true;
    clearTimeout(waiter.timer);
    waiter.stop.removeEventListener('abort', waiter.onStop);
    queue.waiters.delete(waiter);
    if (queue.waiters.size === 0 && !queue.pumping) this.forget(queue);
    return true;
  }

  /** A type nobody waits for any more keeps no timer and no entry. */
  private forget(queue: TypeQueue): void {
    clearTimeout(queue.recheck);
    queue.recheck = undefined;
    if (this.queues.get(queue.key) === queue) this.queues.delete(queue.key);
  }
}

/** Store polls a pass makes at once for one task type (a pool of connections serves them side by side). */
const PARALLEL_POLLS = 8;

/** Expired polls answered per turn of the event loop. */
const EXPIRED_PER_TURN = 200;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Polls tasks of `domain` (none: tasks without one) within the limits of the type's task definition
 * (concurrentExecLimit, rateLimitPerFrequency per rateLimitFrequencyInSeconds); system types hand out nothing.
 */
export async function pollLimited(
  engine: Engine,
  taskType: string,
  workerId: string,
  count: number,
  domain?: string,
): Promise<Task[]> {
  if (SYSTEM_TASK_TYPES.includes(taskType)) return []; // the engine's own: never handed to workers
  const limits = limitsOf(engine.definitions.taskDefinition(taskType));
  return engine.tasks.poll(taskType, workerId, count, limits, domain);
}

function limitsOf(definition: unknown): PollLimits | undefined {
  if (definition === null || typeof definition !== 'object') return undefined;
  const d = definition as {
    concurrentExecLimit?: unknown;
    rateLimitPerFrequency?: unknown;
    rateLimitFrequencyInSeconds?: unknown;
  };
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
