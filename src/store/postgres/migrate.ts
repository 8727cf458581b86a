import type pg from 'pg';
import { WaymarkError } from '../../core/errors.js';
import { readMigrationFiles, type MigrationFile } from '../migration-files.js';

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
 * Brings `schema` up to date, each migration in its own transaction under an advisory lock, so several
 * processes starting at once migrate exactly once. Refuses a schema written by a newer Waymark.
 */
export async function migratePostgres(pool: pg.Pool, schema: string): Promise<void> {
  const migrations = postgresMigrations();
  const newest = migrations[migrations.length - 1]?.version ?? 0;
  const client = await pool.connect();
  const onError = () => {}; // the failing query reports it
  client.on('error', onError);
  try {
    for (let i = 0; ; i++) {
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`waymark-migrate:${schema}`]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
        await client.query(`SET LOCAL search_path TO ${quoteIdent(schema)}`);
        await client.query(
          'CREATE TABLE IF NOT EXISTS waymark_schema (version integer NOT NULL, applied_at bigint NOT NULL)',
        );
        const found = Number(
          (await client.query('SELECT COALESCE(MAX(version), 0) AS v FROM waymark_schema')).rows[0].v,
        );
        if (found > newest) {
          throw new WaymarkError(
            'E_SCHEMA_TOO_NEW',
            `database schema '${schema}' is version ${found} ` +
              `but this Waymark knows up to ${newest}: upgrade Waymark to open it`,
            { details: { found, newest } },
          );
        }
        const next = migrations.find((m) => m.version > found);
        if (!next) {
          await client.query('COMMIT');
          return;
        }
        await client.query(next.sql);
        await client.query('INSERT INTO waymark_schema (version, applied_at) VALUES ($1, $2)', [
          next.version,
          Date.now(),
        ]);
        await client.query('COMMIT');
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

/** Quotes an identifier already checked against SCHEMA_PATTERN. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
