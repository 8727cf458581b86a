import type { Command } from 'commander';
import { parseJsonOption, parsePositiveInt, readJsonFile } from '../args.js';
import { UsageError } from '../errors.js';
import { compact, duration, printJson, table, time } from '../format.js';
import {
  definitionsIn,
  isJsonObject,
  KEY_HELP,
  SERVER_HELP,
  ServerClient,
  ServerError,
  type ServerOptions,
} from '../server-client.js';

interface Flags extends ServerOptions {
  json?: boolean;
}

interface StartFlags extends Flags {
  workflow?: string;
  version?: string;
  input?: string;
  file?: string;
  correlationId?: string;
}

interface SearchFlags extends Flags {
  workflow?: string;
  status?: string;
  query?: string;
  freeText?: string;
  start?: string;
  size?: string;
  sort?: string;
}

const WORKFLOW_STATUSES = ['RUNNING', 'COMPLETED', 'FAILED', 'TIMED_OUT', 'TERMINATED', 'PAUSED'];

/**
 * `waymark workflow ...`: Conductor-style verbs for workflow definitions and executions, sent to a server's
 * Conductor-compatible API under /api. (`waymark start` and `waymark runs` are Waymark's own verbs.)
 */
export function conductorWorkflowCommand(program: Command): void {
  const workflow = program
    .command('workflow')
    .description(
      'workflow definitions and executions on a server, Conductor style (create, ' +
        'update, get, start, status, search, restart, terminate)',
    );

  workflow
    .command('create')
    .description(
      'register a workflow definition from a JSON file holding one WorkflowDef; ' +
        'refused when that name and version exist (POST /api/metadata/workflow)',
    )
    .argument('<file>', 'JSON file: one WorkflowDef')
    .option('--overwrite', 'replace that version when it exists (refused while it has executions)')
    .option('--server <url>', SERVER_HELP)
    .option('--key <key>', KEY_HELP)
    .option('--json', 'print the version created as JSON')
    .action(async (file: string, flags: Flags & { overwrite?: boolean }) => {
      const [def] = definitionsIn(
        readJsonFile(file, 'workflow definition file'),
        file,
        'workflow definition (use `workflow update` for an array)',
        false,
      );
      await ServerClient.of(flags).request('POST', '/metadata/workflow', {
        query: { overwrite: flags.overwrite ? true : undefined },
        body: def,
      });
      const created = nameVersion(def!);
      if (flags.json) printJson({ created: [created] });
      else process.stdout.write(`created workflow ${created.name} v${created.version}\n`);
    });

  workflow
    .command('update')
    .description(
      'create or update workflow definitions from a JSON file ' +
        'holding one WorkflowDef or an array (PUT /api/metadata/workflow)',
    )
    .argument('<file>', 'JSON file: a WorkflowDef or an array of WorkflowDefs')
    .option('--server <url>', SERVER_HELP)
    .option('--key <key>', KEY_HELP)
    .option('--json', 'print the versions updated as JSON')
    .action(async (file: string, flags: Flags) => {
      const defs = definitionsIn(readJsonFile(file, 'workflow definition file'), file, 'workflow definition', true);
      const answer = await ServerClient.of(flags).request('PUT', '/metadata/workflow', { body: defs });
      const refused = bulkErrors(answer);
      const updated = defs
        .map(nameVersion)
        .filter(
          (d) =>
            !refused.some(
              ([key]) => key === d.name || key === `${d.name}:${d.version}` || key === `${d.name}/${d.version}`,
            ),
        );
      if (flags.json) printJson({ updated, ...(refused.length > 0 ? { refused: Object.fromEntries(refused) } : {}) });
      else if (updated.length > 0)
        process.stdout.write(`updated ${updated.map((d) => `workflow ${d.name} v${d.version}`).join(', ')}\n`);
      if (refused.length > 0) {
        throw new ServerError(
          `PUT /api/metadata/workflow: refused ${refused.map(([key, why]) => `${key}: ${why}`).join('; ')}`,
          'E_DEFINITION_REFUSED',
          200,
          answer,
        );
      }
    });

  workflow
    .command('get')
    .description(
      'show a workflow definition, the latest version unless one is given (GET /api/metadata/workflow/{name})',
    )
    .argument('<name>', 'workflow name')
    .argument('[version]', 'version (default: the latest)')
    .option('--server <url>', SERVER_HELP)
    .option('--key <key>', KEY_HELP)
    .option('--json', 'print the WorkflowDef as JSON')
    .action(async (name: string, version: string | undefined, flags: Flags) => {
      const v = parsePositiveInt(version, 'version');
      const def = (await ServerClient.of(flags).request('GET', `/metadata/workflow/${encodeURIComponent(name)}`, {
        query: { version: v },
      })) as WorkflowDefJson;
      if (flags.json) printJson(def);
      else process.stdout.write(`${definitionText(def)}\n`);
    });

  workflow
    .command('start')
    .description('start an execution of a workflow; prints its id (POST /api/workflow/{name})')
    .argument('[name]', 'workflow name (or -w)')
    .option('-w, --workflow <name>', 'workflow name')
    .option('--version <n>', 'version to run (default: the latest)')
    .option('-i, --input <json>', 'input as JSON (default: {})')
    .option('-f, --file <file>', 'JSON file holding the input')
    .option('--correlation-id <id>', 'correlation id sent with the start')
    .option('--server <url>', SERVER_HELP)
    .option('--key <key>', KEY_HELP)
    .option('--json', 'print the workflow id as JSON')
    .action(async (positional: string | undefined, flags: StartFlags) => {
      const name = workflowName(positional, flags.workflow);
      const version = parsePositiveInt(flags.version, '--version');
      if (flags.input !== undefined && flags.file !== undefined)
        throw new UsageError('give the input with -i/--input or with -f/--file, not both');
      const input =
        flags.file !== undefined ? readJsonFile(flags.file, '--file') : (parseJsonOption(flags.input, '--input') ?? {});
      const id = await ServerClient.of(flags).request('POST', `/workflow/${encodeURIComponent(name)}`, {
        query: { version, correlationId: flags.correlationId },
        body: input,
      });
      if (typeof id !== 'string' || id === '')
        throw new ServerError(`POST /api/workflow/${name}: the server answered no workflow id`, 'E_HTTP_200', 200, id);
      if (flags.json) printJson({ workflowId: id, workflowName: name, ...(version !== undefined ? { version } : {}) });
      else process.stdout.write(`${id}\n`);
    });

  workflow
    .command('status')
    .description('show a workflow execution and its tasks (GET /api/workflow/{id})')
    .argument('<id>', 'workflow id')
    .option('--server <url>', SERVER_HELP)
    .option('--key <key>', KEY_HELP)
    .option('--json', 'print the Workflow (with its tasks) as JSON')
    .action(async (id: string, flags: Flags) => {
      const found = (await ServerClient.of(flags).request('GET', `/workflow/${encodeURIComponent(id)}`, {
        query: { includeTasks: true },
      })) as WorkflowJson;
      if (flags.json) printJson(found);
      else process.stdout.write(`${executionText(found)}\n`);
    });

  workflow
    .command('search')
    .alias('list')
    .description('find workflow executions, most recent first (GET /api/workflow/search)')
    .option('-w, --workflow <name>', 'only executions of this workflow (comma-separated for several)')
    .option('--status <status>', `only executions in this status (comma-separated): ${WORKFLOW_STATUSES.join(', ')}`)
    .option('--query <query>', 'search query, e.g. "workflowType IN (a,b) AND status IN (RUNNING)"')
    .option('--free-text <text>', 'only executions whose id, name, input or output contains this')
    .option('--start <n>', 'skip this many results (default: 0)')
    .option('--size <n>', 'at most this many results (default: 100)')
    .option('--sort <field:dir>', 'order, e.g. startTime:ASC (default: startTime:DESC)')
    .option('--server <url>', SERVER_HELP)
    .option('--key <key>', KEY_HELP)
    .option('--json', 'print the search result {totalHits, results} as JSON')
    .action(async (flags: SearchFlags) => {
      const start = parseCount(flags.start, '--start');
      const size = parseCount(flags.size, '--size');
      const query = searchQuery(flags);
      if (flags.sort !== undefined && !/^\w+(:(ASC|DESC))?$/i.test(flags.sort))
        throw new UsageError(`--sort must look like field:ASC or field:DESC, got '${flags.sort}'`);
      const found = (await ServerClient.of(flags).request('GET', '/workflow/search', {
        query: { query, freeText: flags.freeText, start, size, sort: flags.sort ?? 'startTime:DESC' },
      })) as SearchResult;
      if (flags.json) return printJson(found);
      process.stdout.write(`${searchText(found, start ?? 0)}\n`);
    });

  workflow
    .command('restart')
    .description('restart a finished workflow execution from the beginning, same id (POST /api/workflow/{id}/restart)')
    .argument('<id>', 'workflow id')
    .option('--use-latest', 'run it on the latest version of its definition')
    .option('--server <url>', SERVER_HELP)
    .option('--key <key>', KEY_HELP)
    .option('--json', 'print the restarted workflow (id, name, version, status) as JSON')
    .action(async (id: string, flags: Flags & { useLatest?: boolean }) => {
      const client = ServerClient.of(flags);
      await client.request('POST', `/workflow/${encodeURIComponent(id)}/restart`, {
        query: { useLatestDefinitions: flags.useLatest === true },
      });
      const now = (await client.request('GET', `/workflow/${encodeURIComponent(id)}`, {
        query: { includeTasks: false },
      })) as WorkflowJson;
      const version = now.workflowVersion ?? now.version;
      if (flags.json) return printJson({ workflowId: id, workflowName: now.workflowName, version, status: now.status });
      process.stdout.write(
        `restarted ${id}: ` +
          `${now.workflowName} v${version}${flags.useLatest ? ' (latest definition)' : ''}, ${now.status}\n`,
      );
    });

  workflow
    .command('terminate')
    .description('terminate a running workflow execution; its pending tasks are cancelled (DELETE /api/workflow/{id})')
    .argument('<id>', 'workflow id')
    .option('--reason <text>', 'why, recorded with the termination')
    .option('--server <url>', SERVER_HELP)
    .option('--key <key>', KEY_HELP)
    .option('--json', 'print the outcome as JSON')
    .action(async (id: string, flags: Flags & { reason?: string }) => {
      await ServerClient.of(flags).request('DELETE', `/workflow/${encodeURIComponent(id)}`, {
        query: { reason: flags.reason },
      });
      if (flags.json) printJson({ workflowId: id, terminated: true });
      else process.stdout.write(`terminated ${id}\n`);
    });
}

