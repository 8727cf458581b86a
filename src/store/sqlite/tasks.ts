import type Database from 'better-sqlite3';
import {
  isTerminalTask,
  pollAllowance,
  TIME_LIMIT_REASON,
  type NewTask,
  type PollLimits,
  type Task,
  type TaskResult,
  type TaskSearch,
} from '../../core/tasks.js';
import type { Json } from '../../core/types.js';
import { routingOf, taskFromRow, type TaskRow as Row } from '../task-rows.js';
import type { TaskBacklog, TaskQueue } from '../types.js';

type TaskRow = Row<string>;

const OPEN = "('SCHEDULED', 'IN_PROGRESS')";

/**
 * When an IN_PROGRESS attempt times out: its response timeout from now, capped by its time limit from its first poll.
 */
const DEADLINE =
  'CASE WHEN timeout_ms > 0 THEN MIN(@now + ' +
  'response_timeout_ms, ' +
  'COALESCE(started_at, @now) + timeout_ms) ' +
  'ELSE @now + response_timeout_ms END';

/** RETURNING gives rows in storage order: the order they were picked in, again. */
const handOutOrder = (a: Task, b: Task) =>
  (b.priority ?? 0) - (a.priority ?? 0) || a.visibleAt - b.visibleAt || a.scheduledAt - b.scheduledAt;

const fromRow = (row: TaskRow) => taskFromRow(row, (text) => JSON.parse(text) as Json);

/** The task queue on SQLite, and the task writes that go with a run's checkpoint. */
export class SqliteTasks implements TaskQueue {
  private readonly sql;

