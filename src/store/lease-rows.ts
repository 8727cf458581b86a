/** Run leases as both dialects read them (with their holder's last heartbeat), and their mapping, defined once. */
import type { LeaseHold, RunLease } from './types.js';

/** A run's lease joined with its holder's heartbeat row. */
export interface RunLeaseRow {
  worker_id: string;
  expires_at: number;
  heartbeat_at: number | null;
  heartbeat_expires_at: number | null;
}

/** Unexpired leases of one holder on one version. */
export interface LeaseHoldRow extends Omit<RunLeaseRow, 'expires_at'> {
  workflow: string;
  version: number;
  leases: number;
  latest_expires_at: number;
}

/** A lease row as the domain type. */
export function leaseFromRow(row: RunLeaseRow): RunLease {
  return {
    workerId: row.worker_id,
    expiresAt: row.expires_at,
    heartbeatAt: row.heartbeat_at,
    heartbeatExpiresAt: row.heartbeat_expires_at,
  };
}

/** A hold row as the domain type. */
export function holdFromRow(row: LeaseHoldRow): LeaseHold {
  return {
    workerId: row.worker_id,
    workflow: row.workflow,
    version: row.version,
    leases: row.leases,
    latestExpiresAt: row.latest_expires_at,
    heartbeatAt: row.heartbeat_at,
    heartbeatExpiresAt: row.heartbeat_expires_at,
  };
}
