/** The keys and audit_log rows as both dialects read them, and their mapping to domain records (in one place). */
import type { Role } from '../core/roles.js';
import type { ApiKeyRecord, AuditEntry } from './types.js';

export interface KeyRow {
  key_id: string;
  name: string;
  role: string;
  secret_hash: string;
  created_at: number;
  revoked_at: number | null;
}

export const KEY_COLUMNS = 'key_id, name, role, secret_hash, created_at, revoked_at';

export function keyFromRow(row: KeyRow): ApiKeyRecord {
  return {
    keyId: row.key_id,
    name: row.name,
    role: row.role as Role,
    secretHash: row.secret_hash,
    createdAt: new Date(row.created_at),
    revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at),
  };
}

export interface AuditRow {
  at: number;
  actor: string;
  key_id: string;
  action: string;
  target: string;
  status: number;
  note: string | null;
}

export function auditFromRow(row: AuditRow): AuditEntry {
  return {
    at: new Date(row.at),
    actor: row.actor,
    keyId: row.key_id,
    action: row.action,
    target: row.target,
    status: row.status,
    note: row.note,
  };
}
