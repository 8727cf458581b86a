/**
 * Expressions evaluated on worker threads, so a slow or spinning expression never holds the event loop that
 * serves HTTP requests, timers and other runs. Each thread runs one evaluation at a time in its own QuickJS
 * sandbox; more evaluations wait their turn. A thread that overruns its evaluation's limit (or whose caller
 * gives up) is terminated and replaced.
 */
import { Worker } from 'node:worker_threads';
import { WaymarkError } from '../core/errors.js';
import type { Json } from '../core/types.js';
import type { ExpressionLanguage, ThreadAnswer, ThreadJob } from './sandbox-thread.js';

export type { ExpressionLanguage } from './sandbox-thread.js';

/** An evaluation's value and the sandbox time it took. */
export interface Evaluation {
  value: Json;
  elapsedMs: number;
}

export interface EvaluateOptions {
  /** Sandbox time the evaluation may use, in ms. */
  timeoutMs: number;
  /** 'jq': the expression is a jq query and the value is the list of its results. (Default: 'javascript') */
  language?: ExpressionLanguage;
  /** Aborting gives up on the evaluation: its thread is stopped and replaced. (Default: none) */
  signal?: AbortSignal;
}

/** What declarative runs evaluate their JavaScript (and jq) with. */
export interface ExpressionEvaluator {
  /** Throws E_EXPRESSION (syntax error, thrown error, result not JSON), E_EXPRESSION_TIMEOUT or E_EXPRESSION_MEMORY. */
  evaluate(expression: string, $: Json, options: EvaluateOptions): Promise<Evaluation>;
}

export interface SandboxPoolOptions {
  /** Threads evaluating at once. (Default: 2) */
  threads?: number;
  /** Heap bytes one evaluation may use. (Default: 16 MiB) */
  memoryBytes?: number;
}

/** How long past its own limit an evaluation may run before its thread is stopped from outside. */
const GRACE_MS = 1_000;
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const THREAD_URL = new URL(FROM_SOURCE ? './sandbox-thread.ts' : './sandbox-thread.js', import.meta.url);

