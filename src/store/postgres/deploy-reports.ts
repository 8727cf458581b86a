import type pg from 'pg';
import { deployReportFromRow, type DeployReportRow } from '../report-rows.js';
import type { DeployReportRecord, DeployReportStore, NewDeployReport } from '../types.js';

/** Deploy reports on PostgreSQL. */
export class PostgresDeployReports implements DeployReportStore {
  constructor(private readonly pool: pg.Pool) {}

  async add(report: NewDeployReport): Promise<DeployReportRecord> {
    const { kind, source, actor } = report;
    const summary = JSON.stringify(report.summary);
    const full = JSON.stringify(report.report);
    const { rows } = await this.pool.query<DeployReportRow>({
      name: 'wm_add_deploy_report',
      text: `INSERT INTO deploy_reports (kind, created_at, source, actor, summary, report)
             VALUES ($1, now_ms(), $2, $3, $4, $5) RETURNING *`,
      values: [kind, source, actor, summary, full],
    });
    return deployReportFromRow(rows[0]!);
  }

  async list(limit: number): Promise<Omit<DeployReportRecord, 'report'>[]> {
    const { rows } = await this.pool.query<DeployReportRow>({
      name: 'wm_list_deploy_reports',
      text: 'SELECT id, kind, created_at, source, actor, summary FROM deploy_reports ORDER BY id DESC LIMIT $1',
      values: [limit],
    });
    return rows.map(deployReportFromRow);
  }

  async get(id: number): Promise<DeployReportRecord | undefined> {
    const { rows } = await this.pool.query<DeployReportRow>({
      name: 'wm_get_deploy_report',
      text: 'SELECT * FROM deploy_reports WHERE id = $1',
      values: [id],
    });
    return rows[0] && deployReportFromRow(rows[0]);
  }
}
