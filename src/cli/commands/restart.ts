import type { Command } from 'commander';
import type { Engine, Run } from '../../index.js';
import { DB_HELP, parseJsonOption, parsePositiveInt } from '../args.js';
import { UsageError } from '../errors.js';
import { printJson, runDetails } from '../format.js';
import { loadWorkflows } from '../load-workflows.js';
import { withEngine } from '../open-engine.js';

interface AgainFlags {
  workflows?: string;
  reason?: string;
  actor?: string;
  db?: string;
  json?: boolean;
}

interface RestartFlags extends AgainFlags {
  version?: string;
}

interface RerunFlags extends AgainFlags {
  from?: string;
  input?: string;
}

/**
 * `waymark runs restart <run> [--version same|latest|n]` and `waymark runs rerun <run> --from <step>`: a finished run
 * runs again with the same id, in a new history epoch.
 */
export function restartCommands(runs: Command): void {
  withCommonOptions(
    runs
      .command('restart')
      .description(
        'run a finished run again from the start, with the same id, ' +
          'on the same or another version; its earlier history is kept',
      )
      .argument('<run>', 'run id')
      .option(
        '--version <v>',
        "'same' (the run's version), 'latest' (the highest active version) or a version number (default: same)",
      ),
  ).action(async (runId: string, flags: RestartFlags) => {
    // Everything the user typed is checked before the store is touched.
    const version = parseRestartVersion(flags.version);
    checkActor(flags.actor);
    const run = await withFlags(flags, (engine) =>
      engine.restart(runId, { version, actor: flags.actor, reason: flags.reason }),
    );
    print(
      'restart',
      run,
      `restarted run '${run.id}' (${run.workflow}) from the start on v${run.version}`,
      flags.json === true,
    );
  });

  withCommonOptions(
    runs
      .command('rerun')
      .description(
        're-execute a finished run from one of its steps, ' +
          'keeping the checkpoints recorded before that step; its earlier history is kept',
      )
      .argument('<run>', 'run id')
      .requiredOption('--from <step>', 'the step to re-execute from (it and every later step run again)')
      .option('--input <json>', "a new input for the rerun (default: the run's input)"),
  ).action(async (runId: string, flags: RerunFlags) => {
    const input = parseJsonOption(flags.input, '--input');
    if (flags.from === undefined || flags.from.trim() === '') throw new UsageError('--from needs a step name');
    checkActor(flags.actor);
    const step = flags.from;
    const run = await withFlags(flags, (engine) =>
      engine.rerunFrom(runId, step, {
        ...(flags.input === undefined ? {} : { input }),
        actor: flags.actor,
        reason: flags.reason,
      }),
    );
    print(
      'rerun',
      run,
      `rerunning run '${run.id}' (${run.workflow} v${run.version}) from step '${step}'`,
      flags.json === true,
    );
  });
}

function withCommonOptions(command: Command): Command {
  return command
    .option(
      '--workflows <module>',
      'module exporting the workflows, ' +
        "registered first so 'latest' sees its versions (default: the versions the store knows)",
    )
    .option('--reason <text>', "why: recorded in the run's history (default: '(no reason given)')")
    .option('--actor <name>', 'who acts: recorded in the history (default: the OS user name)')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print { action, applied, run } as JSON');
}

/** `same`, `latest` or a positive integer. */
function parseRestartVersion(value: string | undefined): 'same' | 'latest' | number | undefined {
  if (value === undefined || value === 'same' || value === 'latest') return value;
  if (!/^\d+$/.test(value.trim()))
    throw new UsageError(`--version must be 'same', 'latest' or a positive integer, got '${value}'`);
  return parsePositiveInt(value, '--version');
}

function checkActor(actor: string | undefined): void {
  if (actor !== undefined && actor.trim() === '') throw new UsageError('--actor needs a name');
}

async function withFlags(flags: AgainFlags, use: (engine: Engine) => Promise<Run>): Promise<Run> {
  const workflows = flags.workflows === undefined ? undefined : await loadWorkflows(flags.workflows);
  return withEngine(flags, workflows ? { workflows } : {}, use);
}

function print(action: 'restart' | 'rerun', run: Run, headline: string, json: boolean): void {
  if (json) {
    printJson({ action, applied: true, run });
    return;
  }
  const next =
    `; it is now ${run.status} in history epoch ${run.epoch} (the earlier ` +
    `attempt is kept) and a worker serving v${run.version} takes it on`;
  process.stdout.write(`${headline}${next}\n${runDetails(run)}\n`);
}
