import type { RunDescription } from '../core/describe.js';
import type { OperatorAction } from '../core/types.js';
import { errorText, table, time } from './format.js';

/** What each operator action does, as `runs describe` lists it. */
const ACTION_HELP: Record<OperatorAction, string> = {
  retry_step: 'run the parked step again (new attempt, same idempotency key)',
  skip_step: 'record an output for the parked step and go on',
  compensate: 'abort: undo completed reversible steps in reverse order, end compensated',
  cancel: 'stop now without undoing anything, end cancelled',
  resume: 'let the parked or paused run go on',
  pause: 'stop scheduling new work until resumed (in-flight work finishes)',
};

/** Help for the actions on a parked compensation (the step is a compensation, not a forward step). */
const COMPENSATION_HELP: Partial<Record<OperatorAction, string>> = {
  retry_step: 'run the failed compensation again',
  skip_step: 'mark the compensation done by hand and go on unwinding',
};

/** The CLI command of an operator action, e.g. `retry_step` -> `retry-step`. */
export function actionCommand(action: OperatorAction): string {
  return action.replace('_', '-');
}

/** `runs describe` as text: where the run is, what it changed, what is pending, and the commands that apply now. */
export function describeText(d: RunDescription, hint: { cli: string; db: string | undefined }): string {
  const { run, current } = d;
  const fields: [string, string | undefined][] = [
    ['run', run.id],
    ['workflow', `${run.workflow} v${run.version}`],
    ['status', run.status],
    ['where', d.where],
    ['current', current ? currentText(current) : undefined],
    ['lock', run.lockKey],
    ['expires', run.expiresAt?.toISOString()],
    ['error', run.error && run.status !== 'needs_attention' ? errorText(run.error) : undefined],
  ];
  const shown = fields.filter((f): f is [string, string] => f[1] !== undefined);
  const width = Math.max(...shown.map(([label]) => label.length)) + 1;
  const lines = shown.map(([label, value]) => `${`${label}:`.padEnd(width)} ${value}`);

  lines.push('', 'effects (completed steps that changed the world):');
  if (d.effects.length === 0) lines.push('  (none)');
  else {
    const rows = d.effects.map((e) => [e.step, String(e.seq), e.effect, e.state, time(new Date(e.completedAt))]);
    lines.push(indent(table(['step', 'seq', 'effect', 'state', 'completed'], rows)));
  }

  lines.push('', 'pending:');
  lines.push(...(d.pending.length === 0 ? ['  (nothing)'] : d.pending.map((p) => `  - ${p}`)));

  lines.push(
    '',
    `completed steps (${d.completedSteps.length}): ` +
      `${d.completedSteps.length === 0 ? '(none)' : d.completedSteps.join(', ')}`,
  );

  lines.push('', 'actions:');
  if (d.actions.length === 0) lines.push(`  (none: the run is ${run.status})`);
  else {
    const db = hint.db === undefined ? '' : ` --db ${shellQuote(hint.db)}`;
    const onCompensation = current?.kind === 'compensation';
    const rows = d.actions.map((action) => {
      const output = action === 'skip_step' && !onCompensation ? ` --output '<json>'` : '';
      const help = (onCompensation ? COMPENSATION_HELP[action] : undefined) ?? ACTION_HELP[action];
      return [`${hint.cli} runs ${actionCommand(action)} ${shellQuote(run.id)}${output}${db}`, help] as const;
    });
    // Not a table(): commands are never clipped, so they can be copied whole.
    const width = Math.max(...rows.map(([command]) => command.length));
    lines.push(...rows.map(([command, help]) => `  ${command.padEnd(width)}  # ${help}`));
    lines.push("  (add --reason '<why>' and --actor <name>: both are recorded in the history)");
  }
  return lines.join('\n');
}

function currentText(current: NonNullable<RunDescription['current']>): string {
  const attempts = current.attempts;
  const facts = [
    current.seq === undefined ? undefined : `seq ${current.seq}`,
    current.attempt !== undefined
      ? `attempt ${current.attempt}`
      : typeof attempts === 'number'
        ? `failed after ${attempts} attempt${attempts === 1 ? '' : 's'}`
        : undefined,
  ].filter(Boolean);
  return `${current.kind} '${current.name}'${facts.length ? ` (${facts.join(', ')})` : ''}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

/** `value` as one shell word: bare when it is safe, else single-quoted. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9._:/@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
