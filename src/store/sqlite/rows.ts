import type { ErrorInfo, HistoryEvent, Json, Run, RunStatus, StoredEvent, WaitInfo } from '../../core/types.js';
import type {
  PendingSignal,
  VersionStatus,
  WorkerRecord,
  WorkflowVersionRecord,
  WorkflowVersionRef,
} from '../types.js';
import { startOptionsFromColumn } from '../task-rows.js';

/** A `runs` row as SQLite returns it. */
export interface RunRow {
  id: string;
  workflow: string;
  version: number;
  status: string;
  input: string | null;
  output: string | null;
  error: string | null;
  waiting_for: string | null;
  attention: string | null;
  next_pos: number;
  due_at: number | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  expires_at: number | null;
  lock_key: string | null;
  correlation_id: string | null;
  start_options?: string | null;
  pending_action: string | null;
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

export interface WorkflowVersionRow {
  workflow: string;
  version: number;
  fingerprint: string;
  registered_at: number;
  status: string;
}

const parse = <T>(text: string | null): T | undefined => (text === null ? undefined : (JSON.parse(text) as T));

/** JSON text for a column, or SQL NULL for "no value" (undefined). A JSON null is kept as 'null'. */
export const toColumn = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));

/** Like toColumn, for columns where null means "clear it" (waiting_for, attention, error). */
export const toOptionalColumn = (value: unknown): string | null =>
  value === undefined || value === null ? null : JSON.stringify(value);

export function runFromRow(row: RunRow): Run {
  return {
    id: row.id,
    workflow: row.workflow,
    version: row.version,
    status: row.status as RunStatus,
    input: parse<Json>(row.input) ?? null,
    output: parse<Json>(row.output),
    error: parse<ErrorInfo>(row.error),
    waitingFor: parse<WaitInfo>(row.waiting_for),
    attention: parse<ErrorInfo>(row.attention),
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
  return { id: row.id, name: row.name, payload: parse<Json>(row.payload), sentAt: row.sent_at };
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

export interface WorkerRow {
  worker_id: string;
  served: string;
  started_at: number;
  heartbeat_at: number;
}

export function workerFromRow(row: WorkerRow): WorkerRecord {
  return {
    workerId: row.worker_id,
    served: JSON.parse(row.served) as WorkflowVersionRef[],
    startedAt: new Date(row.started_at),
    heartbeatAt: new Date(row.heartbeat_at),
  };
}
