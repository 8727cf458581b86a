import type { Command } from 'commander';
import { WaymarkError, type Run } from '../../index.js';
import { DB_HELP, parseJsonOption, parsePositiveInt } from '../args.js';
import { printJson, runDetails } from '../format.js';
import { UsageError } from '../errors.js';
import { loadWorkflows } from '../load-workflows.js';
import { withEngine } from '../open-engine.js';
import { DEV_HELP } from '../worker-flags.js';

interface StartFlags {
  input?: string;
  version?: string;
  id?: string;
  db?: string;
  workflows?: string;
  examples?: boolean;
  force?: boolean;
  correlationId?: string;
  dev?: boolean;
  wait?: boolean;
  timeout?: string;
  json?: boolean;
}

export function startCommand(program: Command): void {
  program
    .command('start')
    .description('start a run of a workflow (executed by a worker, e.g. `waymark dev`)')
    .argument('<workflow>', 'workflow name')
    .option('--input <json>', 'run input as JSON', undefined)
    .option('--version <n>', 'pin the run to this version (default: the latest)')
    .option('--force', 'with --version: start it even though that version is draining')
    .option('--id <id>', 'run id; a run with this id that exists is returned and nothing starts')
    .option(
      '--correlation-id <id>',
      "the caller's id for the business transaction (runs list --correlation-id finds it)",
    )
    .option('--db <store>', DB_HELP)
    .option(
      '--workflows <module>',
      'module exporting the workflows to register first (default: none: the versions the store knows)',
    )
    .option('--examples', 'register the built-in example workflows (order, onboarding, report, rollout) first')
    .option('--dev', DEV_HELP)
    .option('--wait', 'wait until the run finishes and print it then')
    .option('--timeout <ms>', 'with --wait: give up after this many ms (default: 60000)')
    .option('--json', 'print the run as JSON')
    .action(async (workflow: string, flags: StartFlags) => {
      // Everything the user typed is checked before the store is touched.
      const input = parseJsonOption(flags.input, '--input');
      const version = parsePositiveInt(flags.version, '--version');
      const timeoutMs = parsePositiveInt(flags.timeout, '--timeout') ?? 60_000;
      if (flags.force && version === undefined)
        throw new UsageError('--force applies to a pinned start: give --version <n> as well');
      const workflows = await loadWorkflows(flags.workflows, { examples: flags.examples });
      await withEngine(flags, { workflows, create: true, devMode: flags.dev === true }, async (engine) => {
        const started = await engine
          .startRun(workflow, input, {
            id: flags.id,
            version,
            force: flags.force === true,
            correlationId: flags.correlationId,
          })
          .catch(forceHint);
        let run = started.run;
        const existed = !started.created;
        let failure: unknown;
        if (flags.wait) {
          try {
            await engine.result(run.id, { timeoutMs });
          } catch (error) {
            failure = error;
          }
          run = await engine.getRun(run.id);
        }
        print(run, existed, flags.json === true);
        if (failure) throw failure;
      });
    });
}

function print(run: Run, existed: boolean, json: boolean): void {
  if (json) {
    printJson(run);
    return;
  }
  process.stdout.write(
    `${existed ? `run '${run.id}' already exists: nothing started` : 'started'}\n${runDetails(run)}\n`,
  );
}

/** A pinned start refused because its version is draining: say how the CLI forces it. */
function forceHint(error: unknown): never {
  const details = error instanceof WaymarkError ? (error.details as { status?: unknown } | undefined) : undefined;
  if (error instanceof WaymarkError && error.code === 'E_VERSION_UNAVAILABLE' && details?.status === 'draining') {
    const { workflow, version } = details as { workflow?: unknown; version?: unknown };
    throw new WaymarkError(
      error.code,
      `${String(workflow)} v${String(version)} is draining: it takes no new starts (add --force to start it anyway)`,
      { details: error.details, cause: error },
    );
  }
  throw error;
}
