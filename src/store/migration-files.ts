import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WaymarkError } from '../core/errors.js';
import type { Json } from '../core/types.js';

/**
 * additive: code built before the migration keeps working against the schema after it (new nullable
 * columns, tables, indexes it never relies on); breaking: that code would misbehave, so it must be stopped first.
 */
export type MigrationKind = 'additive' | 'breaking';

/** One numbered schema migration: `NNN_name.sql`, applied in its own transaction. */
export interface MigrationFile {
  version: number;
  name: string;
  kind: MigrationKind;
  /** Why a breaking migration breaks older code; null for an additive one. */
  reason: string | null;
  sql: string;
}

/** A migration as the schema table records it; name, kind and reason are null in rows written before kinds were. */
export interface AppliedMigration {
  version: number;
  name: string | null;
  kind: string | null;
  reason: string | null;
}

/** Something about the schema an engine should log when it opens the store: it works, but an operator should know. */
export interface SchemaWarning {
  message: string;
  details: Record<string, Json>;
}

/** The first line every migration file starts with. */
const HEADER = /^-- waymark: (?:(additive)|breaking (?:—|-) (\S.*?))\s*$/;

const HEADER_HELP = "its first line must be '-- waymark: additive' or '-- waymark: breaking — <why>'";

/**
 * The numbered `.sql` files in a migrations folder, in order. Each must start with its kind header, and no
 * two may share a number: otherwise this fails with E_STORE naming the file (the store does not open).
 */
export function readMigrationFiles(folder: string | URL): MigrationFile[] {
  const dir = typeof folder === 'string' ? folder : fileURLToPath(folder);
  const files = readdirSync(dir)
    .filter((file) => /^\d+_.*\.sql$/.test(file))
    .sort()
    .map((file) => parseMigration(file, readFileSync(join(dir, file), 'utf8')));
  files.forEach((file, i) => {
    const before = files[i - 1];
    if (before && before.version === file.version) {
      throw new WaymarkError(
        'E_STORE',
        `migration files ${before.name} and ${file.name} share version ${file.version}: give each its own number`,
        { details: { folder: dir, version: file.version } },
      );
    }
  });
  return files;
}

/** One migration file: its number from the name, its kind from the first line. */
function parseMigration(name: string, sql: string): MigrationFile {
  const firstLine = sql.split('\n', 1)[0]!.replace(/\r$/, '');
  const header = HEADER.exec(firstLine);
  if (!header) {
    throw new WaymarkError('E_STORE', `migration file ${name} has no valid kind header: ${HEADER_HELP}`, {
      details: { migration: name, firstLine },
    });
  }
  const kind: MigrationKind = header[1] ? 'additive' : 'breaking';
  return { version: Number(name.split('_')[0]), name, kind, reason: header[2] ?? null, sql };
}

/** The newest version among `migrations` (0 for none). */
export function newestVersion(migrations: MigrationFile[]): number {
  return migrations[migrations.length - 1]?.version ?? 0;
}

const label = (m: AppliedMigration) => (m.name ? `${m.version} (${m.name})` : `${m.version}`);

/**
 * Decides about the applied migrations newer than this build knows (`newer`, in order): none gives nothing;
 * only additive ones give one warning (this build keeps working); any breaking one, or one whose kind the
 * table does not record, is refused with E_SCHEMA_TOO_NEW naming it. `where` names the schema in messages.
 */
export function checkNewerMigrations(
  newer: AppliedMigration[],
  known: number,
  where: string,
): SchemaWarning | undefined {
  if (newer.length === 0) return undefined;
  const found = newer[newer.length - 1]!.version;
  const versions = `${where} is version ${found} but this Waymark knows up to ${known}`;
  const breaking = newer.find((m) => m.kind !== 'additive');
  const details = { found, newest: known, newer: newer.map((m) => ({ version: m.version, name: m.name })) };
  if (breaking) {
    const why =
      breaking.kind === 'breaking'
        ? `newer migration ${label(breaking)} is breaking (${breaking.reason ?? 'no reason recorded'})`
        : `newer migration ${label(breaking)} was applied by a Waymark that does not record whether it is additive`;
    throw new WaymarkError(
      'E_SCHEMA_TOO_NEW',
      `${versions}, and ${why}: this Waymark cannot run against it. Upgrade this process to the newer Waymark; ` +
        'a breaking migration needs every process of an older Waymark stopped (finish the rollout)',
      { details: { ...details, breaking: { version: breaking.version, name: breaking.name, kind: breaking.kind } } },
    );
  }
  const list =
    newer.length === 1 ? `migration ${label(newer[0]!)} is` : `migrations ${newer.map(label).join(', ')} are`;
  return {
    message: `${versions}: the newer ${list} additive, so it keeps working; upgrade it to finish the rollout`,
    details,
  };
}

/**
 * A warning when this process just applied breaking migrations over an existing schema (`from` > 0):
 * processes of older Waymark releases refuse to start against it, and any still running must be stopped.
 */
export function breakingAppliedWarning(applied: MigrationFile[], from: number): SchemaWarning | undefined {
  const breaking = applied.filter((m) => m.kind === 'breaking');
  if (from === 0 || breaking.length === 0) return undefined;
  const list = breaking.map((m) => `${m.name} (${m.reason})`).join(', ');
  const what = `applied breaking migration${breaking.length === 1 ? '' : 's'} ${list} over schema version ${from}`;
  return {
    message: `${what}: processes of an older Waymark refuse to start against it, and any still running must be stopped`,
    details: { from, breaking: breaking.map((m) => ({ version: m.version, name: m.name })) },
  };
}

/** The schema table's columns after `version` and `applied_at`: each applied migration's file, kind and reason. */
export const SCHEMA_KIND_COLUMNS = ['name', 'kind', 'reason'] as const;
