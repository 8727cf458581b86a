import type Database from 'better-sqlite3';
import {
  breakingAppliedWarning,
  checkNewerMigrations,
  newestVersion,
  readMigrationFiles,
  SCHEMA_KIND_COLUMNS,
  type AppliedMigration,
  type MigrationFile,
  type SchemaWarning,
} from '../migration-files.js';

/** The numbered `.sql` migrations shipped with this build, in order. */
export function sqliteMigrations(): MigrationFile[] {
  return readMigrationFiles(new URL('./migrations/', import.meta.url));
}

/** Whether the database holds Waymark's tables (a store, possibly made by an older Waymark). */
export function hasSchemaTable(db: Database.Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'waymark_schema'").get() !== undefined;
}

/**
 * Brings the schema up to date with `migrations` (Default: this build's), each in its own transaction, and
 * returns what the engine should warn about. A schema with newer migrations than this build knows is opened
 * when they are all additive (one warning), and refused with E_SCHEMA_TOO_NEW, changing nothing, otherwise.
 */
export function migrateSqlite(db: Database.Database, migrations = sqliteMigrations()): SchemaWarning[] {
  const known = newestVersion(migrations);
  const current = () =>
    (db.prepare('SELECT MAX(version) AS v FROM waymark_schema').get() as { v: number | null }).v ?? 0;
  const warnings: SchemaWarning[] = [];
  let from = 0;
  db.transaction(() => {
    prepareSchemaTable(db, migrations);
    const newer = db
      .prepare('SELECT version, name, kind, reason FROM waymark_schema WHERE version > ? ORDER BY version')
      .all(known) as AppliedMigration[];
    const warning = checkNewerMigrations(newer, known, 'database schema');
    if (warning) warnings.push(warning);
    from = current();
  }).immediate();
  const applied: MigrationFile[] = [];
  const record = db.prepare(
    'INSERT INTO waymark_schema (version, applied_at, name, kind, reason) VALUES (?, ?, ?, ?, ?)',
  );
  for (const migration of migrations) {
    db.transaction(() => {
      if (current() >= migration.version) return; // another process applied it meanwhile
      db.exec(migration.sql);
      record.run(migration.version, Date.now(), migration.name, migration.kind, migration.reason);
      applied.push(migration);
    }).immediate();
  }
  const breaking = breakingAppliedWarning(applied, from);
  return breaking ? [...warnings, breaking] : warnings;
}

/**
 * Creates the schema table, or adds the kind columns to one written before they were and fills them in for
 * the migrations this build knows. Runs inside the caller's transaction, so a refusal undoes it.
 */
function prepareSchemaTable(db: Database.Database, migrations: MigrationFile[]): void {
  db.exec(`CREATE TABLE IF NOT EXISTS waymark_schema (
    version INTEGER NOT NULL, applied_at INTEGER NOT NULL, name TEXT, kind TEXT, reason TEXT)`);
  const columns = new Set(
    (db.prepare('PRAGMA table_info(waymark_schema)').all() as { name: string }[]).map((c) => c.name),
  );
  for (const column of SCHEMA_KIND_COLUMNS) {
    if (!columns.has(column)) db.exec(`ALTER TABLE waymark_schema ADD COLUMN ${column} TEXT`);
  }
  const unrecorded = (
    db.prepare('SELECT version FROM waymark_schema WHERE kind IS NULL').all() as { version: number }[]
  ).map((row) => row.version);
  if (unrecorded.length === 0) return;
  const fill = db.prepare(
    'UPDATE waymark_schema SET name = ?, kind = ?, reason = ? WHERE version = ? AND kind IS NULL',
  );
  for (const m of migrations) if (unrecorded.includes(m.version)) fill.run(m.name, m.kind, m.reason, m.version);
}
