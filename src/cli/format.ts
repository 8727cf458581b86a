import type { HistoryEvent, Run } from '../index.js';

/** Longest cell shown in a table; longer values are cut with an ellipsis. */
const MAX_CELL = 60;

/** Lays rows out as an aligned text table under upper-case headers. */
export function table(headers: string[], rows: string[][]): string {
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((row) => row.map((cell) => clip(cell.replace(/\s+/g, ' '))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

/** Writes `value` as JSON on stdout (for --json). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function runsTable(runs: Run[]): string {
  if (runs.length === 0) return '(no runs)';
  return table(
    ['run', 'workflow', 'version', 'status', 'created', 'detail'],
    runs.map((run) => [run.id, run.workflow, `v${run.version}`, run.status, time(run.createdAt), runDetail(run)]),
  );
}

/** One line on what a run is doing or how it ended. */
export function runDetail(run: Run): string {
  switch (run.status) {
    case 'completed':
      return `output ${compact(run.output)}`;
    case 'failed':
    case 'cancelled':
      return run.error ? errorText(run.error) : '';
    case 'needs_attention':
      return run.attention ? errorText(run.attention) : '';
    case 'waiting': {
      const wait = run.waitingFor;
      if (!wait) return '';
      const what = wait.kind === 'signal' ? `signal ${(wait.signals ?? [wait.name]).join('|')}` : wait.kind === 'retry' ? `retry of ${wait.name}` : 'sleep';
      return wait.until === undefined ? what : `${what} until ${time(new Date(wait.until))}`;
    }
    default:
      return '';
  }
}

/** A run as `label: value` lines. */
export function runDetails(run: Run): string {
  const lines: [string, string | undefined][] = [
    ['run', run.id],
    ['workflow', `${run.workflow} v${run.version}`],
    ['status', run.status],
    ['created', run.createdAt.toISOString()],
    ['updated', run.updatedAt.toISOString()],
    ['input', compact(run.input)],
    ['waiting for', run.status === 'waiting' ? runDetail(run) : undefined],
    ['output', run.output === undefined ? undefined : compact(run.output)],
    ['error', run.error ? errorText(run.error) : undefined],
    ['attention', run.attention ? errorText(run.attention) : undefined],
  ];
  const shown = lines.filter((line): line is [string, string] => line[1] !== undefined);
  const width = Math.max(...shown.map(([label]) => label.length)) + 1;
  return shown.map(([label, value]) => `${`${label}:`.padEnd(width)} ${value}`).join('\n');
}

export function historyTable(events: HistoryEvent[]): string {
  const start = events[0]?.at ?? 0;
  return table(
    ['pos', 'elapsed', 'event', 'seq', 'name', 'data'],
    events.map((e) => [String(e.pos), `+${e.at - start}ms`, e.type, e.seq === undefined ? '' : String(e.seq), e.name ?? '', e.data === undefined ? '' : compact(e.data)]),
  );
}

function errorText(error: { message: string; code?: string }): string {
  return error.code ? `${error.message} (${error.code})` : error.message;
}

function compact(value: unknown): string {
  return value === undefined ? '' : JSON.stringify(value);
}

function clip(text: string): string {
  return text.length <= MAX_CELL ? text : `${text.slice(0, MAX_CELL - 1)}…`;
}

/** Local wall-clock time, e.g. 2025-01-31 14:05:09. */
function time(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}
