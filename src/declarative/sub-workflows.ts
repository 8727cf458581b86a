import { WaymarkError } from '../core/errors.js';
import type { Json } from '../core/types.js';
import type { KernelApi } from '../runtime/kernel.js';
import { isTerminal } from '../core/types.js';
import { Periodic } from '../runtime/periodic.js';

/** The task type SUB_WORKFLOW tasks are dispatched as; this process's runner is their worker. */
export const SUB_WORKFLOW_TASK = 'SUB_WORKFLOW';

/** What a SUB_WORKFLOW task carries. */
export interface SubWorkflowRequest {
  name: string;
  /** Pinned version, or null for a routed start. */
  version: number | null;
  input: Json;
}

/**
 * The child run of a parent's SUB_WORKFLOW task: the same id on every attempt, so a retried task finds its child again.
 */
export const childRunId = (parentRunId: string, ref: string) => `${parentRunId}.${ref}`;

/** How long a watched task may go without news before another runner takes it over, in ms. */
export const WATCH_LEASE_MS = 60_000;

/**
 * The worker of SUB_WORKFLOW tasks: starts each child run (routed on its parent's version line: a parent
 * on a canary's candidate gets its child's candidate), keeps the task's lease while the child runs, and reports
 * the child's outcome. If this process dies, the task times out and a runner elsewhere re-attaches.
 */
export class SubWorkflowRunner {
  private readonly watching = new Map<string, string>(); // taskId -> child run id
  private readonly schedule: Periodic;

  private readonly maxDepth: number;

  constructor(
    private readonly engine: KernelApi,
    options: {
      /** SUB_WORKFLOW levels below a run started on its own. (Default: 5) */
      maxDepth?: number;
      /** Time between polls, in ms. (Default: 250) */
      intervalMs?: number;
    } = {},
  ) {
    this.maxDepth = options.maxDepth ?? 5;
    // Once the engine is closed its task calls throw E_ENGINE_CLOSED: the runner stops; other errors (the store is
    // down) are tried again.
    this.schedule = new Periodic(() => this.tick(), {
      what: 'running sub-workflow tasks',
      intervalMs: options.intervalMs ?? 250,
      warn: (message, facts) => engine.warn(message, facts),
      stopsOn: (error) => (error as { code?: string }).code === 'E_ENGINE_CLOSED',
    });
  }

  start(): void {
    this.schedule.start();
  }

  private async tick(): Promise<void> {
    const poller = `${this.engine.workerId}:sub-workflows`;
    // The engine's own poll: not a worker's, so not recorded in the poll data.
    for (const task of await this.engine.tasks.poll(SUB_WORKFLOW_TASK, poller, 50, undefined, undefined, false)) {
      const request = task.input as unknown as SubWorkflowRequest;
      const id = childRunId(task.runId, task.refName);
      const depth = (await subWorkflowDepth(this.engine, task.runId, this.maxDepth)) + 1;
      if (depth > this.maxDepth) {
        const reason =
          `sub-workflow ${request.name} not started: ${id} would be ${depth} levels below its root run, ` +
          `more than the sub-workflow depth limit of ${this.maxDepth} (E_LIMIT_EXCEEDED, limit: maxSubWorkflowDepth)`;
        await this.engine.tasks.report(task.taskId, { status: 'FAILED_WITH_TERMINAL_ERROR', reason });
        continue;
      }
      try {
        await this.engine.start(request.name, request.input, {
          id,
          trigger: 'sub_workflow',
          // the child's executions are traced under the parent's SUB_WORKFLOW task
          ...(task.traceparent !== undefined ? { traceparent: task.traceparent } : {}),
          ...(request.version
            ? { version: request.version }
            : { parent: { workflow: task.workflow, version: task.version } }),
        });
        this.watching.set(task.taskId, id);
      } catch (error) {
        // Only a refused start fails the task; a store that is down leaves it to time out and be polled again.
        if (!isRefusal(error)) throw error;
        await this.engine.tasks.report(task.taskId, {
          status: 'FAILED_WITH_TERMINAL_ERROR',
          reason: `cannot start sub-workflow ${request.name}: ${error.message}`,
        });
      }
    }
    for (const [taskId, childId] of this.watching) {
      const child = await this.engine.getRun(childId);
      if (!isTerminal(child.status)) {
        await this.engine.tasks.report(taskId, { status: 'IN_PROGRESS', extendLease: true });
        continue;
      }
      this.watching.delete(taskId);
      if (child.status === 'completed')
        await this.engine.tasks.report(taskId, { status: 'COMPLETED', output: (child.output ?? {}) as Json });
      else
        await this.engine.tasks.report(taskId, {
          status: 'FAILED_WITH_TERMINAL_ERROR',
          reason: `sub-workflow ${childId} ${child.status}: ${child.error?.message ?? ''}`,
        });
    }
  }
}

/**
 * How many SUB_WORKFLOW levels are above `runId`: 0 for a run started on its own. A child's id is its parent's
 * id, a dot and the task's ref, and the parent has that SUB_WORKFLOW task: the store says so durably, on any
 * engine. Counts no further than `limit + 1`.
 */
export async function subWorkflowDepth(engine: KernelApi, runId: string, limit: number): Promise<number> {
  let depth = 0;
  for (let id: string | undefined = runId; depth <= limit; depth++) {
    id = await parentOf(engine, id);
    if (id === undefined) return depth;
  }
  return depth;
}

/**
 * The run whose SUB_WORKFLOW task started `runId`, if any (a ref may itself hold dots: each split is tried, the longest
 * parent first).
 */
async function parentOf(engine: KernelApi, runId: string): Promise<string | undefined> {
  for (let dot = runId.lastIndexOf('.'); dot > 0; dot = runId.lastIndexOf('.', dot - 1)) {
    const parent = runId.slice(0, dot);
    const ref = runId.slice(dot + 1);
    if ((await engine.tasks.ofRun(parent)).some((t) => t.taskType === SUB_WORKFLOW_TASK && t.refName === ref))
      return parent;
  }
  return undefined;
}

/**
 * A start refused for what it asks (unknown workflow, bad input, lock held...), not for the store being unavailable.
 */
function isRefusal(error: unknown): error is WaymarkError {
  return error instanceof WaymarkError && error.code !== 'E_STORE' && error.code !== 'E_ENGINE_CLOSED';
}
