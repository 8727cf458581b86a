import type Database from 'better-sqlite3';
import type { Json } from '../../core/types.js';
import type { DefinitionStore, TaskDefinition, WorkflowSource } from '../types.js';

/** Declarative sources and task definitions on SQLite. */
export class SqliteDefinitions implements DefinitionStore {
  private readonly sql;

  constructor(private readonly db: Database.Database) {
    this.sql = {
      saveSource: db.prepare('UPDATE workflow_versions SET source = ? WHERE workflow = ? AND version = ?'),
      listSources: db.prepare(
        'SELECT workflow, version, source FROM workflow_versions WHERE source IS NOT NULL ORDER BY workflow, version',
      ),
      hasRuns: db.prepare('SELECT 1 FROM runs WHERE workflow = ? AND version = ? LIMIT 1'),
      removeVersion: db.prepare('DELETE FROM workflow_versions WHERE workflow = ? AND version = ?'),
      saveTaskDefinition: db.prepare(
        `INSERT INTO task_definitions (name, definition, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE
         SET definition = excluded.definition, updated_at = excluded.updated_at`,
      ),
      listTaskDefinitions: db.prepare('SELECT name, definition FROM task_definitions ORDER BY name'),
      removeTaskDefinition: db.prepare('DELETE FROM task_definitions WHERE name = ?'),
    };
  }

  async saveSources(sources: WorkflowSource[]): Promise<void> {
    this.db
      .transaction(() => {
        for (const s of sources) this.sql.saveSource.run(JSON.stringify(s.source), s.workflow, s.version);
      })
      .immediate();
  }

  async listSources(): Promise<WorkflowSource[]> {
    return (this.sql.listSources.all() as { workflow: string; version: number; source: string }[]).map((r) => ({
      ...r,
      source: JSON.parse(r.source) as Json,
    }));
  }

  async removeVersion(workflow: string, version: number): Promise<boolean> {
    return this.db
      .transaction(() => {
        if (this.sql.hasRuns.get(workflow, version)) return false;
        this.sql.removeVersion.run(workflow, version);
        return true;
      })
      .immediate();
  }

  async saveTaskDefinitions(definitions: TaskDefinition[]): Promise<void> {
    const now = Date.now();
    this.db
      .transaction(() => {
        for (const d of definitions) this.sql.saveTaskDefinition.run(d.name, JSON.stringify(d.definition), now);
      })
      .immediate();
  }

  async listTaskDefinitions(): Promise<TaskDefinition[]> {
    return (this.sql.listTaskDefinitions.all() as { name: string; definition: string }[]).map((r) => ({
      name: r.name,
      definition: JSON.parse(r.definition) as Json,
    }));
  }

  async removeTaskDefinition(name: string): Promise<boolean> {
    return this.sql.removeTaskDefinition.run(name).changes > 0;
  }
}
