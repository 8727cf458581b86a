import type { Command } from 'commander';
import { Engine, type RunStatus } from '../../index.js';
import { isTerminal } from '../../core/types.js';
import { DB_HELP, storeLocation } from '../args.js';
import { UsageError } from '../errors.js';
import { loadWorkflows } from '../load-workflows.js';
import { waitForStop } from '../stop-signal.js';
import { printableLocation } from '../../store/open.js';
import { processLogger } from '../logger.js';
import {
  AMQP_HELP,
  DEV_HELP,
  NATS_HELP,
  parseEventFlags,
  parseRetention,
  parseWorkerId,
  RETENTION_HELP,
  WORKER_ID_HELP,
} from '../worker-flags.js';

/** The flags of `waymark dev`. */
export interface DevFlags {
  db?: string;
  workflows?: string;
  examples?: boolean;
  workerId?: string;
  retentionDays?: string;
  dev?: boolean;
  nats?: string;
  amqp?: string;
}

export function devCommand(program: Command): void {
  program
    .command('dev')
    .description('run a worker that executes the runs of the given workflows until stopped (Ctrl-C)')
    .option('--db <store>', DB_HELP)
    .option('--workflows <module>', 'module exporting the workflows to serve')
    .option('--examples', 'serve the built-in example workflows (order, onboarding, report, rollout) as well')
    .option('--worker-id <id>', WORKER_ID_HELP)
    .option('--retention-days <n>', RETENTION_HELP)
    .option('--dev', DEV_HELP)
    .option('--nats <url>', NATS_HELP)
    .option('--amqp <url>', AMQP_HELP)
    .action((flags: DevFlags) => devWorker(flags, waitForStop));
}

/**
 * Runs `waymark dev` until the promise `untilStop` gives once the worker is up resolves (SIGINT/SIGTERM from the
 * command line; anything in tests).
 */
export async function devWorker(flags: DevFlags, untilStop: () => Promise<string>): Promise<void> {
  // Everything the user typed is checked before the store is touched.
  if (flags.workflows === undefined && !flags.examples)
    throw new UsageError(
      'dev needs workflows to serve: give --workflows <module> (or --examples for the built-in examples)',
    );
  const workerId = parseWorkerId(flags.workerId);
  const retention = parseRetention(flags.retentionDays);
  const events = parseEventFlags(flags);
  const location = storeLocation(flags);
  const workflows = await loadWorkflows(flags.workflows, { examples: flags.examples });
  const engine = await Engine.open({
    store: location,
    workflows,
    workerId,
    retention,
    devMode: flags.dev === true,
    // Like the server's worker, it runs the stored event handlers on the queues it can reach.
    events: { ...events, consumeHandlers: true },
    logger: processLogger('info'),
  });
  const served = workflows.map((w) => `${w.name} v${w.version}`).join(', ');

  const last = new Map<string, RunStatus>();
  engine.subscribe((change) => {
    if (!change.status || last.get(change.runId) === change.status) return;
    last.set(change.runId, change.status);
    if (isTerminal(change.status)) last.delete(change.runId);
    process.stdout.write(`${new Date().toISOString()} run ${change.runId} ${change.status}\n`);
  });

  const stop = untilStop();
  process.stdout.write(
    `waymark dev: worker ${engine.workerId} serving ${served} on ${printableLocation(location)} (Ctrl-C to stop)\n`,
  );
  const signal = await stop;
  process.stdout.write(`waymark dev: ${signal}: finishing in-flight commits and releasing leases\n`);
  await engine.close();
  process.stdout.write('waymark dev: stopped\n');
}
