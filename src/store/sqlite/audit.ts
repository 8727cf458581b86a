import type Database from 'better-sqlite3';
import { auditFromRow, type AuditRow } from '../key-rows.js';
import type { AuditEntry, AuditLog } from '../types.js';

/** The audit trail on SQLite. */
export class SqliteAudit implements AuditLog {
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      append: db.prepare(
        'INSERT INTO audit_log (at, actor, key_id, action, target, status, note) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      list: db.prepare(
        'SELECT at, actor, key_id, action, target, status, note FROM audit_log ORDER BY id DESC LIMIT ?',
      ),
    };
  }

  async append(entry: AuditEntry): Promise<void> {
    const { at, actor, keyId, action, target, status, note } = entry;
    this.sql.append.run(at.getTime(), actor, keyId, action, target, status, note);
  }

  async list(limit: number): Promise<AuditEntry[]> {
    return (this.sql.list.all(limit) as AuditRow[]).map(auditFromRow);
  }
}
