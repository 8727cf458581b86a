import type Database from 'better-sqlite3';
import { WaymarkError } from '../../core/errors.js';
import { readMigrationFiles, type MigrationFile } from '../migration-files.js';

/** The numbered `.sql` migrations shipped with this build, in order. */
export function sqliteMigrations(): MigrationFile[] {
  return readMigrationFiles(new URL('./migrations/', import.meta.url));
}

/** Whether the database holds Waymark's tables (a store, possibly made by an older Waymark). */
export function hasSchemaTable(db: Database.Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'waymark_schema'").get() !== undefined;
}

/**
 * Brings the schema up to date, each migration in its own transaction. Refuses a database written by a
 * newer Waymark (its schema version is above the newest migration this build knows).
 */
export function migrateSqlite(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS waymark_schema (version INTEGER NOT NULL, applied_at INTEGER NOT NULL)');
  const migrations = sqliteMigrations();
  const newest = migrations[migrations.length - 1]?.version ?? 0;
  const current = () =>
    (db.prepare('SELECT MAX(version) AS v FROM waymark_schema').get() as { v: number | null }).v ?? 0;
  const found = current();
  if (found > newest) {
    throw new WaymarkError(
      'E_SCHEMA_TOO_NEW',
      `database schema is version ${found} but this Waymark knows up to ${newest}: upgrade Waymark to open it`,
      { details: { found, newest } },
    );
  }
  for (const migration of migrations) {
    db.transaction(() => {
      if (current() >= migration.version) return; // another process applied it meanwhile
      db.exec(migration.sql);
      db.prepare('INSERT INTO waymark_schema (version, applied_at) VALUES (?, ?)').run(migration.version, Date.now());
    }).immediate();
  }
}
