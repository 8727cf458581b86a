/** The `waymark` command's commander program, built without parsing anything (main.ts parses; tests list it). */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { conductorTaskCommand } from './commands/conductor-task.js';
import { conductorWorkflowCommand } from './commands/conductor-workflow.js';
import { demoCommand } from './commands/demo.js';
import { deployCommand } from './commands/deploy.js';
import { devCommand } from './commands/dev.js';
import { historyCommand } from './commands/history.js';
import { keysCommand } from './commands/keys.js';
import { migrateCommand } from './commands/migrate.js';
import { rolloutCommand } from './commands/rollout.js';
import { runsCommand } from './commands/runs.js';
import { schedulesCommand } from './commands/schedules.js';
import { serverCommand } from './commands/server.js';
import { signalCommand } from './commands/signal.js';
import { startCommand } from './commands/start.js';
import { versionsCommand } from './commands/versions.js';

/** A new `waymark` program with every command; usage errors throw (exitOverride) instead of exiting. */
export function buildProgram(): Command {
  const program = new Command('waymark')
    .description('Waymark: durable workflows for TypeScript')
    .version(packageVersion(), '-V, --version')
    .enablePositionalOptions() // so `start --version <n>` is the run's version, not the CLI's
    .exitOverride(); // usage errors exit 2 (see reportError)

  devCommand(program);
  startCommand(program);
  signalCommand(program);
  runsCommand(program);
  serverCommand(program);
  versionsCommand(program);
  schedulesCommand(program);
  deployCommand(program);
  historyCommand(program);
  rolloutCommand(program);
  migrateCommand(program);
  demoCommand(program);
  conductorTaskCommand(program);
  conductorWorkflowCommand(program);
  keysCommand(program);
  return program;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
      .version;
  } catch {
    return 'unknown';
  }
}
