import type pg from 'pg';
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
import type { RunCommit, TaskBacklog, TaskQueue } from '../types.js';
import { hasNul } from './errors.js';
import { inTransaction } from './transaction.js';
import { taskColumns } from './rows.js';

/** JSON columns (input, output, logs) are JSON text, as on SQLite. */
type TaskRow = Row<string>;

const OPEN = "('SCHEDULED', 'IN_PROGRESS')";

/**
 * When an IN_PROGRESS attempt times out: its response timeout from now, capped by its time limit from its first poll.
 */
const deadline = (t: string) =>
  `CASE WHEN ${t}timeout_ms > 0 THEN LEAST(now_ms() + ${t}response_timeout_ms, COALESCE(${t}started_at, now_ms()) + ` +
  `${t}timeout_ms) ELSE now_ms() + ${t}response_timeout_ms END`;

/**
 * Hands out visible tasks of a type ($1) and domain ($4, NULL: none) to a worker ($2), at most $3: higher priorities
 * first, the longest visible first within one.
 */
const POLL_SQL = `WITH next AS (
    SELECT task_id FROM tasks WHERE task_type = $1 AND domain IS NOT DISTINCT FROM $4::text AND status = 'SCHEDULED'
      AND visible_at <= now_ms()
    ORDER BY priority DESC, visible_at, scheduled_at LIMIT $3 FOR UPDATE SKIP LOCKED)
  UPDATE tasks t SET status = 'IN_PROGRESS', worker_id = $2, poll_count = poll_count + 1, started_at =
    COALESCE(t.started_at, now_ms()), updated_at = now_ms(),
    response_deadline = ${deadline('t.')}
  FROM next WHERE t.task_id = next.task_id RETURNING ${taskColumns('t')}`;

const fromRow = (row: TaskRow) => taskFromRow(row, (text) => JSON.parse(text) as Json);

/** The task queue on PostgreSQL: polls take rows with SKIP LOCKED, so any number of servers can hand tasks out. */
export class PostgresTasks implements TaskQueue {
  constructor(
    private readonly pool: pg.Pool,
    /** Tells listening workers a run became due. */
    private readonly woke: () => void,
  ) {}

  async poll(taskType: string, workerId: string, count: number, limits?: PollLimits, domain?: string): Promise<Task[]> {
    if (count <= 0) return [];
    if (!limits?.concurrentExecLimit && !limits?.ratePerWindow)
      return (
        await this.pool.query<TaskRow>({
          name: 'wm_task_poll',
          text: POLL_SQL,
          values: [taskType, workerId, count, domain ?? null],
        })
      ).rows.map(fromRow);
    return inTransaction(this.pool, async (client) => {
      // Pollers of one limited type take turns, so together they never exceed the limits.
      await client.query({
        name: 'wm_task_poll_lock',
        text: "SELECT pg_advisory_xact_lock(hashtext('waymark-poll:' || $1))",
        values: [taskType],
      });
      const { rows } = await client.query<{ in_progress: number; started: number }>({
        name: 'wm_task_load',
        text: `SELECT COUNT(*) FILTER (WHERE status = 'IN_PROGRESS')::int AS in_progress, COUNT(*) FILTER (WHERE
          started_at >= now_ms() - $2)::int AS started
               FROM tasks WHERE task_type = $1 AND (status = 'IN_PROGRESS' OR started_at >= now_ms() - $2)`,
        values: [taskType, limits.rateWindowMs ?? 1000],
      });
      const allowed = pollAllowance(count, limits, rows[0]!.in_progress, rows[0]!.started);
      if (allowed <= 0) return [];
      return (
        await client.query<TaskRow>({
          name: 'wm_task_poll',
          text: POLL_SQL,
          values: [taskType, workerId, allowed, domain ?? null],
        })
      ).rows.map(fromRow);
    });
  }

