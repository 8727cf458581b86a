import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One numbered schema migration: `NNN_name.sql`, applied in its own transaction. */
export interface MigrationFile {
  version: number;
  name: string;
  sql: string;
}

/** The numbered `.sql` files in a dialect's migrations folder (a URL relative to that dialect's module), in order. */
export function readMigrationFiles(folder: URL): MigrationFile[] {
  const dir = fileURLToPath(folder);
  return readdirSync(dir)
    .filter((file) => /^\d+_.*\.sql$/.test(file))
    .sort()
    .map((file) => ({ version: Number(file.split('_')[0]), name: file, sql: readFileSync(dir + file, 'utf8') }));
}
