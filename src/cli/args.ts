import { readFileSync } from 'node:fs';
import { RUN_STATUSES, type Json, type RunStatus } from '../core/types.js';
import { UsageError } from './errors.js';
import { printableLocation } from '../store/open.js';

/** Help text of every command's --db option. */
export const DB_HELP = 'SQLite file or postgres:// URL (default: $WAYMARK_DB or ./waymark.db)';

/** Options every command that opens the store takes. */
export interface StoreOptions {
  db?: string;
}

/**
 * The store location: `--db`, else $WAYMARK_DB, else ./waymark.db. A bare path means a SQLite file;
 * 'postgres://...' (or 'postgresql://...') means PostgreSQL; any other `scheme://` is a usage error.
 */
export function storeLocation(options: StoreOptions): string {
  const given = options.db ?? process.env.WAYMARK_DB ?? './waymark.db';
  const flag = options.db !== undefined ? '--db' : process.env.WAYMARK_DB !== undefined ? '$WAYMARK_DB' : '--db';
  if (given.trim() === '')
    throw new UsageError(`${flag} needs a file path or a postgres:// URL, e.g. --db ./waymark.db`);
  if (/^postgres(ql)?:\/\//.test(given) || given.startsWith('sqlite:')) return given;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(given)?.[1];
  if (scheme !== undefined) {
    throw new UsageError(
      `${flag} '${printableLocation(given)}': Waymark has no '${scheme}' store; ` +
        `give a SQLite file (./waymark.db, sqlite:<file>) or a postgres:// URL`,
    );
  }
  return `sqlite:${given}`;
}

/** Parses a JSON option value (`--input`, `--data`); absent stays undefined. */
export function parseJsonOption(value: string | undefined, flag: string): Json | undefined {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value) as Json;
  } catch (error) {
    throw new UsageError(`${flag} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Parses a positive integer option value (`--version`, `--limit`). */
export function parsePositiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`${flag} must be a positive integer, got '${value}'`);
  }
  return Number(value);
}

/** Parses `--status`: one status or a comma-separated list. */
export function parseStatuses(value: string | undefined): RunStatus[] | undefined {
  if (value === undefined) return undefined;
  const statuses = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (statuses.length === 0) throw new UsageError(`--status needs a value: ${RUN_STATUSES.join(', ')}`);
  for (const status of statuses) {
    if (!RUN_STATUSES.includes(status as RunStatus)) {
      throw new UsageError(`unknown status '${status}': use one of ${RUN_STATUSES.join(', ')}`);
    }
  }
  return statuses as RunStatus[];
}

/** Reads and parses a JSON file given on the command line; a missing file or bad JSON is a usage error (exit 2). */
export function readJsonFile(path: string, flag: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a folder'
          : code === 'EACCES'
            ? 'permission denied'
            : (error as Error).message;
    throw new UsageError(`cannot read ${flag} '${path}': ${why}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`${flag} '${path}' is not valid JSON: ${(error as Error).message}`);
  }
}

/** The items of JSON files that each hold one item or an array of them (`--definitions a.json b.json`). */
export function readJsonItems(files: string[] | undefined, flag: string): unknown[] {
  return (files ?? []).flatMap((file) => {
    const json = readJsonFile(file, flag);
    return Array.isArray(json) ? json : [json];
  });
}
