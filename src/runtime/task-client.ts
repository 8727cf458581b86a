import { MAX_DURATION_MS } from '../core/duration.js';
import { WaymarkError } from '../core/errors.js';
import { checkStorableText, roundTrip } from '../core/json.js';
import { storableText, unstorableReason } from '../core/text.js';
import type { PollLimits, Task, TaskResult, TaskSearch } from '../core/tasks.js';
import type { Json } from '../core/types.js';
import type { PollRecord, QueueDepth, Store } from '../store/types.js';
import { PollNotes } from './poll-notes.js';
import { NO_TELEMETRY, type SpanAttributes, type Telemetry } from './telemetry.js';

/** Task statuses a span shows as an error. */
const FAILED_STATUSES: Task['status'][] = ['FAILED', 'FAILED_WITH_TERMINAL_ERROR', 'TIMED_OUT', 'CANCELED'];

const REPORT_STATUSES: TaskResult['status'][] = ['IN_PROGRESS', 'COMPLETED', 'FAILED', 'FAILED_WITH_TERMINAL_ERROR'];

/** What remote workers do with tasks, checked: bad input is refused before anything is written. */
export class TaskClient {
  constructor(
    private readonly store: Store,
    /** Tells this engine a report or a time-out may have woken a run (the task, when one report did). */
    private readonly nudge: (task?: Task) => void,
    /** Throws E_ENGINE_CLOSED once the engine is closed. */
    private readonly assertOpen: () => void,
    /** Where polls are counted and polls and reports traced. (Default: nowhere) */
    private readonly telemetry: Telemetry = NO_TELEMETRY,
    /** Where a poll that could not be recorded is told. (Default: nowhere) */
    warn?: (message: string, facts: Record<string, unknown>) => void,
  ) {
    this.polls = new PollNotes(store, warn);
  }

  private readonly polls: PollNotes;

  /**
   * Records that `workerId` polled for `taskType` (in `domain`), throttled per worker (see PollNotes); polls record
   * themselves, a long poll records itself with this when it begins to wait.
   */
  notePoll(taskType: string, workerId: string, domain: string | null = null): Promise<void> {
    return this.polls.note(taskType, workerId || 'anonymous', domain);
  }

  /** The last polls of one task type, or of all. */
  pollData(taskType?: string): Promise<PollRecord[]> {
    return this.store.queues.pollData(taskType);
  }

  /** Per task type with open tasks: SCHEDULED (depth), IN_PROGRESS, and since when the oldest visible one waits. */
  depths(): Promise<QueueDepth[]> {
    return this.store.queues.depths();
  }

  /**
   * Hands up to `count` tasks of `taskType` and `domain` to `workerId` within `limits`; they are IN_PROGRESS until
   * reported on or timed out. The poll is recorded in the poll data (throttled) unless `record` is false (the engine's
   * own polls). (Default count: 1; domain: none, i.e. tasks routed to no domain)
   */
  async poll(
    taskType: string,
    workerId: string,
    count = 1,
    limits?: PollLimits,
    domain?: string,
    record = true,
  ): Promise<Task[]> {
    this.assertOpen();
    if (typeof taskType !== 'string' || taskType === '')
      throw new WaymarkError('E_INVALID_INPUT', 'task type must be a non-empty string');
    checkStorableText(taskType, 'task type');
    if (workerId) checkStorableText(workerId, 'workerId');
    if (!Number.isInteger(count) || count < 0 || count > 1000)
      throw new WaymarkError('E_INVALID_INPUT', `count must be an integer from 0 to 1000, got ${String(count)}`);
    if (domain !== undefined) checkStorableText(domain, 'domain');
    if (record) await this.notePoll(taskType, workerId, domain ?? null);
    const tasks = await this.store.tasks.poll(taskType, workerId || 'anonymous', count, limits, domain || undefined);
    const now = Date.now();
    this.telemetry.taskPolled(
      taskType,
      tasks.map((t) => Math.max(0, now - Math.max(t.scheduledAt, t.visibleAt)) / 1000),
    );
    if (this.telemetry.tracing) for (const task of tasks) this.traceTask('waymark.task.poll', task, now);
    return tasks;
  }

