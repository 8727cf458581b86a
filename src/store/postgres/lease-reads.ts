import { holdFromRow, leaseFromRow, type LeaseHoldRow, type RunLeaseRow } from '../lease-rows.js';
import type { LeaseHold, RunLease } from '../types.js';

type Query = <R extends object>(name: string, text: string, values: unknown[]) => Promise<R[]>;

/** The lease of run `runId` with its holder's last heartbeat (undefined: not leased). */
export async function runLease(query: Query, runId: string): Promise<RunLease | undefined> {
  const [row] = await query<RunLeaseRow>(
    'wm_run_lease',
    `SELECT r.lease_owner AS worker_id, r.lease_expires_at AS expires_at, w.heartbeat_at,
       w.expires_at AS heartbeat_expires_at
     FROM runs r LEFT JOIN workers w ON w.worker_id = r.lease_owner
     WHERE r.id = $1 AND r.lease_owner IS NOT NULL AND r.lease_expires_at IS NOT NULL`,
    [runId],
  );
  return row && leaseFromRow(row);
}

/** Unexpired run leases (by the database clock) by holder and version, with each holder's last heartbeat. */
export async function leaseHolds(query: Query): Promise<LeaseHold[]> {
  const rows = await query<LeaseHoldRow>(
    'wm_lease_holds',
    `SELECT r.lease_owner AS worker_id, r.workflow, r.version, COUNT(*) AS leases,
       MAX(r.lease_expires_at) AS latest_expires_at, w.heartbeat_at, w.expires_at AS heartbeat_expires_at
     FROM runs r LEFT JOIN workers w ON w.worker_id = r.lease_owner
     WHERE r.lease_owner IS NOT NULL AND r.lease_expires_at >= now_ms()
     GROUP BY r.lease_owner, r.workflow, r.version, w.heartbeat_at, w.expires_at
     ORDER BY r.lease_owner, r.workflow, r.version`,
    [],
  );
  return rows.map(holdFromRow);
}
