import type { Command } from 'commander';
import type { ExportedHistory } from '../../testing/index.js';
import { DB_HELP } from '../args.js';
import { printJson } from '../format.js';
import { withEngine } from '../open-engine.js';

/** `waymark history export <run>`: the run and its history as JSON, for replay tests in users' CI. */
export function historyCommand(program: Command): void {
  const history = program.command('history').description("runs' histories for replay tests");
  history
    .command('export')
    .description("print a run and its history as JSON (commit it; replay it with 'waymark/testing' in CI)")
    .argument('<run>', 'run id')
    .option('--db <store>', DB_HELP)
    .action(async (runId: string, flags: { db?: string }) => {
      const exported = await withEngine(flags, {}, async (engine): Promise<ExportedHistory> => {
        const run = await engine.getRun(runId);
        return {
          run: { id: run.id, workflow: run.workflow, version: run.version, input: run.input, epoch: run.epoch },
          events: await engine.history(runId),
        };
      });
      printJson(exported);
    });
}
