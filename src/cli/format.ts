import type { ErrorInfo, HistoryEvent, Json, Run, WaitInfo } from '../index.js';

/** Longest cell shown in a table; longer values are cut with an ellipsis. */
const MAX_CELL = 60;
/** Longest event detail shown in a history timeline (`--json` has everything). */
const MAX_DETAIL = 120;

/**
 * Lays rows out as an aligned text table under upper-case headers;
 * cells longer than `maxLast` (last column) or MAX_CELL are cut.
 */
export function table(headers: string[], rows: string[][], maxLast = MAX_CELL): string {
  const cells = [
    headers.map((h) => h.toUpperCase()),
    ...rows.map((row) =>
      row.map((cell, i) => clip(cell.replace(/\s+/g, ' '), i === headers.length - 1 ? maxLast : MAX_CELL)),
    ),
  ];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
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
    case 'compensated':
      return run.error ? errorText(run.error) : '';
    case 'needs_attention':
      return run.attention ? errorText(run.attention) : '';
    case 'waiting':
      return run.waitingFor ? waitText(run.waitingFor) : '';
    case 'compensating':
      return run.waitingFor ? `undoing completed steps; ${waitText(run.waitingFor)}` : 'undoing completed steps';
    default:
      return '';
  }
}

/**
 * What a run waits for, e.g. `signal approval until 2025-01-31
 * 14:05:09` or `lock cluster:prod (queued behind its holder)`.
 */
export function waitText(wait: WaitInfo): string {
  let what: string;
  switch (wait.kind) {
    case 'signal':
      what = `signal ${(wait.signals ?? [wait.name]).join('|')}`;
      break;
    case 'retry':
      what = `retry of ${wait.name}`;
      break;
    case 'lock':
      what = `lock ${wait.name ?? ''} (queued behind its holder)`;
      break;
    default:
      what = 'sleep';
  }
  return wait.until === undefined ? what : `${what} until ${time(new Date(wait.until))}`;
}

/** A run as `label: value` lines. */
export function runDetails(run: Run, lease?: { text: string }): string {
  const lines: [string, string | undefined][] = [
    ['run', run.id],
    ['workflow', `${run.workflow} v${run.version}`],
    ['status', run.status],
    ['epoch', run.epoch > 0 ? `${run.epoch} (history epochs before it are kept)` : undefined],
    ['created', time(run.createdAt)],
    ['updated', time(run.updatedAt)],
    ['input', compact(run.input)],
    [
      'waiting for',
      run.waitingFor && (run.status === 'waiting' || run.status === 'compensating')
        ? waitText(run.waitingFor)
        : undefined,
    ],
    [run.status === 'running' ? 'executing' : 'leased', lease?.text],
    ['lock', run.lockKey],
    ['expires', run.expiresAt && time(run.expiresAt)],
    ['output', run.output === undefined ? undefined : compact(run.output)],
    ['error', run.error ? errorText(run.error) : undefined],
    ['attention', run.attention ? errorText(run.attention) : undefined],
  ];
  const shown = lines.filter((line): line is [string, string] => line[1] !== undefined);
  const width = Math.max(...shown.map(([label]) => label.length)) + 1;
  return shown.map(([label, value]) => `${`${label}:`.padEnd(width)} ${value}`).join('\n');
}

/**
 * The history as a timeline: one row per event with its audit facts (attempt, worker, duration) and what happened;
 * an EPOCH column when the run has more than one history epoch (after a migration, restart or rerun).
 */
export function historyTable(events: HistoryEvent[]): string {
  const start = events[0]?.at ?? 0;
  const epochs = events.some((e) => (e.epoch ?? 0) > 0);
  return table(
    ['pos', ...(epochs ? ['epoch'] : []), 'elapsed', 'event', 'seq', 'name', 'attempt', 'worker', 'duration', 'detail'],
    events.map((e) => {
      const data = asObject(e.data);
      return [
        String(e.pos),
        ...(epochs ? [String(e.epoch ?? 0)] : []),
        `+${e.at - start}ms`,
        e.type,
        e.seq === undefined ? '' : String(e.seq),
        e.name ?? '',
        typeof data.attempt === 'number' ? String(data.attempt) : '',
        typeof data.workerId === 'string' ? data.workerId : '',
        typeof data.durationMs === 'number' ? `${data.durationMs}ms` : '',
        eventDetail(e.type, data),
      ];
    }),
    MAX_DETAIL,
  );
}

/** The history as JSON lines: one event per line, oldest first. */
export function historyLines(events: HistoryEvent[]): string {
  return events.map((e) => JSON.stringify(e)).join('\n');
}

