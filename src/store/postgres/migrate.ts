import type pg from 'pg';
import { WaymarkError } from '../../core/errors.js';
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
export function postgresMigrations(): MigrationFile[] {
  return readMigrationFiles(new URL('./migrations/', import.meta.url));
}

/** Whether `schema` holds Waymark's tables (a store, possibly made by an older Waymark). */
export async function hasSchemaTable(pool: pg.Pool, schema: string): Promise<boolean> {
  const { rows } = await pool.query('SELECT to_regclass($1) IS NOT NULL AS present', [
    `${quoteIdent(schema)}.waymark_schema`,
  ]);
  return rows[0].present === true;
}

/**
 * Brings `schema` up to date with `migrations` (Default: this build's), each in its own transaction under an
 * advisory lock, so several processes (of one Waymark or of several releases) starting at once migrate exactly
 * once; returns what the engine should warn about. A schema with newer migrations than this build knows is
 * opened when they are all additive (one warning), and refused with E_SCHEMA_TOO_NEW, changing nothing, otherwise.
 */
export async function migratePostgres(
  pool: pg.Pool,
  schema: string,
  migrations = postgresMigrations(),
): Promise<SchemaWarning[]> {
  const known = newestVersion(migrations);
  const client = await pool.connect();
  const onError = () => {}; // the failing query reports it
  client.on('error', onError);
  const applied: MigrationFile[] = [];
  let from: number | undefined;
  try {
    for (let i = 0; ; i++) {
      await client.query('BEGIN');
      try {
        // The same lock key as every earlier release, so processes of different releases exclude each other.
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`waymark-migrate:${schema}`]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
        await client.query(`SET LOCAL search_path TO ${quoteIdent(schema)}`);
        await prepareSchemaTable(client, schema, migrations);
        const newer = await client.query<AppliedMigration>(
          'SELECT version, name, kind, reason FROM waymark_schema WHERE version > $1 ORDER BY version',
          [known],
        );
        const warning = checkNewerMigrations(newer.rows, known, `database schema '${schema}'`);
        const found = Number(
          (await client.query('SELECT COALESCE(MAX(version), 0) AS v FROM waymark_schema')).rows[0].v,
        );
        from ??= found;
        const next = migrations.find((m) => m.version > found);
        if (!next) {
          await client.query('COMMIT');
          const breaking = breakingAppliedWarning(applied, from);
          return [warning, breaking].filter((w): w is SchemaWarning => w !== undefined);
        }
        await client.query(next.sql);
        await client.query(
          'INSERT INTO waymark_schema (version, applied_at, name, kind, reason) VALUES ($1, $2, $3, $4, $5)',
          [next.version, Date.now(), next.name, next.kind, next.reason],
        );
        await client.query('COMMIT');
        applied.push(next);
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
      if (i > migrations.length) throw new WaymarkError('E_STORE', 'migrations did not converge');
    }
  } finally {
    client.off('error', onError);
    client.release(true);
  }
}

/**
 * Creates the schema table, or adds the kind columns to one written before they were and fills them in for
 * the migrations this build knows. Runs inside the caller's locked transaction, so a refusal undoes it.
 */
async function prepareSchemaTable(client: pg.PoolClient, schema: string, migrations: MigrationFile[]): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS waymark_schema (
    version integer NOT NULL, applied_at bigint NOT NULL, name text, kind text, reason text)`);
  const { rows } = await client.query<{ column_name: string }>(
    "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'waymark_schema'",
    [schema],
  );
  const columns = new Set(rows.map((row) => row.column_name));
  for (const column of SCHEMA_KIND_COLUMNS) {
    if (!columns.has(column)) await client.query(`ALTER TABLE waymark_schema ADD COLUMN ${column} text`);
  }
  const unrecorded = (
    await client.query<{ version: number }>('SELECT version FROM waymark_schema WHERE kind IS NULL')
  ).rows.map((row) => row.version);
  for (const m of migrations) {
    if (!unrecorded.includes(m.version)) continue;
    await client.query(
      'UPDATE waymark_schema SET name = $1, kind = $2, reason = $3 WHERE version = $4 AND kind IS NULL',
      [m.name, m.kind, m.reason, m.version],
    );
  }
}

/** Quotes an identifier already checked against SCHEMA_PATTERN. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