interface Job extends ThreadJob {
  resolve(evaluation: Evaluation): void;
  reject(error: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

interface Thread {
  worker: Worker;
  ready: Promise<void>;
  job: Job | undefined;
  timer: NodeJS.Timeout | undefined;
  gone: boolean;
}

/** A fixed number of sandbox threads, started on first need; idle threads do not keep the process alive. */
export class SandboxPool implements ExpressionEvaluator {
  readonly threads: number;
  readonly memoryBytes: number;
  #idle: Thread[] = [];
  #live = new Set<Thread>();
  #queue: Job[] = [];
  #nextId = 1;
  #running = 0;
  #finished = 0;
  #closed = false;

  constructor(options: SandboxPoolOptions = {}) {
    this.threads = options.threads ?? 2;
    this.memoryBytes = options.memoryBytes ?? 16 * 1024 * 1024;
    if (!Number.isInteger(this.threads) || this.threads < 1 || this.threads > 64)
      throw new WaymarkError('E_INVALID_INPUT', `threads must be an integer from 1 to 64, got ${this.threads}`);
    if (!Number.isInteger(this.memoryBytes) || this.memoryBytes < 1024 * 1024 || this.memoryBytes > 1024 ** 3) {
      throw new WaymarkError(
        'E_INVALID_INPUT',
        `memoryBytes must be an integer from 1 MiB to 1 GiB, got ${this.memoryBytes}`,
      );
    }
  }

  /** Evaluations on a thread now. */
  get running(): number {
    return this.#running;
  }

  /** Evaluations that have ended: answered, stopped at their limit, or given up. */
  get finished(): number {
    return this.#finished;
  }

  evaluate(expression: string, $: Json, options: EvaluateOptions): Promise<Evaluation> {
    const { timeoutMs, signal, language = 'javascript' } = options;
    if (typeof expression !== 'string')
      return Promise.reject(new WaymarkError('E_INVALID_INPUT', 'expression must be a string'));
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs))
      return Promise.reject(
        new WaymarkError('E_INVALID_INPUT', `timeoutMs must be a positive number, got ${String(timeoutMs)}`),
      );
    if (this.#closed) return Promise.reject(new WaymarkError('E_EXPRESSION', 'the expression sandbox is closed'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Evaluation>((resolve, reject) => {
      const job: Job = {
        id: this.#nextId++,
        expression,
        input: $,
        timeoutMs,
        language,
        resolve,
        reject,
        signal,
        onAbort: () => this.#giveUp(job, signal!.reason),
      };
      signal?.addEventListener('abort', job.onAbort, { once: true });
      this.#queue.push(job);
      this.#dispatch();
    });
  }

  /** Stops every thread; evaluations in progress or waiting fail with E_EXPRESSION. */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = new WaymarkError('E_EXPRESSION', 'the expression sandbox is closed');
    for (const job of this.#queue.splice(0)) settle(job, closed);
    await Promise.all([...this.#live].map((thread) => this.#stop(thread, closed)));
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const thread = this.#idle.pop() ?? (this.#live.size < this.threads ? this.#spawn() : undefined);
      if (!thread) return;
      this.#start(thread, this.#queue.shift()!);
    }
  }

  #start(thread: Thread, job: Job): void {
    thread.job = job;
    this.#running += 1;
    thread.worker.ref(); // an evaluation in progress keeps the process alive
    void thread.ready.then(() => {
      if (thread.job !== job || thread.gone) return;
      thread.timer = setTimeout(() => {
        const error = new WaymarkError('E_EXPRESSION_TIMEOUT', `expression ran longer than ${job.timeoutMs} ms`, {
          details: { limitMs: job.timeoutMs, expression: job.expression.trim().slice(0, 200) },
        });
        void this.#stop(thread, error);
      }, job.timeoutMs + GRACE_MS);
      try {
        const message: ThreadJob = {
          id: job.id,
          expression: job.expression,
          input: job.input,
          timeoutMs: job.timeoutMs,
          language: job.language,
        };
        thread.worker.postMessage(message);
      } catch (error) {
        this.#release(thread);
        settle(
          job,
          new WaymarkError('E_INVALID_INPUT', `expression input ($) is not JSON: ${(error as Error).message}`),
        );
        this.#dispatch();
      }
    });
  }

  #answer(thread: Thread, answer: ThreadAnswer): void {
    const job = thread.job;
    if (!job || job.id !== answer.id) return;
    this.#release(thread);
    if (answer.ok) settle(job, undefined, { value: answer.value, elapsedMs: answer.elapsedMs });
    else
      settle(job, new WaymarkError(answer.code as WaymarkError['code'], answer.message, { details: answer.details }));
    this.#dispatch();
  }

  /** The thread's evaluation ended: it is idle again. */
  #release(thread: Thread): void {
    clearTimeout(thread.timer);
    thread.job = undefined;
    this.#running -= 1;
    this.#finished += 1;
    thread.worker.unref();
    this.#idle.push(thread);
  }

  #giveUp(job: Job, reason: unknown): void {
    const queued = this.#queue.indexOf(job);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
      settle(job, reason);
      return;
    }
    for (const thread of this.#live) if (thread.job === job) void this.#stop(thread, reason);
  }

  /** Terminates a thread (its evaluation fails with `error`); a new one is started when needed. */
  async #stop(thread: Thread, error: unknown): Promise<void> {
    if (thread.gone) return;
    thread.gone = true;
    clearTimeout(thread.timer);
    this.#live.delete(thread);
    this.#idle = this.#idle.filter((t) => t !== thread);
    const job = thread.job;
    if (job) {
      thread.job = undefined;
      this.#running -= 1;
      this.#finished += 1;
      settle(job, error);
    }
    if (!this.#closed) this.#dispatch();
    await thread.worker.terminate();
  }

  #spawn(): Thread {
    let ready!: () => void;
    const thread: Thread = {
      worker: startWorker(this.memoryBytes),
      ready: new Promise<void>((resolve) => (ready = resolve)),
      job: undefined,
      timer: undefined,
      gone: false,
    };
    thread.worker.on('message', (message: ThreadAnswer | { ready: true }) =>
      'ready' in message ? ready() : this.#answer(thread, message),
    );
    thread.worker.on(
      'error',
      (error) =>
        void this.#stop(
          thread,
          new WaymarkError('E_EXPRESSION', `the expression sandbox thread failed: ${error.message}`),
        ),
    );
    thread.worker.on(
      'exit',
      () => void this.#stop(thread, new WaymarkError('E_EXPRESSION', 'the expression sandbox thread stopped')),
    );
    thread.worker.unref();
    this.#live.add(thread);
    return thread;
  }
}

function settle(job: Job, error: unknown, evaluation?: Evaluation): void {
  job.signal?.removeEventListener('abort', job.onAbort);
  if (evaluation) job.resolve(evaluation);
  else job.reject(error);
}

function startWorker(memoryBytes: number): Worker {
  const workerData = { memoryBytes };
  if (!FROM_SOURCE) return new Worker(THREAD_URL, { workerData });
  // Running from the TypeScript sources (tests, tsx): the thread registers tsx before it imports its entry.
  const tsx = import.meta.resolve('tsx/esm/api');
  const code =
    `import(${JSON.stringify(tsx)}).then((api) => { api.register(); ` +
    `return import(${JSON.stringify(THREAD_URL.href)}); });`;
  return new Worker(code, { eval: true, workerData });
}

const pools = new Map<string, SandboxPool>();

/** The pool for these options, made once per process and shared. */
export function sharedSandboxPool(options: SandboxPoolOptions = {}): SandboxPool {
  const key = `${options.threads ?? 2}:${options.memoryBytes ?? 16 * 1024 * 1024}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = new SandboxPool(options);
    pools.set(key, pool);
  }
  return pool;
}
