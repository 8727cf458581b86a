import type { ErrorInfo, HistoryEvent, Json, Run, RunStatus, StoredEvent, WaitInfo } from '../../core/types.js';
import type {
  PendingAction,
  PendingSignal,
  VersionStatus,
  WorkerRecord,
  WorkflowVersionRecord,
  WorkflowVersionRef,
} from '../types.js';

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

export function workflowVersionFromRow(row: {
  workflow: string;
  version: number;
  fingerprint: string;
  registered_at: number;
  status: string;
}): WorkflowVersionRecord {
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
