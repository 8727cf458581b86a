import type { Json } from '../../core/types.js';
import {
  containsPattern,
  decodeCursor,
  encodeCursor,
  IN_FLIGHT,
  MAX_SEARCHED_BYTES,
  NEEDS_ATTENTION,
  rowsThatFit,
} from '../run-pages.js';
import type { RunPage, RunPageQuery, RunSummary } from '../types.js';
import { runFromRow, type RunRow } from './rows.js';

/** Runs one read statement (unprepared), as the store sends its statements. */
export type Read = <R extends object>(text: string, values: unknown[]) => Promise<R[]>;

/** Every `runs` column but input and output, with their sizes: what a list reads. */
const SUMMARY_COLUMNS = `id, workflow, version, status, error, waiting_for, attention, next_pos, due_at, lease_owner,
  lease_expires_at, expires_at,
  lock_key, correlation_id, start_options, pending_action, epoch, created_at, updated_at, NULL AS input, NULL AS output,
  octet_length(input) AS input_size, octet_length(output) AS output_size`;

type SummaryRow = RunRow & { input_size: number | null; output_size: number | null };

/** One page of run summaries, most recent first (see Store.pageRuns). */
export async function pageRuns(read: Read, query: RunPageQuery): Promise<RunPage> {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown) => `$${params.push(value)}`;
  if (query.workflow !== undefined) clauses.push(`workflow = ${param(query.workflow)}`);
  if (query.version !== undefined) clauses.push(`version = ${param(query.version)}::int`);
  if (query.correlationId !== undefined) clauses.push(`correlation_id = ${param(query.correlationId)}`);
  if (query.status !== undefined)
    clauses.push(`status = ANY(${param(Array.isArray(query.status) ? query.status : [query.status])}::text[])`);
  if (query.attention === true) clauses.push(`(${NEEDS_ATTENTION})`);
  if (query.updatedBefore !== undefined)
    clauses.push(`status IN (${IN_FLIGHT}) AND updated_at < ${param(query.updatedBefore)}::bigint`);
  if (query.startedAfter !== undefined) clauses.push(`created_at >= ${param(query.startedAfter)}::bigint`);
  if (query.startedBefore !== undefined) clauses.push(`created_at < ${param(query.startedBefore)}::bigint`);
  if (query.cursor !== undefined) {
    const after = decodeCursor(query.cursor);
    clauses.push(
      `(created_at < ${param(after.createdAt)} OR (created_at = $${params.length} AND id > ${param(after.id)}))`,
    );
  }
  for (const word of query.words ?? []) {
    const p = param(containsPattern(word));
    const searched = [
      `id ILIKE ${p}`,
      `workflow ILIKE ${p}`,
      `correlation_id ILIKE ${p}`,
      `error::text ILIKE ${p}`,
      `attention::text ILIKE ${p}`,
    ];
    for (const column of ['input', 'output'])
      searched.push(
        `CASE WHEN octet_length(${column}) <= ${MAX_SEARCHED_BYTES} THEN ${column} ILIKE ${p} ELSE false END`,
      );
    clauses.push(`(${searched.join(' OR ')})`);
  }
  const limit = query.limit ?? 100;
  const where = clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
  const rows = await read<SummaryRow>(
    `SELECT ${SUMMARY_COLUMNS} FROM runs ${where} ORDER BY created_at DESC, id LIMIT ${param(limit + 1)}`,
    params,
  );
  const taken = rows.slice(0, rowsThatFit(rows, query, limit));
  const bodies = await bodiesOf(read, taken, query.include ?? []);
  const runs = taken.map((row) => summaryFromRow(row, bodies.get(row.id)));
  const last = taken[taken.length - 1];
  return taken.length < rows.length && last
    ? { runs, next: encodeCursor({ createdAt: last.created_at, id: last.id }) }
    : { runs };
}

type Body = { id: string; input: string | null; output: string | null };

/** The included inputs and outputs of the page's runs, read in one statement. */
async function bodiesOf(read: Read, rows: SummaryRow[], include: ('input' | 'output')[]): Promise<Map<string, Body>> {
  if (include.length === 0 || rows.length === 0) return new Map();
  const columns =
    `${include.includes('input') ? 'input' : 'NULL AS input'}, ` +
    `${include.includes('output') ? 'output' : 'NULL AS output'}`;
  const found = await read<Body>(`SELECT id, ${columns} FROM runs WHERE id = ANY($1::text[])`, [rows.map((r) => r.id)]);
  return new Map(found.map((b) => [b.id, b]));
}

function summaryFromRow(row: SummaryRow, body: Body | undefined): RunSummary {
  const { input: _input, output: _output, ...run } = runFromRow({ ...row, input: null, output: null });
  const summary: RunSummary = { ...run, inputSize: row.input_size ?? 0, outputSize: row.output_size ?? 0 };
  if (body?.input != null) summary.input = JSON.parse(body.input) as Json;
  if (body?.output != null) summary.output = JSON.parse(body.output) as Json;
  return summary;
}
