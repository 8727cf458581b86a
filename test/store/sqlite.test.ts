import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { WaymarkError } from '../../src/core/errors.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { sqliteMigrations } from '../../src/store/sqlite/migrate.js';
import { tempDb } from '../helpers.js';

test('migrations create the schema once and record its version; reopening applies nothing twice', async () => {
  const path = tempDb();
  await new SqliteStore({ path }).close();
  await new SqliteStore({ path }).close();
  const db = new Database(path, { readonly: true });
  const versions = db.prepare('SELECT version FROM waymark_schema ORDER BY version').all() as { version: number }[];
  db.close();
  assert.deepEqual(
    versions.map((v) => v.version),
    sqliteMigrations().map((m) => m.version),
  );
});

test('a database written by a newer schema is refused clearly and left untouched', async () => {
  const path = tempDb();
  await new SqliteStore({ path }).close();
  const db = new Database(path);
  db.prepare('INSERT INTO waymark_schema (version, applied_at) VALUES (999, 0)').run();
  const before = db.prepare('SELECT COUNT(*) AS n FROM waymark_schema').get();
  db.close();
  assert.throws(
    () => new SqliteStore({ path }),
    (e: unknown) =>
      e instanceof WaymarkError && e.code === 'E_SCHEMA_TOO_NEW' && /schema is version 999/.test(e.message),
  );
  const after = new Database(path, { readonly: true });
  assert.deepEqual(after.prepare('SELECT COUNT(*) AS n FROM waymark_schema').get(), before);
  after.close();
});
