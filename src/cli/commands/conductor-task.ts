import type { Command } from 'commander';
import { parsePositiveInt, readJsonFile } from '../args.js';
import { UsageError } from '../errors.js';
import { compact, printJson, table } from '../format.js';
import { definitionsIn, KEY_HELP, SERVER_HELP, ServerClient, type ServerOptions } from '../server-client.js';

interface TaskFlags extends ServerOptions {
  json?: boolean;
}

interface PollFlags extends TaskFlags {
  count?: string;
  workerId?: string;
  wait?: string;
}

/** Longest `task poll --wait`, in ms (the server's long-poll limit is of the same order). */
const MAX_POLL_WAIT_MS = 10_000;

/**
 * `waymark task ...`: Conductor-style verbs for task definitions and tasks, sent to a server's Conductor-compatible
 * API (POST/PUT /api/metadata/taskdefs, GET /api/metadata/taskdefs, GET /api/tasks/poll/batch/{type}).
 */
export function conductorTaskCommand(program: Command): void {
  const task = program
    .command('task')
    .description('task definitions and tasks on a server, Conductor style (create, update, get, list, poll)');

  task
    .command('create')
    .description(
      'register task definitions from a JSON file holding one ' +
        'TaskDef or an array of them (POST /api/metadata/taskdefs)',
    )
    .argument('<file>', 'JSON file: a TaskDef or an array of TaskDefs')
    .option('--server <url>', SERVER_HELP)
    .option('--key <key>', KEY_HELP)
    .option('--json', 'print the names registered as JSON')
    .action(async (file: string, flags: TaskFlags) => {
      const defs = definitionsIn(readJsonFile(file, 'task definition file'), file, 'task definition', true);
      const client = ServerClient.of(flags);
      await client.request('POST', '/metadata/taskdefs', { body: defs });
      printNames('registered', defs, flags);
    });

  task
    .command('update')
    .description(
      'update (or create) task definitions from a JSON file holding ' +
        'one TaskDef or an array of them (PUT /api/metadata/taskdefs)',
    )
    .argument('<file>', 'JSON file: a TaskDef or an array of TaskDefs')
    .option('--server <url>', SERVER_HELP)
    .option('--key <key>', KEY_HELP)
    .option('--json', 'print the names updated as JSON')
    .action(async (file: string, flags: TaskFlags) => {
      const defs = definitionsIn(readJsonFile(file, 'task definition file'), file, 'task definition', true);
      const client = ServerClient.of(flags);
      for (const def of defs) await client.request('PUT', '/metadata/taskdefs', { body: def });
      printNames('updated', defs, flags);
    });

  task
    .command('get')
    .description('show one task definition (GET /api/metadata/taskdefs/{name})')
    .argument('<name>', 'task definition name (the task type)')
    .option('--server <url>', SERVER_HELP)
    .option('--key <key>', KEY_HELP)
    .option('--json', 'print the TaskDef as JSON')
    .action(async (name: string, flags: TaskFlags) => {
      const def = await ServerClient.of(flags).request('GET', `/metadata/taskdefs/${encodeURIComponent(name)}`);
      if (flags.json) printJson(def);
      else process.stdout.write(`${taskDefsTable([def as TaskDefJson])}\n`);
    });

  task
    .command('list')
    .description('list the task definitions (GET /api/metadata/taskdefs)')
    .option('--server <url>', SERVER_HELP)
    .option('--key <key>', KEY_HELP)
    .option('--json', 'print the TaskDefs as a JSON array')
    .action(async (flags: TaskFlags) => {
      const defs = ((await ServerClient.of(flags).request('GET', '/metadata/taskdefs')) ?? []) as TaskDefJson[];
      if (flags.json) printJson(defs);
      else process.stdout.write(`${defs.length === 0 ? '(no task definitions)' : taskDefsTable(defs)}\n`);
    });

  task
    .command('poll')
    .description(
      'claim tasks of a type as a worker would (GET /api/tasks/poll/batch/{type}): ' +
        'they become IN_PROGRESS and must be reported',
    )
    .argument('<type>', 'task type (task definition name)')
    .option('--count <n>', 'claim at most this many tasks (default: 1)')
    .option('--worker-id <id>', 'worker identity recorded on the tasks (default: waymark-cli)')
    .option(
      '--wait <ms>',
      `wait up to this long for a task when none is ready, at most ${MAX_POLL_WAIT_MS} (default: 100)`,
    )
    .option('--server <url>', SERVER_HELP)
    .option('--key <key>', KEY_HELP)
    .option('--json', 'print the tasks as a JSON array')
    .action(async (type: string, flags: PollFlags) => {
      const count = parsePositiveInt(flags.count, '--count') ?? 1;
      const wait = flags.wait === undefined ? 100 : parseWait(flags.wait);
      if (flags.workerId !== undefined && flags.workerId.trim() === '')
        throw new UsageError('--worker-id needs a value');
      const client = ServerClient.of(flags);
      const tasks = ((await client.request('GET', `/tasks/poll/batch/${encodeURIComponent(type)}`, {
        query: { count, timeout: wait, workerid: flags.workerId ?? 'waymark-cli' },
      })) ?? []) as PolledTask[];
      if (flags.json) return printJson(tasks);
      if (tasks.length === 0) return void process.stdout.write(`(no ${type} task ready)\n`);
      process.stdout.write(
        `${table(
          ['task', 'workflow', 'ref', 'status', 'input'],
          tasks.map((t) => [
            t.taskId,
            t.workflowInstanceId,
            t.referenceTaskName ?? '',
            t.status,
            compact(t.inputData ?? {}),
          ]),
        )}\n`,
      );
    });
}

interface TaskDefJson {
  name: string;
  retryCount?: number;
  retryLogic?: string;
  retryDelaySeconds?: number;
  timeoutSeconds?: number;
  responseTimeoutSeconds?: number;
  concurrentExecLimit?: number;
  description?: string;
}

interface PolledTask {
  taskId: string;
  workflowInstanceId: string;
  referenceTaskName?: string;
  status: string;
  inputData?: unknown;
}

function taskDefsTable(defs: TaskDefJson[]): string {
  const num = (n: number | undefined, unit = '') => (typeof n === 'number' ? `${n}${unit}` : '');
  return table(
    ['name', 'retries', 'retry logic', 'retry delay', 'timeout', 'response timeout', 'concurrency', 'description'],
    defs.map((d) => [
      d.name,
      num(d.retryCount),
      d.retryLogic ?? '',
      num(d.retryDelaySeconds, 's'),
      d.timeoutSeconds ? `${d.timeoutSeconds}s` : 'none',
      num(d.responseTimeoutSeconds, 's'),
      d.concurrentExecLimit ? String(d.concurrentExecLimit) : 'no limit',
      d.description ?? '',
    ]),
  );
}

function printNames(done: 'registered' | 'updated', defs: Record<string, unknown>[], flags: TaskFlags): void {
  const names = defs.map((d) => d.name as string);
  if (flags.json) {
    printJson({ [done]: names });
    return;
  }
  process.stdout.write(
    `${done} ${names.length === 1 ? 'task definition' : `${names.length} task definitions`}: ${names.join(', ')}\n`,
  );
}

function parseWait(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) > MAX_POLL_WAIT_MS)
    throw new UsageError(`--wait must be a number of ms from 0 to ${MAX_POLL_WAIT_MS}, got '${value}'`);
  return Number(value);
}