interface WorkflowTaskJson {
  name?: string;
  taskReferenceName?: string;
  type?: string;
  decisionCases?: Record<string, WorkflowTaskJson[]>;
  defaultCase?: WorkflowTaskJson[];
  forkTasks?: WorkflowTaskJson[][];
  loopOver?: WorkflowTaskJson[];
  optional?: boolean;
}

interface WorkflowDefJson {
  name: string;
  version?: number;
  description?: string;
  tasks?: WorkflowTaskJson[];
  inputParameters?: string[];
  outputParameters?: Record<string, unknown>;
  restartable?: boolean;
  timeoutSeconds?: number;
  timeoutPolicy?: string;
  failureWorkflow?: string;
  ownerEmail?: string;
}

interface TaskJson {
  seq?: number;
  referenceTaskName?: string;
  taskType?: string;
  status?: string;
  retryCount?: number;
  workerId?: string;
  startTime?: number;
  endTime?: number;
  scheduledTime?: number;
  inputData?: unknown;
  outputData?: unknown;
  reasonForIncompletion?: string;
}

interface WorkflowJson {
  workflowId: string;
  workflowName: string;
  workflowVersion?: number;
  version?: number;
  status: string;
  correlationId?: string;
  reasonForIncompletion?: string;
  input?: unknown;
  output?: unknown;
  startTime?: number;
  endTime?: number;
  tasks?: TaskJson[];
}

