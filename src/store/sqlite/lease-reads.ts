import type Database from 'better-sqlite3';
import { holdFromRow, leaseFromRow, type LeaseHoldRow, type RunLeaseRow } from '../lease-rows.js';
import type { LeaseHold, RunLease } from '../types.js';

/** The lease of run `runId` with its holder's last heartbeat (undefined: not leased). */
export function runLease(db: Database.Database, runId: string): RunLease | undefined {
  const row = db
    .prepare(
      `SELECT r.lease_owner AS worker_id, r.lease_expires_at AS expires_at, w.heartbeat_at,
         w.expires_at AS heartbeat_expires_at
       FROM runs r LEFT JOIN workers w ON w.worker_id = r.lease_owner
       WHERE r.id = ? AND r.lease_owner IS NOT NULL AND r.lease_expires_at IS NOT NULL`,
    )
    .get(runId) as RunLeaseRow | undefined;
  return row && leaseFromRow(row);
}

/** Unexpired run leases at `now` (epoch ms) by holder and version, with each holder's last heartbeat. */
export function leaseHolds(db: Database.Database, now: number): LeaseHold[] {
  const rows = db
    .prepare(
      `SELECT r.lease_owner AS worker_id, r.workflow, r.version, COUNT(*) AS leases,
         MAX(r.lease_expires_at) AS latest_expires_at, w.heartbeat_at, w.expires_at AS heartbeat_expires_at
       FROM runs r LEFT JOIN workers w ON w.worker_id = r.lease_owner
       WHERE r.lease_owner IS NOT NULL AND r.lease_expires_at >= ?
       GROUP BY r.lease_owner, r.workflow, r.version
       ORDER BY r.lease_owner, r.workflow, r.version`,
    )
    .all(now) as LeaseHoldRow[];
  return rows.map(holdFromRow);
}