  async report(taskId: string, result: TaskResult): Promise<Task | undefined> {
    if (hasNul(taskId)) return undefined;
    const woke = await inTransaction(this.pool, async (client) => {
      // The run's row first (the order checkpoints take too): a run suspending at this moment then either sees
      // this report in its own commit or is 'waiting' when this one wakes it; no wake-up falls between.
      await client.query({
        name: 'wm_task_lock_run',
        text: 'SELECT 1 FROM runs WHERE id = (SELECT run_id FROM tasks WHERE task_id = $1) FOR UPDATE',
        values: [taskId],
      });
      const { rows } = await client.query<TaskRow>({
        name: 'wm_task_lock',
        text: `SELECT ${taskColumns()} FROM tasks WHERE task_id = $1 FOR UPDATE`,
        values: [taskId],
      });
      const row = rows[0];
      if (!row || isTerminalTask(row.status)) return false; // unknown, or already finished: a no-op
      const output = result.output === undefined ? null : JSON.stringify(result.output);
      const added = (result.logs ?? []).map((log) => ({ log, createdTime: Date.now() }));
      const logs = added.length ? JSON.stringify([...(JSON.parse(row.logs) as Json[]), ...added]) : row.logs;
      if (result.status === 'IN_PROGRESS') {
        const requeue = result.callbackAfterMs !== undefined && !result.extendLease;
        await client.query({
          name: 'wm_task_progress',
          text: `UPDATE tasks SET output = COALESCE($2, output), logs = $3, updated_at = now_ms(),
                   status = CASE WHEN $4 THEN 'SCHEDULED' ELSE status END,
                   visible_at = CASE WHEN $4 THEN now_ms() + $5 ELSE visible_at END,
                   response_deadline = CASE WHEN $4 THEN NULL ELSE ${deadline('')} END
                 WHERE task_id = $1`,
          values: [taskId, output, logs, requeue, result.callbackAfterMs ?? 0],
        });
        return false;
      }
      await client.query({
        name: 'wm_task_finish',
        text: `UPDATE tasks SET status = $2, output = $3, reason = $4, worker_id = COALESCE($5, worker_id), logs = $6,
                 ended_at = now_ms(), updated_at = now_ms(), response_deadline = NULL WHERE task_id = $1`,
        values: [taskId, result.status, output, result.reason ?? null, result.workerId ?? null, logs],
      });
      const wake = await client.query({
        name: 'wm_task_wake',
        text: "UPDATE runs SET due_at = now_ms() WHERE id = $1 AND status = 'waiting'",
        values: [row.run_id],
      });
      return (wake.rowCount ?? 0) > 0;
    });
    if (woke) this.woke();
    return this.get(taskId);
  }

  async finished(taskIds: readonly string[]): Promise<Task[]> {
    const ids = taskIds.filter((id) => !hasNul(id));
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query<TaskRow>({
      name: 'wm_task_finished',
      text: `SELECT ${taskColumns()} FROM tasks
             WHERE task_id = ANY($1::text[]) AND status NOT IN ('SCHEDULED', 'IN_PROGRESS')`,
      values: [ids],
    });
    return rows.map(fromRow);
  }