/** Audit facts shown in their own columns (or not at all), left out of an event's detail. */
const AUDIT_KEYS = new Set(['attempt', 'workerId', 'durationMs', 'startedAt']);

/** What an event says beyond its audit columns: the error of a failure, who acted and why, the output... */
function eventDetail(type: HistoryEvent['type'], data: Record<string, Json>): string {
  const retry = typeof data.retryAt === 'number' ? `; retry at ${time(new Date(data.retryAt))}` : '';
  const error = isErrorInfo(data.error) ? errorText(data.error) : undefined;
  switch (type) {
    case 'step_failed':
    case 'compensation_failed':
      return `${error ?? ''}${retry}`;
    case 'run_failed':
      return error ?? '';
    case 'run_started':
      return `v${String(data.version)} input ${compact(data.input ?? null)}`;
    case 'run_completed':
      return data.output === undefined ? '' : `output ${compact(data.output)}`;
    case 'operator_action': {
      const phase = data.phase === 'compensation' ? ' (compensation)' : '';
      return `${String(data.action)}${phase} by ${String(data.actor)}: ${String(data.reason)}`;
    }
    case 'run_upgraded':
      return `v${String(data.from)} -> v${String(data.to)} by ${String(data.actor)}: ${String(data.reason)}`;
    case 'run_migrated':
      return (
        `v${String(data.from)} -> v${String(data.to)} with migration '${String(data.migration)}' ` +
        `(from epoch ${String(data.fromEpoch)}) by ${String(data.actor)}: ${String(data.reason)}`
      );
    case 'migration_rolled_back':
      return (
        `migration '${String(data.migration)}' rolled back: ` +
        `v${String(data.from)} -> v${String(data.to)} by ${String(data.actor)}: ${String(data.reason)}`
      );
    case 'run_cancelled':
      return typeof data.actor === 'string' ? `by ${data.actor}: ${String(data.reason)}` : '';
    case 'step_completed':
      if (data.skipped === true)
        return (
          `skipped by ${String(data.by)}: ` +
          `${String(data.reason)}${data.output === undefined ? '' : `; output ${compact(data.output)}`}`
        );
      return [effectText(data), data.output === undefined ? '' : `output ${compact(data.output)}`]
        .filter(Boolean)
        .join('; ');
    case 'step_started':
      return effectText(data);
    case 'compensation_completed':
      return data.skipped === true ? `marked done by ${String(data.by)}: ${String(data.reason)}` : 'undone';
    case 'compensation_started': {
      if (data.reason === 'operator') return `operator action by ${String(data.actor)}: ${String(data.why)}`;
      if (data.reason === 'step_failed') return `step '${String(data.step)}' failed${error ? `: ${error}` : ''}`;
      return String(data.reason ?? '');
    }
    case 'run_compensated': {
      const list = (value: Json | undefined) =>
        Array.isArray(value) && value.length > 0 ? value.join(', ') : '(none)';
      return `undone ${list(data.undone)}; not undone ${list(data.notUndone)}`;
    }
    case 'run_parked': {
      const step = typeof data.step === 'string' ? ` step '${data.step}'` : '';
      return `${String(data.reason)}${step}${error ? `: ${error}` : ''}`;
    }
    default: {
      const rest = Object.fromEntries(
        Object.entries(data).filter(([key, value]) => !AUDIT_KEYS.has(key) && !(key === 'effect' && value === 'none')),
      );
      return Object.keys(rest).length === 0 ? '' : compact(rest);
    }
  }
}

function effectText(data: Record<string, Json>): string {
  return typeof data.effect === 'string' && data.effect !== 'none' ? data.effect : '';
}

function asObject(value: Json | undefined): Record<string, Json> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : {};
}

function isErrorInfo(value: Json | undefined): value is Json & ErrorInfo {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && typeof value.message === 'string';
}

export function errorText(error: { message: string; code?: string }): string {
  return error.code ? `${error.message} (${error.code})` : error.message;
}

export function compact(value: unknown): string {
  return value === undefined ? '' : JSON.stringify(value);
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A length of time, e.g. `45s`, `3m 12s`, `2h 5m`, `4d 3h` (`<1s` below a second). */
export function duration(ms: number): string {
  if (ms < 1_000) return '<1s';
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ];
  const parts: string[] = [];
  let rest = Math.floor(ms);
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 || parts.length > 0) parts.push(`${n}${unit}`);
  }
  return parts
    .slice(0, 2)
    .filter((part) => !/^0/.test(part))
    .join(' ');
}

/** Local wall-clock time, e.g. 2025-01-31 14:05:09. */
export function time(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}
