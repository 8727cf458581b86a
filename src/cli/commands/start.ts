import type { Command } from 'commander';
import type { Run } from '../../index.js';
import { DB_HELP, parseJsonOption, parsePositiveInt } from '../args.js';
import { printJson, runDetails } from '../format.js';
import { loadWorkflows } from '../load-workflows.js';
import { withEngine } from '../open-engine.js';

interface StartFlags {
  input?: string;
  version?: string;
  id?: string;
  db?: string;
  workflows?: string;
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
    .option('--id <id>', 'run id; a run with this id that exists is returned and nothing starts')
    .option('--db <store>', DB_HELP)
    .option('--workflows <module>', 'module exporting the workflows to register (default: the examples)')
    .option('--wait', 'wait until the run finishes and print it then')
    .option('--timeout <ms>', 'with --wait: give up after this many ms (default: 60000)')
    .option('--json', 'print the run as JSON')
    .action(async (workflow: string, flags: StartFlags) => {
      // Everything the user typed is checked before the store is touched.
      const input = parseJsonOption(flags.input, '--input');
      const version = parsePositiveInt(flags.version, '--version');
      const timeoutMs = parsePositiveInt(flags.timeout, '--timeout') ?? 60_000;
      const workflows = await loadWorkflows(flags.workflows);
      await withEngine(flags, { workflows }, async (engine) => {
        const before = Date.now();
        let run = await engine.start(workflow, input, { id: flags.id, version });
        const existed = run.createdAt.getTime() < before;
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
  if (json) return printJson(run);
  process.stdout.write(`${existed ? `run '${run.id}' already exists: nothing started` : 'started'}\n${runDetails(run)}\n`);
}
