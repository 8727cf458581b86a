import type { Command } from 'commander';
import { DB_HELP, parsePositiveInt, parseStatuses } from '../args.js';
import { isAtRest } from '../../core/types.js';
import { leaseText } from '../../core/leases.js';
import { describeText } from '../describe-text.js';
import { historyLines, historyTable, printJson, runDetails, runsTable } from '../format.js';
import { cliName, withEngine } from '../open-engine.js';
import { rollbackMigrationCommand } from './migrate.js';
import { operatorCommands } from './operate.js';
import { restartCommands } from './restart.js';
import { upgradeCommand } from './upgrade.js';

interface ReadFlags {
  db?: string;
  json?: boolean;
}

interface ListFlags extends ReadFlags {
  status?: string;
  workflow?: string;
  correlationId?: string;
  limit?: string;
}

export function runsCommand(program: Command): void {
  const runs = program
    .command('runs')
    .description(
      'look at runs (list, get, history, describe) and act on them (retry-step, ' +
        'skip-step, compensate, cancel, resume, upgrade, rollback-migration, restart, rerun, remove)',
    );

  runs
    .command('list')
    .description('list runs, most recent first')
    .option('--status <status>', 'only runs in this status (comma-separated for several)')
    .option('--workflow <name>', 'only runs of this workflow')
    .option('--correlation-id <id>', 'only runs started with this correlation id')
    .option('--limit <n>', 'at most this many runs (default: 100)')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print the runs as a JSON array')
    .action(async (flags: ListFlags) => {
      const status = parseStatuses(flags.status);
      const limit = parsePositiveInt(flags.limit, '--limit');
      const found = await withEngine(flags, {}, (engine) =>
        engine.listRuns({ status, workflow: flags.workflow, correlationId: flags.correlationId, limit }),
      );
      if (flags.json) printJson(found);
      else process.stdout.write(`${runsTable(found)}\n`);
    });

  runs
    .command('get')
    .description('show one run')
    .argument('<run>', 'run id')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print the run as JSON')
    .action(async (runId: string, flags: ReadFlags) => {
      const [run, lease] = await withEngine(flags, {}, async (engine) => {
        const found = await engine.getRun(runId);
        return [found, isAtRest(found.status) ? undefined : await engine.lease(found)] as const;
      });
      if (flags.json) printJson(run);
      else
        process.stdout.write(
          `${runDetails(run, lease && { text: leaseText(lease, `v${run.version}`, Date.now()) })}\n`,
        );
    });

  runs
    .command('history')
    .description("show a run's history as a timeline, oldest event first, with each event's audit facts")
    .argument('<run>', 'run id')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print the events as JSON lines (one event per line)')
    .action(async (runId: string, flags: ReadFlags) => {
      const events = await withEngine(flags, {}, (engine) => engine.history(runId));
      if (flags.json) process.stdout.write(events.length === 0 ? '' : `${historyLines(events)}\n`);
      else process.stdout.write(`${historyTable(events)}\n`);
    });

  runs
    .command('describe')
    .description('where a run is, what it has changed, what is pending, and what an operator can do now')
    .argument('<run>', 'run id')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print the description as JSON')
    .action(async (runId: string, flags: ReadFlags) => {
      const description = await withEngine(flags, {}, (engine) => engine.describe(runId));
      if (flags.json) printJson(description);
      else process.stdout.write(`${describeText(description, { cli: cliName(), db: flags.db })}\n`);
    });

  runs
    .command('remove')
    .description('delete a finished run with its history (refused while it is not finished: cancel it first)')
    .argument('<run>', 'run id')
    .option('--db <store>', DB_HELP)
    .action(async (runId: string, flags: ReadFlags) => {
      await withEngine(flags, {}, (engine) => engine.removeRun(runId));
      process.stdout.write(`removed run ${runId} and its history\n`);
    });

  operatorCommands(runs);
  upgradeCommand(runs);
  rollbackMigrationCommand(runs);
  restartCommands(runs);
}
