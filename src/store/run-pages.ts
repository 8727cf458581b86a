import { WaymarkError } from '../core/errors.js';
import { isTerminal, RUN_STATUSES } from '../core/types.js';
import type { RunPageQuery } from './types.js';

/**
 * Inputs and outputs larger than this (bytes) are not searched for
 * free-text words: reading them would cost too much. (Default: 65536)
 */
export const MAX_SEARCHED_BYTES = 65_536;

/** The SQL condition of a run that needs an operator (both dialects; the same as the runs_needing_attention index). */
export const NEEDS_ATTENTION = "status = 'needs_attention' OR attention IS NOT NULL";

/** The in-flight statuses as an SQL list: every status but the terminal ones. */
export const IN_FLIGHT = RUN_STATUSES.filter((s) => !isTerminal(s))
  .map((s) => `'${s}'`)
  .join(', ');

/** Bytes of included inputs and outputs after which a page ends early. (Default: 4 MiB) */
export const DEFAULT_PAGE_BYTES = 4 * 1024 * 1024;

/** Where a page ended: the last run's creation time and id (runs are listed by created_at descending, then id). */
export interface CursorPosition {
  createdAt: number;
  id: string;
}

/** The opaque cursor of the page after `position`. */
export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');
}

/** The position a cursor stands for; E_INVALID_INPUT when it is not one a page gave. */
export function decodeCursor(cursor: string): CursorPosition {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (Number.isSafeInteger(createdAt) && typeof id === 'string' && id.length <= 200)
      return { createdAt: createdAt as number, id };
  } catch {
    // falls through to the refusal
  }
  throw new WaymarkError(
    'E_INVALID_INPUT',
    'cursor is not one a page of runs gave (pass the `next` of the previous page as it is)',
  );
}

/** A word as a LIKE pattern that finds it anywhere (%, _ and \ escaped with \). */
export function containsPattern(word: string): string {
  return `%${word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * How many of `rows` (in order) the page takes: at most `limit`, and once the included inputs and outputs
 * pass `maxBytes` no more (the first row always comes, so paging always moves on).
 */
export function rowsThatFit(
  rows: { input_size: number | null; output_size: number | null }[],
  query: RunPageQuery,
  limit: number,
): number {
  const include = query.include ?? [];
  if (include.length === 0) return Math.min(rows.length, limit);
  const budget = query.maxBytes ?? DEFAULT_PAGE_BYTES;
  let used = 0;
  let taken = 0;
  for (const row of rows.slice(0, limit)) {
    used +=
      (include.includes('input') ? (row.input_size ?? 0) : 0) +
      (include.includes('output') ? (row.output_size ?? 0) : 0);
    if (taken > 0 && used > budget) break;
    taken++;
  }
  return taken;
}
