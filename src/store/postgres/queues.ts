import type pg from 'pg';
import { pollFromRow, type PollRow } from '../report-rows.js';
import type { PollRecord, QueueDepth, QueueStore } from '../types.js';

/** Poll data and queue depths on PostgreSQL. */
export class PostgresQueues implements QueueStore {
  constructor(private readonly pool: pg.Pool) {}

  async recordPoll(poll: PollRecord): Promise<void> {
    await this.pool.query({
      name: 'wm_record_poll',
      text: `INSERT INTO poll_data (task_type, domain, worker_id, last_poll_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (task_type, domain, worker_id)
             DO UPDATE SET last_poll_at = GREATEST(poll_data.last_poll_at, excluded.last_poll_at)`,
      values: [poll.taskType, poll.domain ?? '', poll.workerId, poll.lastPollAt],
    });
  }

  async pollData(taskType?: string): Promise<PollRecord[]> {
    const { rows } = await this.pool.query<PollRow>({
      name: taskType === undefined ? 'wm_poll_data_all' : 'wm_poll_data_of_type',
      text:
        taskType === undefined
          ? 'SELECT * FROM poll_data ORDER BY task_type, domain, worker_id'
          : 'SELECT * FROM poll_data WHERE task_type = $1 ORDER BY domain, worker_id',
      values: taskType === undefined ? [] : [taskType],
    });
    return rows.map(pollFromRow);
  }

  async depths(): Promise<QueueDepth[]> {
    const { rows } = await this.pool.query<QueueDepth>({
      name: 'wm_queue_depths',
      text: `SELECT task_type AS "taskType", NULLIF(domain, '') AS domain,
               (COUNT(*) FILTER (WHERE status = 'SCHEDULED'))::int AS depth,
               (COUNT(*) FILTER (WHERE status = 'IN_PROGRESS'))::int AS "inProgress",
               MIN(visible_at) FILTER (WHERE status = 'SCHEDULED' AND visible_at <= now_ms()) AS "oldestVisibleAt"
             FROM tasks WHERE status IN ('SCHEDULED', 'IN_PROGRESS')
             GROUP BY task_type, NULLIF(domain, '') ORDER BY task_type, 2 NULLS FIRST`,
    });
    return rows;
  }
}
