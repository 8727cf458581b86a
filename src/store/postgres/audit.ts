import type pg from 'pg';
import { auditFromRow, type AuditRow } from '../key-rows.js';
import type { AuditEntry, AuditLog } from '../types.js';

/** The audit trail on PostgreSQL. */
export class PostgresAudit implements AuditLog {
  constructor(private readonly pool: pg.Pool) {}

  async append(entry: AuditEntry): Promise<void> {
    const { at, actor, keyId, action, target, status, note } = entry;
    await this.pool.query({
      name: 'wm_append_audit',
      text: `INSERT INTO audit_log (at, actor, key_id, action, target, status, note) VALUES ($1, $2, $3, $4, $5, $6,
             $7)`,
      values: [at.getTime(), actor, keyId, action, target, status, note],
    });
  }

  async list(limit: number): Promise<AuditEntry[]> {
    const { rows } = await this.pool.query<AuditRow>({
      name: 'wm_list_audit',
      text: 'SELECT at, actor, key_id, action, target, status, note FROM audit_log ORDER BY id DESC LIMIT $1',
      values: [limit],
    });
    return rows.map(auditFromRow);
  }
}
