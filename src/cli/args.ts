import { RUN_STATUSES, type Json, type RunStatus } from '../core/types.js';
import { UsageError } from './errors.js';

/** Help text of every command's --db option. */
export const DB_HELP = 'SQLite file or postgres:// URL (default: $WAYMARK_DB or ./waymark.db)';

/** Options every command that opens the store takes. */
export interface StoreOptions {
  db?: string;
}

/**
 * The store location: `--db`, else $WAYMARK_DB, else ./waymark.db. A bare path means a SQLite file;
 * 'postgres://...' (or 'postgresql://...') means PostgreSQL.
 */
export function storeLocation(options: StoreOptions): string {
  const given = options.db ?? process.env.WAYMARK_DB ?? './waymark.db';
  if (given.trim() === '') throw new UsageError('--db needs a file path or a postgres:// URL, e.g. --db ./waymark.db');
  if (/^postgres(ql)?:\/\//.test(given) || given.startsWith('sqlite:')) return given;
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
  const statuses = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (statuses.length === 0) throw new UsageError(`--status needs a value: ${RUN_STATUSES.join(', ')}`);
  for (const status of statuses) {
    if (!RUN_STATUSES.includes(status as RunStatus)) {
      throw new UsageError(`unknown status '${status}': use one of ${RUN_STATUSES.join(', ')}`);
    }
  }
  return statuses as RunStatus[];
}
