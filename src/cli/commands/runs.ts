import type { Command } from 'commander';
import { DB_HELP, parsePositiveInt, parseStatuses } from '../args.js';
import { historyTable, printJson, runDetails, runsTable } from '../format.js';
import { withEngine } from '../open-engine.js';

interface ReadFlags {
  db?: string;
  json?: boolean;
}

interface ListFlags extends ReadFlags {
  status?: string;
  workflow?: string;
  limit?: string;
}


export function runsCommand(program: Command): void {
  const runs = program.command('runs').description('look at runs: list, get, history');

  runs
    .command('list')
    .description('list runs, most recent first')
    .option('--status <status>', 'only runs in this status (comma-separated for several)')
    .option('--workflow <name>', 'only runs of this workflow')
    .option('--limit <n>', 'at most this many runs (default: 100)')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print the runs as a JSON array')
    .action(async (flags: ListFlags) => {
      const status = parseStatuses(flags.status);
      const limit = parsePositiveInt(flags.limit, '--limit');
      const found = await withEngine(flags, {}, (engine) => engine.listRuns({ status, workflow: flags.workflow, limit }));
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
      const run = await withEngine(flags, {}, (engine) => engine.getRun(runId));
      if (flags.json) printJson(run);
      else process.stdout.write(`${runDetails(run)}\n`);
    });

  runs
    .command('history')
    .description("show a run's history, oldest event first")
    .argument('<run>', 'run id')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print the events as a JSON array')
    .action(async (runId: string, flags: ReadFlags) => {
      const events = await withEngine(flags, {}, (engine) => engine.history(runId));
      if (flags.json) printJson(events);
      else process.stdout.write(`${historyTable(events)}\n`);
    });
}
