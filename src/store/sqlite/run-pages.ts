import type Database from 'better-sqlite3';
import type { Json, RunStatus } from '../../core/types.js';
import {
  containsPattern,
  decodeCursor,
  encodeCursor,
  IN_FLIGHT,
  MAX_SEARCHED_BYTES,
  NEEDS_ATTENTION,
  rowsThatFit,
} from '../run-pages.js';
import type { RunFilter, RunPage, RunPageQuery, RunSummary } from '../types.js';
import { runFromRow, type RunRow } from './rows.js';

/** Every `runs` column but input and output, with their sizes: what a list reads. */
const SUMMARY_COLUMNS = `id, workflow, version, status, error, waiting_for, attention, next_pos, due_at, lease_owner,
  lease_expires_at, expires_at,
  lock_key, correlation_id, start_options, pending_action, epoch, created_at, updated_at, NULL AS input, NULL AS output,
  octet_length(input) AS input_size, octet_length(output) AS output_size`;

type SummaryRow = RunRow & { input_size: number | null; output_size: number | null };

/** The WHERE clause (or '') and its parameters for a run filter. */
export function runFilterSql(filter: RunFilter): { where: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const equal = { workflow: filter.workflow, version: filter.version, correlation_id: filter.correlationId };
  for (const [column, value] of Object.entries(equal)) {
    if (value === undefined) continue;
    clauses.push(`${column} = ?`);
    params.push(value);
  }
  const statuses: RunStatus[] =
    filter.status === undefined ? [] : Array.isArray(filter.status) ? filter.status : [filter.status];
  if (statuses.length > 0) {
    clauses.push(`status IN (${statuses.map(() => '?').join(', ')})`);
    params.push(...statuses);
  }
  return { where: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

/** The clauses of a page's attention, stuck and start-time filters; their values go to `params`. */
function narrowingSql(query: RunPageQuery, params: unknown[]): string[] {
  const clauses: string[] = [];
  if (query.attention === true) clauses.push(`(${NEEDS_ATTENTION})`);
  if (query.updatedBefore !== undefined) {
    clauses.push(`status IN (${IN_FLIGHT}) AND updated_at < ?`);
    params.push(query.updatedBefore);
  }
  if (query.startedAfter !== undefined) {
    clauses.push('created_at >= ?');
    params.push(query.startedAfter);
  }
  if (query.startedBefore !== undefined) {
    clauses.push('created_at < ?');
    params.push(query.startedBefore);
  }
  return clauses;
}

/** One page of run summaries, most recent first (see Store.pageRuns). */
export function pageRuns(db: Database.Database, query: RunPageQuery): RunPage {
  const { where, params } = runFilterSql(query);
  const clauses = where ? [where.slice('WHERE '.length)] : [];
  clauses.push(...narrowingSql(query, params));
  if (query.cursor !== undefined) {
    const after = decodeCursor(query.cursor);
    clauses.push('(created_at < ? OR (created_at = ? AND id > ?))');
    params.push(after.createdAt, after.createdAt, after.id);
  }
  for (const word of query.words ?? []) {
    const searched = ['id', 'workflow', 'correlation_id', 'error', 'attention'].map((c) => `${c} LIKE ? ESCAPE '\\'`);
    searched.push(
      `(octet_length(input) <= ${MAX_SEARCHED_BYTES} AND input LIKE ? ESCAPE '\\')`,
      `(octet_length(output) <= ${MAX_SEARCHED_BYTES} AND output LIKE ? ESCAPE '\\')`,
    );
    clauses.push(`(${searched.join(' OR ')})`);
    params.push(...searched.map(() => containsPattern(word)));
  }
  const limit = query.limit ?? 100;
  const sql =
    `SELECT ${SUMMARY_COLUMNS} FROM runs ` +
    `${clauses.length ? `WHERE ${clauses.join(' AND ')}` : ''} ` +
    `ORDER BY created_at DESC, id LIMIT ?`;
  const rows = db.prepare(sql).all(...params, limit + 1) as SummaryRow[];
  const taken = rows.slice(0, rowsThatFit(rows, query, limit));
  const bodies = bodiesOf(db, taken, query.include ?? []);
  const runs = taken.map((row) => summaryFromRow(row, bodies.get(row.id)));
  const last = taken[taken.length - 1];
  return taken.length < rows.length && last
    ? { runs, next: encodeCursor({ createdAt: last.created_at, id: last.id }) }
    : { runs };
}

/** The included inputs and outputs of the page's runs, read in one statement. */
function bodiesOf(
  db: Database.Database,
  rows: SummaryRow[],
  include: ('input' | 'output')[],
): Map<string, { input: string | null; output: string | null }> {
  if (include.length === 0 || rows.length === 0) return new Map();
  const columns =
    `${include.includes('input') ? 'input' : 'NULL AS input'}, ` +
    `${include.includes('output') ? 'output' : 'NULL AS output'}`;
  const found = db
    .prepare(`SELECT id, ${columns} FROM runs WHERE id IN (${rows.map(() => '?').join(', ')})`)
    .all(...rows.map((r) => r.id)) as { id: string; input: string | null; output: string | null }[];
  return new Map(found.map((b) => [b.id, b]));
}

function summaryFromRow(
  row: SummaryRow,
  body: { input: string | null; output: string | null } | undefined,
): RunSummary {
  const { input: _input, output: _output, ...run } = runFromRow({ ...row, input: null, output: null });
  const summary: RunSummary = { ...run, inputSize: row.input_size ?? 0, outputSize: row.output_size ?? 0 };
  if (body?.input != null) summary.input = JSON.parse(body.input) as Json;
  if (body?.output != null) summary.output = JSON.parse(body.output) as Json;
  return summary;
}
