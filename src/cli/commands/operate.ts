import type { Command } from 'commander';
import type { Engine, Run } from '../../index.js';
import type { OperatorAction } from '../../core/types.js';
import type { OperatorResult } from '../../runtime/operator.js';
import { DB_HELP, parseJsonOption } from '../args.js';
import { actionCommand, shellQuote } from '../describe-text.js';
import { UsageError } from '../errors.js';
import { printJson, runDetails } from '../format.js';
import { cliName, withEngine } from '../open-engine.js';

interface OperateFlags {
  reason?: string;
  actor?: string;
  output?: string;
  db?: string;
  json?: boolean;
}

interface ActionSpec {
  action: OperatorAction;
  description: string;
  call(
    engine: Engine,
    runId: string,
    options: { actor?: string; reason?: string; output?: unknown },
  ): Promise<OperatorResult>;
}

const ACTIONS: ActionSpec[] = [
  {
    action: 'retry_step',
    description:
      'run the parked step (or failed compensation) of a needs_attention run again, with the same idempotency key',
    call: (engine, runId, options) => engine.retryStep(runId, options),
  },
  {
    action: 'skip_step',
    description: "record --output as the parked step's result (or mark a failed compensation done by hand) and go on",
    call: (engine, runId, options) => engine.skipStep(runId, options),
  },
  {
    action: 'compensate',
    description: 'abort the run and undo its completed reversible steps in reverse order; it ends compensated',
    call: (engine, runId, options) => engine.compensate(runId, options),
  },
  {
    action: 'cancel',
    description: 'stop the run without undoing anything; it ends cancelled',
    call: (engine, runId, options) => engine.cancel(runId, options),
  },
  {
    action: 'resume',
    description: 'let a paused run, or one parked on a divergence (after a fix is deployed) or on its expiry, go on',
    call: (engine, runId, options) => engine.resume(runId, options),
  },
  {
    action: 'pause',
    description: 'pause a running or waiting run: nothing new is executed (a running step finishes) until resume',
    call: (engine, runId, options) => engine.pause(runId, options),
  },
];

/**
 * `waymark runs retry-step | skip-step | compensate | cancel | resume
 * | pause <run>`: operator actions, recorded with actor and reason.
 */
export function operatorCommands(runs: Command): void {
  for (const spec of ACTIONS) {
    const command = runs
      .command(actionCommand(spec.action))
      .description(spec.description)
      .argument('<run>', 'run id')
      .option('--reason <text>', "why: recorded in the run's history (default: '(no reason given)')")
      .option('--actor <name>', 'who acts: recorded in the history (default: the OS user name)');
    if (spec.action === 'skip_step') command.option('--output <json>', "the step's result as JSON (default: none)");
    command
      .option('--db <store>', DB_HELP)
      .option('--json', 'print { action, applied, run } as JSON')
      .action(async (runId: string, flags: OperateFlags) => {
        // Everything the user typed is checked before the store is touched.
        const output = parseJsonOption(flags.output, '--output');
        if (flags.actor !== undefined && flags.actor.trim() === '') throw new UsageError('--actor needs a name');
        const options = { actor: flags.actor, reason: flags.reason, ...(flags.output === undefined ? {} : { output }) };
        const result = await withEngine(flags, {}, (engine) => spec.call(engine, runId, options));
        if (flags.json) printJson({ action: spec.action, applied: result.applied, run: result.run });
        else process.stdout.write(`${outcomeText(spec.action, result, flags.db)}\n${runDetails(result.run)}\n`);
      });
  }
}

function outcomeText(action: OperatorAction, { run, applied }: OperatorResult, db: string | undefined): string {
  const name = actionCommand(action);
  if (applied) return `${name}: applied to run '${run.id}'; it is now ${run.status}${next(run)}`;
  const follow = `${cliName()} runs get ${shellQuote(run.id)}${db === undefined ? '' : ` --db ${shellQuote(db)}`}`;
  return (
    `${name}: handed to the worker executing run '${run.id}'; it applies at the run's next checkpoint ` +
    `(the run is ${run.status} until then; follow with: ${follow})`
  );
}

/** What happens to the run after an applied action. */
function next(run: Run): string {
  switch (run.status) {
    case 'running':
      return ' and a worker serving its version takes it on';
    case 'compensating':
      return ' and a worker serving its version undoes its completed steps';
    default:
      return '';
  }
}
