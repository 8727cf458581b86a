import type { Command } from 'commander';
import { DB_HELP, parseJsonOption } from '../args.js';
import { printJson } from '../format.js';
import { withEngine } from '../open-engine.js';

interface SignalFlags {
  data?: string;
  db?: string;
  json?: boolean;
}

export function signalCommand(program: Command): void {
  program
    .command('signal')
    .description('send a signal to a run; it is kept until the run waits for it')
    .argument('<run>', 'run id')
    .argument('<name>', 'signal name')
    .option('--data <json>', 'signal payload as JSON')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print the outcome as JSON')
    .action(async (runId: string, name: string, flags: SignalFlags) => {
      const payload = parseJsonOption(flags.data, '--data');
      await withEngine(flags, {}, async (engine) => {
        await engine.signal(runId, name, payload);
      });
      if (flags.json) printJson({ runId, signal: name, sent: true });
      else process.stdout.write(`sent signal '${name}' to run '${runId}'\n`);
    });
}
