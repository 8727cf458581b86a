import type Database from 'better-sqlite3';
import { deployReportFromRow, type DeployReportRow } from '../report-rows.js';
import type { DeployReportRecord, DeployReportStore, NewDeployReport } from '../types.js';

/** Deploy reports on SQLite. */
export class SqliteDeployReports implements DeployReportStore {
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      add: db.prepare(
        `INSERT INTO deploy_reports (kind, created_at, source, actor, summary, report) VALUES (?, ?, ?, ?, ?, ?)
         RETURNING id`,
      ),
      list: db.prepare(
        'SELECT id, kind, created_at, source, actor, summary FROM deploy_reports ORDER BY id DESC LIMIT ?',
      ),
      get: db.prepare('SELECT * FROM deploy_reports WHERE id = ?'),
    };
  }

  async add(report: NewDeployReport): Promise<DeployReportRecord> {
    const createdAt = Date.now();
    const { kind, source, actor, summary } = report;
    const summaryText = JSON.stringify(summary);
    const reportText = JSON.stringify(report.report);
    const { id } = this.sql.add.get(kind, createdAt, source, actor, summaryText, reportText) as { id: number };
    return deployReportFromRow({
      id,
      kind,
      created_at: createdAt,
      source,
      actor,
      summary: summaryText,
      report: reportText,
    });
  }

  async list(limit: number): Promise<Omit<DeployReportRecord, 'report'>[]> {
    return (this.sql.list.all(limit) as DeployReportRow[]).map(deployReportFromRow);
  }

  async get(id: number): Promise<DeployReportRecord | undefined> {
    const row = this.sql.get.get(id) as DeployReportRow | undefined;
    return row && deployReportFromRow(row);
  }
}