  async get(taskId: string): Promise<Task | undefined> {
    if (hasNul(taskId)) return undefined;
    const { rows } = await this.pool.query<TaskRow>({
      name: 'wm_task_get',
      text: `SELECT ${taskColumns()} FROM tasks WHERE task_id = $1`,
      values: [taskId],
    });
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async search(filter: TaskSearch): Promise<Task[]> {
    const clean = (values: string[] | undefined) => values?.filter((v) => !hasNul(v)) ?? null;
    const { rows } = await this.pool.query<TaskRow>({
      name: 'wm_task_search',
      text: `SELECT ${taskColumns()} FROM tasks
             WHERE ($1::text[] IS NULL OR task_type = ANY($1)) AND ($2::text[] IS NULL OR status = ANY($2))
               AND ($3::text[] IS NULL OR run_id = ANY($3))
             ORDER BY updated_at DESC, task_id LIMIT $4`,
      values: [clean(filter.taskTypes), clean(filter.statuses), clean(filter.runIds), filter.limit],
    });
    return rows.map(fromRow);
  }

  async ofRun(runId: string): Promise<Task[]> {
    if (hasNul(runId)) return [];
    const { rows } = await this.pool.query<TaskRow>({
      name: 'wm_task_of_run',
      text: `SELECT ${taskColumns()} FROM tasks WHERE run_id = $1 ORDER BY seq, attempt`,
      values: [runId],
    });
    return rows.map(fromRow);
  }

  async queueSize(taskType: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>({
      name: 'wm_task_queue_size',
      text: "SELECT COUNT(*)::int AS n FROM tasks WHERE task_type = $1 AND status = 'SCHEDULED'",
      values: [taskType],
    });
    return rows[0]!.n;
  }

  async backlog(): Promise<TaskBacklog[]> {
    const { rows } = await this.pool.query<TaskBacklog>({
      name: 'wm_task_backlog',
      text: `SELECT task_type AS "taskType", COUNT(*)::int AS depth,
               MIN(visible_at) FILTER (WHERE visible_at <= now_ms()) AS "oldestVisibleAt"
             FROM tasks WHERE status = 'SCHEDULED' GROUP BY task_type ORDER BY task_type`,
    });
    return rows;
  }

  async timeOut(): Promise<number> {
    const count = await inTransaction(this.pool, async (client) => {
      const late = await client.query<{ run_id: string }>({
        name: 'wm_task_late_runs',
        text: "SELECT DISTINCT run_id FROM tasks WHERE status = 'IN_PROGRESS' AND response_deadline < now_ms()",
      });
      if (late.rows.length === 0) return 0;
      // Runs first, in id order (as checkpoints lock them), so a run suspending now cannot miss its wake-up.
      await client.query({
        name: 'wm_task_lock_late_runs',
        text: 'SELECT 1 FROM runs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE',
        values: [late.rows.map((r) => r.run_id)],
      });
      const { rows } = await client.query<{ n: number }>({
        name: 'wm_task_time_out',
        text: `WITH late AS (
                 UPDATE tasks SET status = 'TIMED_OUT', ended_at = now_ms(), updated_at = now_ms(), response_deadline =
                   NULL,
                   reason = CASE WHEN timeout_ms > 0 AND started_at + timeout_ms <= now_ms() THEN
                     '${TIME_LIMIT_REASON} (' || timeout_ms || ' ms)'
                            ELSE 'no report from worker ' || COALESCE(worker_id, '?') || ' within ' ||
                              response_timeout_ms || ' ms' END
                 WHERE status = 'IN_PROGRESS' AND response_deadline < now_ms() AND run_id = ANY($1::text[]) RETURNING
                   run_id),
               woken AS (UPDATE runs SET due_at = now_ms() WHERE id IN (SELECT run_id FROM late) AND status = 'waiting'
                 RETURNING 1)
               SELECT (SELECT COUNT(*) FROM late)::int AS n`,
        values: [late.rows.map((r) => r.run_id)],
      });
      return rows[0]!.n;
    });
    if (count > 0) this.woke();
    return count;
  }
}

/** Terminal task reports of claimed runs that their histories do not have yet. */
export async function taskOutcomesOf(pool: pg.Pool, runIds: string[]): Promise<Task[]> {
  const { rows } = await pool.query<TaskRow>({
    name: 'wm_task_outcomes',
    text: `SELECT ${taskColumns()} FROM tasks
           WHERE run_id = ANY($1::text[]) AND consumed_at IS NULL AND status NOT IN ${OPEN} ORDER BY run_id, seq,
             attempt`,
    values: [runIds],
  });
  return rows.map(fromRow);
}

/**
 * Inside a batch's transaction: tasks scheduled, reports recorded, open tasks of ended runs cancelled, suspended runs
 * with a report woken.
 */
export async function applyTaskWrites(
  client: pg.PoolClient,
  commits: RunCommit[],
  ended: string[],
  suspendedOnTasks: string[],
): Promise<void> {
  const created = commits.flatMap((c) => c.newTasks ?? []);
  if (created.length) {
    const col = <K extends keyof (typeof created)[number]>(key: K) => created.map((t) => t[key]);
    const routing = await routingOfTasks(client, created);
    await client.query({
      name: 'wm_task_insert',
      text: `INSERT INTO tasks (task_id, run_id, workflow, version, seq, attempt, task_type, ref_name, status, input,
        response_timeout_ms, timeout_ms, scheduled_at, visible_at, updated_at, traceparent, priority, domain)
             SELECT i, r, w, v, s, a, tt, rn, 'SCHEDULED', inp, rt, tm, now_ms(), vis, now_ms(), tp, pr, dm
             FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int[], $7::text[], $8::text[],
               $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::text[], $14::int[], $15::text[])
               AS t(i, r, w, v, s, a, tt, rn, inp, rt, vis, tm, tp, pr, dm)`,
      values: [
        col('taskId'),
        col('runId'),
        col('workflow'),
        col('version'),
        col('seq'),
        col('attempt'),
        col('taskType'),
        col('refName'),
        created.map((t) => JSON.stringify(t.input)),
        col('responseTimeoutMs'),
        col('visibleAt'),
        col('timeoutMs'),
        created.map((t) => t.traceparent ?? null),
        created.map((t) => routing.get(t.taskId)!.priority),
        created.map((t) => routing.get(t.taskId)!.domain),
      ],
    });
  }
  const consumed = commits.flatMap((c) => c.consumedTasks ?? []);
  if (consumed.length) {
    await client.query({
      name: 'wm_task_consume',
      text: 'UPDATE tasks SET consumed_at = now_ms() WHERE task_id = ANY($1::text[]) AND consumed_at IS NULL',
      values: [consumed],
    });
  }
  if (ended.length) {
    await client.query({
      name: 'wm_task_cancel_open',
      text:
        `UPDATE tasks SET status = 'CANCELED', ended_at = now_ms(), updated_at = now_ms(), consumed_at = ` +
        `now_ms() WHERE run_id = ANY($1::text[]) AND status IN ${OPEN}`,
      values: [ended],
    });
  }
  if (suspendedOnTasks.length) {
    await client.query({
      name: 'wm_task_wake_suspended',
      text: `UPDATE runs r SET due_at = now_ms() WHERE r.id = ANY($1::text[]) AND r.status = 'waiting'
               AND EXISTS (SELECT 1 FROM tasks t WHERE t.run_id = r.id AND t.consumed_at IS NULL AND t.status NOT IN
                 ${OPEN})`,
      values: [suspendedOnTasks],
    });
  }
}

/** The priority and domain of each new task (by id), from its run's stored start options. */
async function routingOfTasks(
  client: pg.PoolClient,
  created: NewTask[],
): Promise<Map<string, { priority: number; domain: string | null }>> {
  const runIds = [...new Set(created.map((t) => t.runId))];
  const { rows } = await client.query<{ id: string; start_options: string | null }>({
    name: 'wm_task_start_options',
    text: 'SELECT id, start_options FROM runs WHERE id = ANY($1::text[]) AND start_options IS NOT NULL',
    values: [runIds],
  });
  const options = new Map(rows.map((r) => [r.id, r.start_options]));
  return new Map(created.map((t) => [t.taskId, routingOf(options.get(t.runId), t.taskType)]));
}
