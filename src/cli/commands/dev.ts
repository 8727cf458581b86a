import type { Command } from 'commander';
import { Engine, type RunStatus } from '../../index.js';
import { isTerminal } from '../../core/types.js';
import { DB_HELP, storeLocation } from '../args.js';
import { loadWorkflows } from '../load-workflows.js';

interface DevFlags {
  db?: string;
  workflows?: string;
}

export function devCommand(program: Command): void {
  program
    .command('dev')
    .description('run a worker that executes the runs of the given workflows until stopped (Ctrl-C)')
    .option('--db <store>', DB_HELP)
    .option('--workflows <module>', 'module exporting the workflows to serve (default: the examples)')
    .action(async (flags: DevFlags) => {
      const location = storeLocation(flags);
      const workflows = await loadWorkflows(flags.workflows);
      const engine = await Engine.open({ store: location, workflows });
      const served = workflows.map((w) => `${w.name} v${w.version}`).join(', ');

      const last = new Map<string, RunStatus>();
      engine.subscribe((change) => {
        if (!change.status || last.get(change.runId) === change.status) return;
        last.set(change.runId, change.status);
        if (isTerminal(change.status)) last.delete(change.runId);
        process.stdout.write(`${new Date().toISOString()} run ${change.runId} ${change.status}\n`);
      });

      const stop = waitForStop();
      process.stdout.write(`waymark dev: worker ${engine.workerId} serving ${served} on ${location} (Ctrl-C to stop)\n`);
      const signal = await stop;
      process.stdout.write(`waymark dev: ${signal}: finishing in-flight commits and releasing leases\n`);
      await engine.close();
      process.stdout.write('waymark dev: stopped\n');
    });
}

/** Resolves on the first SIGINT or SIGTERM, keeping the process alive until then; a second one exits at once. */
function waitForStop(): Promise<NodeJS.Signals> {
  const keepAlive = setInterval(() => {}, 1 << 30);
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      clearInterval(keepAlive);
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
