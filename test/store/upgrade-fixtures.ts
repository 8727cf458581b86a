import { copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { readMigrationFiles, type SchemaWarning } from '../../src/store/migration-files.js';
import { migratePostgres } from '../../src/store/postgres/migrate.js';
import { migrateSqlite } from '../../src/store/sqlite/migrate.js';
import { TEST_PG_URL, tempDir, type Backend } from '../helpers.js';

/** The newest migration number this build ships (both dialects ship the same count). */
export const NEWEST = readMigrationFiles(
  fileURLToPath(new URL('../../src/store/sqlite/migrations/', import.meta.url)),
).at(-1)!.version;

/** The file name of the migration `ahead` numbers after this build's newest: `<NNN>_<name>.sql`. */
export const newerFile = (ahead: number, name: string) => `${String(NEWEST + ahead).padStart(3, '0')}_${name}.sql`;

/** Adds a nullable column to each table this build reads rows of, and a table it does not know. */
export const ADDITIVE_SQL = `-- waymark: additive
-- A later release's notes on everything, and run labels.
ALTER TABLE runs ADD COLUMN note text;
ALTER TABLE history ADD COLUMN note text;
ALTER TABLE signals ADD COLUMN note text;
ALTER TABLE workers ADD COLUMN note text;
ALTER TABLE workflow_versions ADD COLUMN note text;
ALTER TABLE tasks ADD COLUMN note text;
CREATE TABLE run_labels (run_id text NOT NULL, label text NOT NULL);
`;

/** Renames a column this build reads. */
export const BREAKING_SQL = `-- waymark: breaking — runs.correlation_id is renamed correlation_key
ALTER TABLE runs RENAME COLUMN correlation_id TO correlation_key;
`;

/**
 * A migrations folder of a newer Waymark: this build's files for `dialect` plus `extra` (file name -> SQL).
 * Removed after the test file.
 */
/** The migration numbers this build ships for a dialect, in order. */
export function shippedVersions(dialect: Backend['name']): number[] {
  const shipped = fileURLToPath(new URL(`../../src/store/${dialect}/migrations/`, import.meta.url));
  return readdirSync(shipped)
    .filter((file) => /^\d+_.*\.sql$/.test(file))
    .map((file) => Number.parseInt(file, 10))
    .sort((a, b) => a - b);
}

/** A newer migration's file name: number `version`, zero-padded to three digits. */
export const migrationName = (version: number, name: string) => `${String(version).padStart(3, '0')}_${name}.sql`;

export function newerMigrations(dialect: Backend['name'], extra: Record<string, string>): string {
  const shipped = fileURLToPath(new URL(`../../src/store/${dialect}/migrations/`, import.meta.url));
  const folder = tempDir();
  for (const file of readdirSync(shipped)) copyFileSync(join(shipped, file), join(folder, file));
  for (const [file, sql] of Object.entries(extra)) writeFileSync(join(folder, file), sql);
  return folder;
}

/** The SQLite file or PostgreSQL schema a store location names. */
export function target(location: string): { file: string } | { schema: string } {
  return location.startsWith('sqlite:')
    ? { file: location.slice('sqlite:'.length) }
    : { schema: new URL(location).searchParams.get('schema')! };
}

/** Migrates the store at `location` the way a newer Waymark with the migrations in `folder` does on open. */
export async function migrateAsNewer(location: string, folder: string): Promise<SchemaWarning[]> {
  const where = target(location);
  const migrations = readMigrationFiles(folder);
  if ('file' in where) {
    const db = new Database(where.file);
    db.pragma('busy_timeout = 10000');
    db.pragma('journal_mode = WAL');
    try {
      return migrateSqlite(db, migrations);
    } finally {
      db.close();
    }
  }
  const pool = new pg.Pool({ connectionString: TEST_PG_URL, max: 1 });
  try {
    return await migratePostgres(pool, where.schema, migrations);
  } finally {
    await pool.end();
  }
}

/** Runs one query on the store at `location` (its PostgreSQL schema on the search path); `write` for changes. */
export async function query<T>(location: string, sql: string, write = false): Promise<T[]> {
  const where = target(location);
  if ('file' in where) {
    const db = new Database(where.file, { readonly: !write });
    try {
      if (write) db.exec(sql);
      return write ? [] : (db.prepare(sql).all() as T[]);
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: TEST_PG_URL, options: `-c search_path=${where.schema}` });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Every table's columns and every index of the store: what a refused open must leave as it found. */
export function schemaShape(location: string): Promise<unknown[]> {
  return 'file' in target(location)
    ? query(location, 'SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name')
    : query(
        location,
        `SELECT table_name AS t, column_name AS c, data_type AS d FROM information_schema.columns
         WHERE table_schema = current_schema() UNION ALL
         SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1, 2`,
      );
}

/** The schema table's rows, in order. */
export function schemaRows(location: string): Promise<{ version: number; name: string; kind: string }[]> {
  return query(location, 'SELECT version, name, kind FROM waymark_schema ORDER BY version');
}
