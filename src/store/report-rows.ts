import type { Json } from '../core/types.js';
import type { DeployReportRecord, PollRecord } from './types.js';

/** A poll_data row as both dialects read it. */
export interface PollRow {
  task_type: string;
  domain: string;
  worker_id: string;
  last_poll_at: number;
}

/** A poll record from its row: the '' domain is none. */
export function pollFromRow(row: PollRow): PollRecord {
  return {
    taskType: row.task_type,
    domain: row.domain === '' ? null : row.domain,
    workerId: row.worker_id,
    lastPollAt: Number(row.last_poll_at),
  };
}

/** A deploy_reports row as both dialects read it (report absent in lists). */
export interface DeployReportRow {
  id: number;
  kind: string;
  created_at: number;
  source: string;
  actor: string | null;
  summary: string;
  report?: string;
}

/** A deploy report (without its full report unless the row has it) from its row. */
export function deployReportFromRow(row: DeployReportRow): DeployReportRecord;
export function deployReportFromRow(row: DeployReportRow): Omit<DeployReportRecord, 'report'> & { report?: Json } {
  const record: Omit<DeployReportRecord, 'report'> & { report?: Json } = {
    id: Number(row.id),
    kind: row.kind as DeployReportRecord['kind'],
    createdAt: new Date(Number(row.created_at)),
    source: row.source as DeployReportRecord['source'],
    actor: row.actor,
    summary: JSON.parse(row.summary) as Json,
  };
  if (row.report !== undefined) record.report = JSON.parse(row.report) as Json;
  return record;
}