  constructor(
    private readonly db: Database.Database,
    /** Called after a write that made a run due (SQLite is one process: a no-op hook for symmetry). */
    private readonly woke: () => void = () => {},
  ) {
    this.sql = {
      insert: db.prepare(
        `INSERT INTO tasks (task_id, run_id, workflow, version, seq, attempt, task_type, ref_name, status, input,
          response_timeout_ms, timeout_ms, scheduled_at, visible_at, updated_at, traceparent, priority, domain)
         VALUES (@taskId, @runId, @workflow, @version, @seq, @attempt, @taskType, @refName, 'SCHEDULED', @input,
           @responseTimeoutMs, @timeoutMs, @now, @visibleAt, @now, @traceparent, @priority, @domain)`,
      ),
      startOptions: db.prepare('SELECT start_options FROM runs WHERE id = ?'),
      search: db.prepare(
        `SELECT * FROM tasks WHERE (@types IS NULL OR task_type IN (SELECT value FROM json_each(@types)))
           AND (@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
           AND (@runs IS NULL OR run_id IN (SELECT value FROM json_each(@runs)))
         ORDER BY updated_at DESC, task_id LIMIT @limit`,
      ),
      poll: db.prepare(
        `UPDATE tasks SET status = 'IN_PROGRESS', worker_id = @workerId, poll_count = poll_count + 1, started_at =
          COALESCE(started_at, @now), updated_at = @now,
           response_deadline = ${DEADLINE}
         WHERE task_id IN (SELECT task_id FROM tasks WHERE task_type = @taskType AND domain IS @domain AND
           status = 'SCHEDULED' AND visible_at <= @now ORDER BY priority DESC, visible_at, scheduled_at LIMIT @count)
         RETURNING *`,
      ),
      get: db.prepare('SELECT * FROM tasks WHERE task_id = ?'),
      finished: db.prepare(
        `SELECT * FROM tasks WHERE task_id IN (SELECT value FROM json_each(?)) AND status NOT IN ${OPEN}`,
      ),
      load: db.prepare(
        `SELECT COUNT(*) FILTER (WHERE status = 'IN_PROGRESS') AS inProgress, COUNT(*) FILTER (WHERE started_at >=
         @since) AS started FROM tasks WHERE task_type = @taskType AND (status = 'IN_PROGRESS' OR started_at >=
         @since)`,
      ),
      ofRun: db.prepare('SELECT * FROM tasks WHERE run_id = ? ORDER BY seq, attempt'),
      outcomes: db.prepare(
        `SELECT * FROM tasks WHERE run_id = ? AND consumed_at IS NULL AND status NOT IN ${OPEN} ORDER BY seq, attempt`,
      ),
      queueSize: db.prepare("SELECT COUNT(*) AS n FROM tasks WHERE task_type = ? AND status = 'SCHEDULED'"),
      backlog: db.prepare(
        `SELECT task_type AS taskType, COUNT(*) AS depth, MIN(CASE WHEN visible_at <= ? THEN visible_at END) AS
           oldestVisibleAt
         FROM tasks WHERE status = 'SCHEDULED' GROUP BY task_type ORDER BY task_type`,
      ),
      finish: db.prepare(
        `UPDATE tasks SET status = @status, output = @output, reason = @reason, worker_id = COALESCE(@workerId,
         worker_id), ended_at = @now, updated_at = @now, response_deadline = NULL WHERE task_id = @taskId`,
      ),
      requeue: db.prepare(
        `UPDATE tasks SET status = 'SCHEDULED', visible_at = @visibleAt, output = COALESCE(@output, output),
         updated_at = @now, response_deadline = NULL WHERE task_id = @taskId`,
      ),
      extend: db.prepare(
        `UPDATE tasks SET response_deadline = ${DEADLINE}, ` +
          `output = COALESCE(@output, output), ` +
          `updated_at = @now WHERE task_id = @taskId`,
      ),
      addLogs: db.prepare("UPDATE tasks SET logs = json_insert(logs, '$[#]', json(@entry)) WHERE task_id = @taskId"),
      wake: db.prepare("UPDATE runs SET due_at = ? WHERE id = ? AND status = 'waiting'"),
      timedOut: db.prepare(
        `UPDATE tasks SET status = 'TIMED_OUT', ended_at = @now, updated_at = @now, response_deadline = NULL,
           reason = CASE WHEN timeout_ms > 0 AND started_at + timeout_ms <= @now THEN '${TIME_LIMIT_REASON} (' ||
             timeout_ms || ' ms)'
                    ELSE 'no report from worker ' || COALESCE(worker_id, '?') || ' within ' || response_timeout_ms ||
                      ' ms' END
         WHERE status = 'IN_PROGRESS' AND response_deadline < @now RETURNING run_id`,
      ),
      consume: db.prepare('UPDATE tasks SET consumed_at = ? WHERE task_id = ? AND consumed_at IS NULL'),
      cancelOpen: db.prepare(
        `UPDATE tasks SET status = 'CANCELED', ` +
          `ended_at = ?, updated_at = ?, ` +
          `consumed_at = ? WHERE run_id ` +
          `= ? AND status IN ${OPEN}`,
      ),
      hasOutcome: db.prepare(
        `SELECT 1 FROM tasks WHERE run_id = ? AND consumed_at IS NULL AND status NOT IN ${OPEN} LIMIT 1`,
      ),
    };
  }

  async poll(taskType: string, workerId: string, count: number, limits?: PollLimits, domain?: string): Promise<Task[]> {
    if (count <= 0) return [];
    const now = Date.now();
    return this.db
      .transaction(() => {
        let allowed = count;
        if (limits?.concurrentExecLimit || limits?.ratePerWindow) {
          const load = this.sql.load.get({ taskType, since: now - (limits.rateWindowMs ?? 1000) }) as {
            inProgress: number;
            started: number;
          };
          allowed = pollAllowance(count, limits, load.inProgress, load.started);
        }
        return allowed > 0
          ? (this.sql.poll.all({ taskType, workerId, count: allowed, now, domain: domain ?? null }) as TaskRow[])
              .map(fromRow)
              .sort(handOutOrder)
          : [];
      })
      .immediate();
  }

