import type { ErrorInfo, HistoryEvent, Json, Run, RunStatus, StoredEvent, WaitInfo } from '../../core/types.js';
import type {
  PendingAction,
  PendingSignal,
  VersionStatus,
  WorkerRecord,
  WorkflowVersionRecord,
  WorkflowVersionRef,
} from '../types.js';
import { startOptionsFromColumn, type TaskRow } from '../task-rows.js';

/** A `runs` row as pg returns it (jsonb parsed, bigint parsed to number by the pool's type parser). */
export interface RunRow {
  id: string;
  workflow: string;
  version: number;
  status: string;
  input: string | null;
  output: string | null;
  error: ErrorInfo | null;
  waiting_for: WaitInfo | null;
  attention: ErrorInfo | null;
  next_pos: number;
  due_at: number | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  expires_at: number | null;
  lock_key: string | null;
  correlation_id: string | null;
  start_options?: string | null;
  pending_action: PendingAction | null;
  epoch: number;
  created_at: number;
  updated_at: number;
}

export interface HistoryRow {
  run_id: string;
  pos: number;
  type: string;
  seq: number | null;
  name: string | null;
  data: string | null;
  at: number;
  epoch: number;
}

export interface SignalRow {
  id: number;
  run_id: string;
  name: string;
  payload: string | null;
  sent_at: number;
}

export interface WorkerRow {
  worker_id: string;
  served: WorkflowVersionRef[];
  started_at: number;
  heartbeat_at: number;
}

/**
 * A row type's columns as an explicit SELECT or RETURNING list, optionally qualified by a table alias.
 * Statements are prepared once per connection, and PostgreSQL refuses to run a prepared `SELECT *` again once
 * its table gained a column (a newer Waymark's additive migration): naming the columns keeps this release
 * working through a rolling upgrade. `Record<keyof Row, true>` makes the list name every field of the row.
 */
function columnList<R>(fields: Record<keyof R, true>): (alias?: string) => string {
  const names = Object.keys(fields);
  return (alias) => names.map((name) => (alias ? `${alias}.${name}` : name)).join(', ');
}

/** The `runs` columns a RunRow holds. */
export const runColumns = columnList<RunRow>({
  id: true,
  workflow: true,
  version: true,
  status: true,
  input: true,
  output: true,
  error: true,
  waiting_for: true,
  attention: true,
  next_pos: true,
  due_at: true,
  lease_owner: true,
  lease_expires_at: true,
  expires_at: true,
  lock_key: true,
  correlation_id: true,
  start_options: true,
  pending_action: true,
  epoch: true,
  created_at: true,
  updated_at: true,
});

/** The `history` columns a HistoryRow holds. */
export const historyColumns = columnList<HistoryRow>({
  run_id: true,
  pos: true,
  type: true,
  seq: true,
  name: true,
  data: true,
  at: true,
  epoch: true,
});

/** The `signals` columns a SignalRow holds. */
export const signalColumns = columnList<SignalRow>({
  id: true,
  run_id: true,
  name: true,
  payload: true,
  sent_at: true,
});

/** The `workers` columns a WorkerRow holds. */
export const workerColumns = columnList<WorkerRow>({
  worker_id: true,
  served: true,
  started_at: true,
  heartbeat_at: true,
});

/** The `workflow_versions` columns a WorkflowVersionRow holds. */
export const workflowVersionColumns = columnList<WorkflowVersionRow>({
  workflow: true,
  version: true,
  fingerprint: true,
  registered_at: true,
  status: true,
});

/** The `tasks` columns a TaskRow holds. */
export const taskColumns = columnList<TaskRow<string>>({
  task_id: true,
  run_id: true,
  workflow: true,
  version: true,
  seq: true,
  attempt: true,
  task_type: true,
  ref_name: true,
  status: true,
  input: true,
  output: true,
  reason: true,
  worker_id: true,
  poll_count: true,
  response_timeout_ms: true,
  timeout_ms: true,
  scheduled_at: true,
  visible_at: true,
  started_at: true,
  ended_at: true,
  updated_at: true,
  logs: true,
  traceparent: true,
  priority: true,
  domain: true,
});

/** jsonb null (a stored JSON null) and SQL NULL both come back as null; columns here never hold JSON null. */
const opt = <T>(value: T | null): T | undefined => (value === null ? undefined : value);

export function runFromRow(row: RunRow): Run {
  return {
    id: row.id,
    workflow: row.workflow,
    version: row.version,
    status: row.status as RunStatus,
    input: row.input === null ? null : (JSON.parse(row.input) as Json),
    output: row.output === null ? undefined : (JSON.parse(row.output) as Json),
    error: opt(row.error),
    waitingFor: opt(row.waiting_for),
    attention: opt(row.attention),
    expiresAt: row.expires_at === null ? undefined : new Date(row.expires_at),
    lockKey: row.lock_key ?? undefined,
    correlationId: row.correlation_id ?? undefined,
    ...(row.start_options ? { startOptions: startOptionsFromColumn(row.start_options) } : {}),
    epoch: row.epoch,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export function eventFromRow(row: HistoryRow): HistoryEvent {
  const event: StoredEvent = { pos: row.pos, type: row.type, at: row.at };
  if (row.epoch) event.epoch = row.epoch;
  if (row.seq !== null) event.seq = row.seq;
  if (row.name !== null) event.name = row.name;
  if (row.data !== null) event.data = JSON.parse(row.data) as Json;
  return event as HistoryEvent;
}

export function signalFromRow(row: SignalRow): PendingSignal {
  return {
    id: row.id,
    name: row.name,
    payload: row.payload === null ? undefined : (JSON.parse(row.payload) as Json),
    sentAt: row.sent_at,
  };
}

export interface WorkflowVersionRow {
  workflow: string;
  version: number;
  fingerprint: string;
  registered_at: number;
  status: string;
}

export function workflowVersionFromRow(row: WorkflowVersionRow): WorkflowVersionRecord {
  return {
    workflow: row.workflow,
    version: row.version,
    fingerprint: row.fingerprint,
    registeredAt: new Date(row.registered_at),
    status: row.status as VersionStatus,
  };
}

export function workerFromRow(row: WorkerRow): WorkerRecord {
  return {
    workerId: row.worker_id,
    served: row.served,
    startedAt: new Date(row.started_at),
    heartbeatAt: new Date(row.heartbeat_at),
  };
}