  /**
   * A span, child of the span that scheduled the task: its poll (at once) or its report (from its first poll on, so
   * it shows how long the worker took).
   */
  private traceTask(name: string, task: Task, startedAt: number, attributes: SpanAttributes = {}): void {
    if (task.traceparent === undefined) return;
    this.telemetry
      .startSpan(name, {
        parent: task.traceparent,
        kind: 'consumer',
        startedAt,
        attributes: {
          'workflow.name': task.workflow,
          'workflow.version': task.version,
          'run.id': task.runId,
          'task.type': task.taskType,
          'task.id': task.taskId,
          'task.attempt': task.attempt,
          ...(task.workerId !== undefined ? { 'task.worker_id': task.workerId } : {}),
          ...attributes,
        },
      })
      .end(FAILED_STATUSES.includes(task.status) ? (task.reason ?? task.status) : undefined);
  }

  /** Applies a worker's report. E_TASK_NOT_FOUND for an unknown task; a report on a finished task changes nothing. */
  async report(taskId: string, result: TaskResult): Promise<Task> {
    this.assertOpen();
    if (!REPORT_STATUSES.includes(result?.status)) {
      throw new WaymarkError(
        'E_INVALID_INPUT',
        `task status must be one of ${REPORT_STATUSES.join(', ')}, got ${JSON.stringify(result?.status)}`,
      );
    }
    checkStorableText(String(taskId), 'task id');
    if (result.workerId !== undefined) checkStorableText(result.workerId, 'workerId');
    const checked: TaskResult = { ...result };
    // an error message: made storable
    if (typeof result.reason === 'string') checked.reason = storableText(result.reason);
    if (result.output !== undefined) checked.output = roundTrip(result.output, 'task output') as Json;
    if (
      result.callbackAfterMs !== undefined &&
      !(
        Number.isFinite(result.callbackAfterMs) &&
        result.callbackAfterMs >= 0 &&
        result.callbackAfterMs <= MAX_DURATION_MS
      )
    ) {
      throw new WaymarkError(
        'E_INVALID_INPUT',
        `callbackAfterMs must be a number of ms from 0 to ${MAX_DURATION_MS} (100 years)`,
      );
    }
    const task = await this.store.tasks.report(taskId, checked);
    if (!task) throw new WaymarkError('E_TASK_NOT_FOUND', `task '${taskId}' does not exist`, { details: { taskId } });
    if (task.status !== 'SCHEDULED' && task.status !== 'IN_PROGRESS') this.nudge(task);
    if (this.telemetry.tracing)
      this.traceTask('waymark.task.report', task, task.startedAt ?? Date.now(), { 'task.reported': result.status });
    return task;
  }

  async get(taskId: string): Promise<Task> {
    const task = unstorableReason(String(taskId)) ? undefined : await this.store.tasks.get(taskId);
    if (!task) throw new WaymarkError('E_TASK_NOT_FOUND', `task '${taskId}' does not exist`, { details: { taskId } });
    return task;
  }

  /** Every attempt of every task of a run. */
  ofRun(runId: string): Promise<Task[]> {
    return this.store.tasks.ofRun(runId);
  }

  /** Tasks as `filter` narrows them, most recently updated first (at most 10,000). */
  search(filter: TaskSearch): Promise<Task[]> {
    return this.store.tasks.search({ ...filter, limit: Math.min(Math.max(0, filter.limit), 10_000) });
  }

  queueSize(taskType: string): Promise<number> {
    return this.store.tasks.queueSize(taskType);
  }

  /**
   * Times out tasks whose worker missed its response timeout, now (worker engines also do it at every heartbeat);
   * returns how many.
   */
  async timeOut(): Promise<number> {
    const count = await this.store.tasks.timeOut();
    if (count) this.nudge();
    return count;
  }
}