  async report(taskId: string, result: TaskResult): Promise<Task | undefined> {
    const now = Date.now();
    const woke = this.db
      .transaction(() => {
        const row = this.sql.get.get(taskId) as TaskRow | undefined;
        if (!row || isTerminalTask(row.status)) return false; // unknown, or already finished: a no-op
        const output = result.output === undefined ? null : JSON.stringify(result.output);
        for (const log of result.logs ?? [])
          this.sql.addLogs.run({ taskId, entry: JSON.stringify({ log, createdTime: now }) });
        if (result.status === 'IN_PROGRESS') {
          if (result.callbackAfterMs !== undefined && !result.extendLease)
            this.sql.requeue.run({ taskId, visibleAt: now + result.callbackAfterMs, output, now });
          else this.sql.extend.run({ taskId, output, now });
          return false;
        }
        this.sql.finish.run({
          taskId,
          status: result.status,
          output,
          reason: result.reason ?? null,
          workerId: result.workerId ?? null,
          now,
        });
        return this.sql.wake.run(now, row.run_id).changes > 0;
      })
      .immediate();
    if (woke) this.woke();
    return this.get(taskId);
  }

  async get(taskId: string): Promise<Task | undefined> {
    const row = this.sql.get.get(taskId) as TaskRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  async finished(taskIds: readonly string[]): Promise<Task[]> {
    if (taskIds.length === 0) return [];
    return (this.sql.finished.all(JSON.stringify(taskIds)) as TaskRow[]).map(fromRow);
  }

  async search(filter: TaskSearch): Promise<Task[]> {
    const list = (values: string[] | undefined) => (values ? JSON.stringify(values) : null);
    return (
      this.sql.search.all({
        types: list(filter.taskTypes),
        statuses: list(filter.statuses),
        runs: list(filter.runIds),
        limit: filter.limit,
      }) as TaskRow[]
    ).map(fromRow);
  }

  async ofRun(runId: string): Promise<Task[]> {
    return (this.sql.ofRun.all(runId) as TaskRow[]).map(fromRow);
  }

  async queueSize(taskType: string): Promise<number> {
    return (this.sql.queueSize.get(taskType) as { n: number }).n;
  }

  async backlog(): Promise<TaskBacklog[]> {
    return this.sql.backlog.all(Date.now()) as TaskBacklog[];
  }

  async timeOut(): Promise<number> {
    const now = Date.now();
    const runs = this.db
      .transaction(() => {
        const ids = (this.sql.timedOut.all({ now }) as { run_id: string }[]).map((r) => r.run_id);
        for (const id of ids) this.sql.wake.run(now, id);
        return ids;
      })
      .immediate();
    if (runs.length) this.woke();
    return runs.length;
  }

  /**
   * Inside a checkpoint's transaction: the tasks it schedules, the outcomes it recorded, and (when the run ends) its
   * open tasks cancelled.
   */
  applyWithCommit(runId: string, created: NewTask[], consumed: string[], ends: boolean, now: number): void {
    const options = created.length
      ? (this.sql.startOptions.get(runId) as { start_options: string | null } | undefined)?.start_options
      : null;
    for (const task of created)
      this.sql.insert.run({
        ...task,
        input: JSON.stringify(task.input),
        traceparent: task.traceparent ?? null,
        ...routingOf(options, task.taskType),
        now,
      });
    for (const id of consumed) this.sql.consume.run(now, id);
    if (ends) this.sql.cancelOpen.run(now, now, now, runId);
  }

  /** Terminal task reports the run has not recorded yet (a claimed run replays them in). */
  outcomesOf(runId: string): Task[] {
    return (this.sql.outcomes.all(runId) as TaskRow[]).map(fromRow);
  }

  /** Whether a report came in that a run suspending on a task must not sleep through. */
  hasOutcome(runId: string): boolean {
    return this.sql.hasOutcome.get(runId) !== undefined;
  }
}