interface SearchResult {
  totalHits: number;
  results: {
    workflowId: string;
    workflowType: string;
    version: number;
    status: string;
    startTime?: string;
    endTime?: string;
    reasonForIncompletion?: string;
  }[];
}

function nameVersion(def: Record<string, unknown>): { name: string; version: number } {
  return { name: def.name as string, version: typeof def.version === 'number' ? def.version : 1 };
}

/** The workflow name from the positional argument or -w (one of them, the same when both). */
function workflowName(positional: string | undefined, option: string | undefined): string {
  if (positional !== undefined && option !== undefined && positional !== option)
    throw new UsageError(`two workflow names given: '${positional}' and -w '${option}'`);
  const name = (positional ?? option ?? '').trim();
  if (name === '') throw new UsageError('name the workflow to start: -w <name>');
  return name;
}

/** A count option that may be 0 (`--start`). */
function parseCount(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(Number(value)))
    throw new UsageError(`${flag} must be a whole number, got '${value}'`);
  return Number(value);
}

/** The search query: -w and --status as clauses, ANDed with --query. */
function searchQuery(flags: SearchFlags): string | undefined {
  const clauses: string[] = [];
  const list = (value: string | undefined, flag: string) => {
    const items = (value ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (value !== undefined && items.length === 0) throw new UsageError(`${flag} needs a value`);
    return items;
  };
  const names = list(flags.workflow, '--workflow');
  if (names.length > 0) clauses.push(`workflowType IN (${names.join(',')})`);
  const statuses = list(flags.status, '--status').map((s) => s.toUpperCase());
  for (const status of statuses) {
    if (!WORKFLOW_STATUSES.includes(status))
      throw new UsageError(`unknown status '${status}': use one of ${WORKFLOW_STATUSES.join(', ')}`);
  }
  if (statuses.length > 0) clauses.push(`status IN (${statuses.join(',')})`);
  if (flags.query !== undefined && flags.query.trim() !== '')
    clauses.push(clauses.length > 0 ? `(${flags.query})` : flags.query);
  return clauses.length > 0 ? clauses.join(' AND ') : undefined;
}

/** The refusals of a bulk answer `{bulkErrorResults: {key: message}}` (none when the answer is empty). */
function bulkErrors(answer: unknown): [string, string][] {
  if (!isJsonObject(answer) || !isJsonObject(answer.bulkErrorResults)) return [];
  return Object.entries(answer.bulkErrorResults).map(([key, why]) => [key, String(why)]);
}

/** `label: value` lines, leaving out the empty ones. */
function labelled(lines: [string, string | undefined][]): string {
  const shown = lines.filter((line): line is [string, string] => line[1] !== undefined && line[1] !== '');
  const width = Math.max(...shown.map(([label]) => label.length)) + 1;
  return shown.map(([label, value]) => `${`${label}:`.padEnd(width)} ${value}`).join('\n');
}

/** A workflow definition: its settings, then its tasks in order (nested ones under the task that holds them). */
function definitionText(def: WorkflowDefJson): string {
  const rows: string[][] = [];
  const walk = (tasks: WorkflowTaskJson[] | undefined, within: string) => {
    for (const task of tasks ?? []) {
      const ref = task.taskReferenceName ?? '';
      rows.push([ref, task.type ?? 'SIMPLE', task.name ?? '', within, task.optional ? 'optional' : '']);
      for (const [value, branch] of Object.entries(task.decisionCases ?? {})) walk(branch, `${ref} case ${value}`);
      walk(task.defaultCase, `${ref} default`);
      for (const [i, branch] of (task.forkTasks ?? []).entries()) walk(branch, `${ref} branch ${i + 1}`);
      walk(task.loopOver, `${ref} loop`);
    }
  };
  walk(def.tasks, '');
  const header = labelled([
    ['workflow', `${def.name} v${def.version ?? 1}`],
    ['description', def.description],
    ['inputs', def.inputParameters?.length ? def.inputParameters.join(', ') : undefined],
    [
      'outputs',
      def.outputParameters && Object.keys(def.outputParameters).length > 0 ? compact(def.outputParameters) : undefined,
    ],
    ['restartable', def.restartable === false ? 'no' : 'yes'],
    ['timeout', def.timeoutSeconds ? `${def.timeoutSeconds}s (${def.timeoutPolicy ?? 'ALERT_ONLY'})` : 'none'],
    ['on failure', def.failureWorkflow],
    ['owner', def.ownerEmail],
  ]);
  if (rows.length === 0) return `${header}\n\n(no task graph)`;
  return `${header}\n\n${table(['ref', 'type', 'name', 'within', 'flags'], rows)}`;
}

/** A workflow execution: what it is and how it ended, then a table of its tasks. */
function executionText(w: WorkflowJson): string {
  const ended = w.endTime ? w.endTime : undefined;
  const header = labelled([
    ['workflow', w.workflowId],
    ['name', `${w.workflowName} v${w.workflowVersion ?? w.version}`],
    ['status', w.status],
    ['correlation id', w.correlationId],
    ['reason', w.reasonForIncompletion],
    ['input', compact(w.input ?? {})],
    [
      'output',
      w.status === 'COMPLETED' || (isJsonObject(w.output) && Object.keys(w.output).length > 0)
        ? compact(w.output ?? {})
        : undefined,
    ],
    ['started', w.startTime ? time(new Date(w.startTime)) : undefined],
    ['ended', ended ? `${time(new Date(ended))} (after ${duration(ended - (w.startTime ?? ended))})` : undefined],
  ]);
  const tasks = w.tasks ?? [];
  if (tasks.length === 0) return `${header}\n\n(no tasks)`;
  const rows = tasks.map((t) => [
    t.seq === undefined ? '' : String(t.seq),
    t.referenceTaskName ?? '',
    t.taskType ?? '',
    t.status ?? '',
    String(t.retryCount ?? 0),
    t.workerId ?? '',
    t.startTime ? time(new Date(t.startTime)) : '',
    t.startTime && t.endTime ? duration(t.endTime - t.startTime) : '',
    taskDetail(t),
  ]);
  const columns = ['seq', 'ref', 'type', 'status', 'retries', 'worker', 'started', 'took', 'detail'];
  return `${header}\n\n${table(columns, rows)}`;
}

function taskDetail(t: TaskJson): string {
  if (t.reasonForIncompletion) return t.reasonForIncompletion;
  if (t.status === 'COMPLETED' || t.status === 'COMPLETED_WITH_ERRORS') return `output ${compact(t.outputData ?? {})}`;
  return isJsonObject(t.inputData) && Object.keys(t.inputData).length > 0 ? `input ${compact(t.inputData)}` : '';
}

function searchText(found: SearchResult, start: number): string {
  if (found.results.length === 0)
    return found.totalHits > 0
      ? `(no executions from ${start}: ${found.totalHits} in all)`
      : '(no workflow executions)';
  const when = (iso: string | undefined) => (iso ? time(new Date(iso)) : '');
  const rows = found.results.map((r) => [
    r.workflowId,
    r.workflowType,
    `v${r.version}`,
    r.status,
    when(r.startTime),
    when(r.endTime),
    r.reasonForIncompletion ?? '',
  ]);
  const shown = table(['workflow id', 'name', 'version', 'status', 'started', 'ended', 'reason'], rows);
  return found.totalHits > found.results.length
    ? `${shown}\n(${found.results.length} of ${found.totalHits} shown: use --start and --size for more)`
    : shown;
}
