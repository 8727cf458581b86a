import type pg from 'pg';
import type { DefinitionStore, TaskDefinition, WorkflowSource } from '../types.js';
import { inTransaction } from './transaction.js';

/** Declarative sources and task definitions on PostgreSQL. */
export class PostgresDefinitions implements DefinitionStore {
  constructor(private readonly pool: pg.Pool) {}

  async saveSources(sources: WorkflowSource[]): Promise<void> {
    if (sources.length === 0) return;
    await this.pool.query({
      name: 'wm_save_sources',
      text: `UPDATE workflow_versions v SET source = s.src::jsonb FROM unnest($1::text[], $2::int[], $3::text[]) AS
        s(w, n, src)
             WHERE v.workflow = s.w AND v.version = s.n`,
      values: [
        sources.map((s) => s.workflow),
        sources.map((s) => s.version),
        sources.map((s) => JSON.stringify(s.source)),
      ],
    });
  }

  async listSources(): Promise<WorkflowSource[]> {
    const { rows } = await this.pool.query<WorkflowSource>({
      name: 'wm_list_sources',
      text: `SELECT workflow, version, source FROM workflow_versions WHERE source IS NOT NULL ORDER BY workflow,
             version`,
    });
    return rows;
  }

  async removeVersion(workflow: string, version: number): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      await client.query({
        name: 'wm_remove_version_lock',
        text: "SELECT pg_advisory_xact_lock(hashtext('waymark-register'))",
      });
      const runs = await client.query({
        name: 'wm_version_has_runs',
        text: 'SELECT 1 FROM runs WHERE workflow = $1 AND version = $2 LIMIT 1',
        values: [workflow, version],
      });
      if (runs.rows.length) return false;
      await client.query({
        name: 'wm_remove_version',
        text: 'DELETE FROM workflow_versions WHERE workflow = $1 AND version = $2',
        values: [workflow, version],
      });
      return true;
    });
  }

  async saveTaskDefinitions(definitions: TaskDefinition[]): Promise<void> {
    if (definitions.length === 0) return;
    await this.pool.query({
      name: 'wm_save_task_definitions',
      text: `INSERT INTO task_definitions (name, definition, updated_at) SELECT n, d::jsonb, now_ms() FROM
        unnest($1::text[], $2::text[]) AS t(n, d)
             ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`,
      values: [definitions.map((d) => d.name), definitions.map((d) => JSON.stringify(d.definition))],
    });
  }

  async listTaskDefinitions(): Promise<TaskDefinition[]> {
    const { rows } = await this.pool.query<TaskDefinition>({
      name: 'wm_list_task_definitions',
      text: 'SELECT name, definition FROM task_definitions ORDER BY name',
    });
    return rows;
  }

  async removeTaskDefinition(name: string): Promise<boolean> {
    const result = await this.pool.query({
      name: 'wm_remove_task_definition',
      text: 'DELETE FROM task_definitions WHERE name = $1',
      values: [name],
    });
    return (result.rowCount ?? 0) > 0;
  }
}
