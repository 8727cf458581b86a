import type Database from 'better-sqlite3';
import { pollFromRow, type PollRow } from '../report-rows.js';
import type { PollRecord, QueueDepth, QueueStore } from '../types.js';

/** Poll data and queue depths on SQLite. */
export class SqliteQueues implements QueueStore {
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      record: db.prepare(
        `INSERT INTO poll_data (task_type, domain, worker_id, last_poll_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (task_type, domain, worker_id)
         DO UPDATE SET last_poll_at = MAX(last_poll_at, excluded.last_poll_at)`,
      ),
      all: db.prepare('SELECT * FROM poll_data ORDER BY task_type, domain, worker_id'),
      ofType: db.prepare('SELECT * FROM poll_data WHERE task_type = ? ORDER BY domain, worker_id'),
      depths: db.prepare(
        `SELECT task_type AS taskType, NULLIF(domain, '') AS domain,
           COUNT(*) FILTER (WHERE status = 'SCHEDULED') AS depth,
           COUNT(*) FILTER (WHERE status = 'IN_PROGRESS') AS inProgress,
           MIN(CASE WHEN status = 'SCHEDULED' AND visible_at <= ? THEN visible_at END) AS oldestVisibleAt
         FROM tasks WHERE status IN ('SCHEDULED', 'IN_PROGRESS')
         GROUP BY task_type, NULLIF(domain, '') ORDER BY task_type, domain`,
      ),
    };
  }

  async recordPoll(poll: PollRecord): Promise<void> {
    this.sql.record.run(poll.taskType, poll.domain ?? '', poll.workerId, poll.lastPollAt);
  }

  async pollData(taskType?: string): Promise<PollRecord[]> {
    const rows = (taskType === undefined ? this.sql.all.all() : this.sql.ofType.all(taskType)) as PollRow[];
    return rows.map(pollFromRow);
  }

  async depths(): Promise<QueueDepth[]> {
    return this.sql.depths.all(Date.now()) as QueueDepth[];
  }
}
