import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { tempDb, tempDir } from '../helpers.js';
import { cli, spawnCli, type CliResult } from './cli-process.js';

const FIXTURES = 'test/fixtures/conductor';
const TASK_TYPE = 'cli_demo_greet';

let url = '';
let stopServer: () => Promise<void> = async () => {};

/** A real `waymark server` on a free port and a fresh SQLite file, for every test of this file. */
before(async () => {
  const db = tempDb();
  const child = spawnCli(['server', '--port', '0', '--db', `sqlite:${db}`, '--examples', '--log-level', 'warn']);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const found = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
      if (found) resolve(found);
    });
    void exited.then(([code]) =>
      reject(new Error(`waymark server exited (${code}) before listening\n${stdout}\n${stderr}`)),
    );
  });
  stopServer = async () => {
    child.kill('SIGINT');
    await exited;
  };
});
after(() => stopServer());

/** Runs the CLI against the test server. */
const waymark = (...args: string[]) => cli([...args, '--server', url]);

/** Runs the CLI against the test server with `--json`, expecting success, and parses its stdout. */
async function waymarkJson<T = any>(...args: string[]): Promise<T> {
  const result = await waymark(...args, '--json');
  assert.equal(result.code, 0, `waymark ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** Asserts success and returns stdout. */
function ok(result: CliResult): string {
  assert.equal(result.code, 0, `exit ${result.code}: ${result.stderr}`);
  assert.equal(result.stderr, '');
  return result.stdout;
}

/** Asserts one `error: ... (CODE)` line on stderr, the exit code and an empty stdout. */
function failed(result: CliResult, exitCode: number, message: RegExp, code = '[A-Z_0-9]+'): void {
  assert.equal(result.code, exitCode, `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
  assert.match(result.stderr, new RegExp(`^error: [^\\n]*\\(${code}\\)\\n$`), result.stderr);
  assert.match(result.stderr, message);
  assert.equal(result.stdout, '');
}

interface PolledTask {
  taskId: string;
  workflowInstanceId: string;
  inputData: Record<string, unknown>;
}

/** Reports `task` COMPLETED over HTTP as a Conductor worker does, greeting its input's `who`. */
async function complete(task: PolledTask, workerId: string): Promise<void> {
  const who = String(task.inputData.who);
  const response = await fetch(`${url}/api/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      workflowInstanceId: task.workflowInstanceId,
      taskId: task.taskId,
      status: 'COMPLETED',
      workerId,
      outputData: { greeting: task.inputData.loud === true ? `HELLO ${who.toUpperCase()}` : `hello ${who}` },
    }),
  });
  assert.equal(response.status, 200, await response.text());
}

/** Polls like a worker until `count` tasks of the demo type are claimed (10 s at most), completing each. */
async function workTasks(count: number, workerId: string): Promise<PolledTask[]> {
  const done: PolledTask[] = [];
  const deadline = Date.now() + 10_000;
  while (done.length < count) {
    assert.ok(Date.now() < deadline, `only ${done.length} of ${count} ${TASK_TYPE} tasks were handed out`);
    const response = await fetch(
      `${url}/api/tasks/poll/batch/${TASK_TYPE}?count=${count - done.length}&timeout=1000&workerid=${workerId}`,
    );
    assert.equal(response.status, 200);
    for (const task of (await response.json()) as PolledTask[]) {
      await complete(task, workerId);
      done.push(task);
    }
  }
  return done;
}

/** Waits (10 s at most) until the execution has `status`, read over HTTP. */
async function statusOf(id: string, status: string): Promise<void> {
  let last = '';
  for (let i = 0; i < 200; i++) {
    last = ((await (await fetch(`${url}/api/workflow/${id}?includeTasks=false`)).json()) as { status: string }).status;
    if (last === status) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`workflow ${id} is ${last}, not ${status}`);
}

test(
  'Conductor verbs against a real server: definitions from files, start with -i and -f, ' +
    'a worker completes the task, status, search, restart --use-latest',
  async () => {
    // Task definitions: created from an array file, updated from a single one.
    assert.equal(
      ok(await waymark('task', 'create', `${FIXTURES}/cli_demo_taskdefs.json`)),
      `registered task definition: ${TASK_TYPE}\n`,
    );
    assert.deepEqual(await waymarkJson('task', 'update', `${FIXTURES}/cli_demo_taskdef_update.json`), {
      updated: [TASK_TYPE],
    });
    const taskDef = await waymarkJson<{ name: string; retryCount: number }>('task', 'get', TASK_TYPE);
    assert.equal(taskDef.name, TASK_TYPE);
    assert.equal(taskDef.retryCount, 1);
    const taskDefs = ok(await waymark('task', 'list'));
    assert.match(taskDefs, /^NAME\s+RETRIES\s+RETRY LOGIC/);
    assert.match(taskDefs, new RegExp(`^${TASK_TYPE}\\s+1\\s+FIXED\\s+1s\\s+none\\s+60s\\s+no limit\\s+greets`, 'm'));

    // A workflow definition, then the same again: 409 from the server, one line, exit 1.
    assert.equal(
      ok(await waymark('workflow', 'create', `${FIXTURES}/cli_demo.json`)),
      'created workflow cli_demo v1\n',
    );
    failed(
      await waymark('workflow', 'create', `${FIXTURES}/cli_demo.json`),
      1,
      /^error: POST \/api\/metadata\/workflow: .*cli_demo/,
    );
    assert.equal(
      ok(await waymark('workflow', 'create', `${FIXTURES}/cli_demo.json`, '--overwrite')),
      'created workflow cli_demo v1\n',
    );

    const shown = ok(await waymark('workflow', 'get', 'cli_demo'));
    assert.match(shown, /^workflow:\s+cli_demo v1$/m);
    assert.match(shown, /^inputs:\s+who$/m);
    assert.match(shown, /^REF\s+TYPE\s+NAME/m);
    assert.match(shown, new RegExp(`^greet\\s+SIMPLE\\s+${TASK_TYPE}$`, 'm'));
    const def = await waymarkJson<{ name: string; version: number; tasks: { taskReferenceName: string }[] }>(
      'workflow',
      'get',
      'cli_demo',
      '1',
    );
    assert.equal(def.name, 'cli_demo');
    assert.equal(def.version, 1);
    assert.deepEqual(
      def.tasks.map((t) => t.taskReferenceName),
      ['greet'],
    );

    // Two starts: input inline (the id alone on stdout) and from a file (--json).
    const inline = ok(await waymark('workflow', 'start', '-w', 'cli_demo', '-i', '{"who":"inline"}')).trim();
    assert.match(inline, /^\S+$/);
    const started = await waymarkJson<{ workflowId: string; workflowName: string; version: number }>(
      'workflow',
      'start',
      '-w',
      'cli_demo',
      '--version',
      '1',
      '-f',
      `${FIXTURES}/cli_demo_input.json`,
    );
    assert.equal(started.workflowName, 'cli_demo');
    assert.equal(started.version, 1);
    const fromFile = started.workflowId;
    assert.notEqual(fromFile, inline);

    // A worker polls and completes both tasks over HTTP.
    const worked = await workTasks(2, 'test-worker');
    assert.deepEqual(worked.map((t) => t.inputData.who).sort(), ['file', 'inline']);
    await statusOf(inline, 'COMPLETED');
    await statusOf(fromFile, 'COMPLETED');

    const status = ok(await waymark('workflow', 'status', inline));
    assert.match(status, new RegExp(`^workflow:\\s+${inline}$`, 'm'));
    assert.match(status, /^name:\s+cli_demo v1$/m);
    assert.match(status, /^status:\s+COMPLETED$/m);
    assert.match(status, /^output:\s+\{"greeting":"hello inline"\}$/m);
    assert.match(status, /^SEQ\s+REF\s+TYPE\s+STATUS\s+RETRIES\s+WORKER/m);
    assert.match(
      status,
      new RegExp(
        `\\bgreet\\s+${TASK_TYPE}\\s+COMPLETED\\s+0\\s+test-worker\\b.*output \\{"greeting":"hello inline"\\}`,
      ),
    );
    const execution = await waymarkJson<{
      workflowId: string;
      status: string;
      output: unknown;
      tasks: { referenceTaskName: string; status: string }[];
    }>('workflow', 'status', fromFile);
    assert.equal(execution.status, 'COMPLETED');
    assert.deepEqual(execution.output, { greeting: 'hello file' });
    assert.deepEqual(
      execution.tasks.map((t) => [t.referenceTaskName, t.status]),
      [['greet', 'COMPLETED']],
    );

    // Search: a table for people, {totalHits, results} for scripts; -w and --status narrow it.
    const listed = ok(await waymark('workflow', 'list', '-w', 'cli_demo'));
    assert.match(listed, /^WORKFLOW ID\s+NAME\s+VERSION\s+STATUS/);
    for (const id of [inline, fromFile]) assert.match(listed, new RegExp(`^${id}\\s+cli_demo\\s+v1\\s+COMPLETED`, 'm'));
    const found = await waymarkJson<{ totalHits: number; results: { workflowId: string }[] }>(
      'workflow',
      'search',
      '-w',
      'cli_demo',
      '--status',
      'completed',
    );
    assert.equal(found.totalHits, 2);
    assert.deepEqual(found.results.map((r) => r.workflowId).sort(), [inline, fromFile].sort());
    const running = await waymarkJson<{ totalHits: number }>(
      'workflow',
      'search',
      '--query',
      'workflowType = cli_demo AND status = RUNNING',
    );
    assert.equal(running.totalHits, 0);

    // Version 2 through `workflow update` (an array file); `get` now shows it, v1 still by number.
    assert.equal(
      ok(await waymark('workflow', 'update', `${FIXTURES}/cli_demo_v2.json`)),
      'updated workflow cli_demo v2\n',
    );
    assert.equal((await waymarkJson<{ version: number }>('workflow', 'get', 'cli_demo')).version, 2);
    assert.equal((await waymarkJson<{ version: number }>('workflow', 'get', 'cli_demo', '1')).version, 1);

    // Restart on the latest definition: same id, v2, its task polled with `waymark task poll`.
    assert.deepEqual(await waymarkJson('workflow', 'restart', inline, '--use-latest'), {
      workflowId: inline,
      workflowName: 'cli_demo',
      version: 2,
      status: 'RUNNING',
    });
    const polled = await waymarkJson<PolledTask[]>(
      'task',
      'poll',
      TASK_TYPE,
      '--wait',
      '5000',
      '--worker-id',
      'cli-worker',
    );
    assert.equal(polled.length, 1);
    assert.equal(polled[0]!.workflowInstanceId, inline);
    assert.deepEqual(polled[0]!.inputData, { who: 'inline', loud: true });
    await complete(polled[0]!, 'cli-worker');
    await statusOf(inline, 'COMPLETED');
    const restarted = await waymarkJson<{ workflowVersion: number; output: unknown }>('workflow', 'status', inline);
    assert.equal(restarted.workflowVersion, 2);
    assert.deepEqual(restarted.output, { greeting: 'HELLO INLINE', version: 2 });
    assert.equal(ok(await waymark('task', 'poll', TASK_TYPE)), `(no ${TASK_TYPE} task ready)\n`);

    // A plain restart keeps its version; terminate ends it.
    assert.equal(ok(await waymark('workflow', 'restart', fromFile)), `restarted ${fromFile}: cli_demo v1, RUNNING\n`);
    assert.equal(
      ok(await waymark('workflow', 'terminate', fromFile, '--reason', 'no longer needed')),
      `terminated ${fromFile}\n`,
    );
    await statusOf(fromFile, 'TERMINATED');
    const terminated = await waymarkJson<{ totalHits: number; results: { workflowId: string }[] }>(
      'workflow',
      'search',
      '--status',
      'TERMINATED',
    );
    assert.deepEqual(
      terminated.results.map((r) => r.workflowId),
      [fromFile],
    );
  },
);

test('what the server refuses is one line on stderr with its message and exit 1', async () => {
  // A code workflow (the server's examples, given with --examples) has no task graph to show.
  assert.match(ok(await waymark('workflow', 'get', 'order')), /^workflow:\s+order v2\n[\s\S]*\n\n\(no task graph\)\n$/);
  failed(
    await waymark('workflow', 'get', 'no_such_workflow'),
    1,
    /^error: GET \/api\/metadata\/workflow\/no_such_workflow: .*no_such_workflow/,
  );
  failed(
    await waymark('workflow', 'status', 'no-such-id'),
    1,
    /^error: GET \/api\/workflow\/no-such-id: .*no-such-id/,
    'E_RUN_NOT_FOUND',
  );
  failed(
    await waymark('workflow', 'start', '-w', 'no_such_workflow'),
    1,
    /^error: POST \/api\/workflow\/no_such_workflow: .*no_such_workflow/,
    'E_UNKNOWN_WORKFLOW',
  );
  failed(await waymark('workflow', 'search', '--query', 'colour = red'), 1, /unknown field 'colour'/, 'E_HTTP_400');

  // A definition the server finds invalid: its validation errors are named.
  const dir = tempDir();
  const invalid = join(dir, 'invalid.json');
  writeFileSync(invalid, JSON.stringify({ name: 'cli_invalid', version: 1, tasks: [] }));
  failed(
    await waymark('workflow', 'create', invalid),
    1,
    /^error: POST \/api\/metadata\/workflow: .*tasks must not be empty/,
  );
});

/** A stand-in server that records every request and answers with a Conductor error body. */
async function recorder(answer: {
  status: number;
  body: unknown;
}): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    requests.push(`${request.method} ${request.url}`);
    response.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test('a bad file or bad option exits 2 before any request is sent', async () => {
  const stand = await recorder({ status: 500, body: { status: 500, message: 'must not be called' } });
  try {
    const dir = tempDir();
    const file = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    const brokenJson = file('broken.json', '{"name": "cli_demo",');
    const noName = file('no-name.json', '{"tasks": []}');
    const array = file('array.json', '[{"name": "a"}, {"name": "b"}]');
    const empty = file('empty.json', '[]');
    const scalar = file('scalar.json', '42');
    const cases: [string[], RegExp][] = [
      [
        ['task', 'create', join(dir, 'missing.json')],
        /cannot read task definition file '.*missing\.json': no such file/,
      ],
      [['task', 'create', brokenJson], /task definition file '.*broken\.json' is not valid JSON/],
      [
        ['task', 'update', scalar],
        /'.*scalar\.json' is not a task definition: expected a JSON object or an array of them/,
      ],
      [['task', 'create', empty], /holds an empty array/],
      [['workflow', 'create', noName], /'.*no-name\.json' is not a workflow definition.*: it has no "name"/],
      [['workflow', 'create', array], /'.*array\.json' holds an array: give one workflow definition/],
      [['workflow', 'update', dir], /cannot read workflow definition file '.*': it is a folder/],
      [['workflow', 'start', '-w', 'cli_demo', '-f', brokenJson], /--file '.*broken\.json' is not valid JSON/],
      [['workflow', 'start', '-w', 'cli_demo', '-i', '{"who":'], /--input is not valid JSON/],
      [
        ['workflow', 'start', '-w', 'cli_demo', '-i', '{}', '-f', array],
        /give the input with -i\/--input or with -f\/--file, not both/,
      ],
      [['workflow', 'start'], /name the workflow to start: -w <name>/],
      [['workflow', 'start', '-w', 'cli_demo', '--version', '0'], /--version must be a positive integer/],
      [['workflow', 'get', 'cli_demo', 'two'], /version must be a positive integer, got 'two'/],
      [['workflow', 'search', '--status', 'SLEEPING'], /unknown status 'SLEEPING'/],
      [['workflow', 'search', '--size', '-1'], /--size must be a whole number/],
      [['task', 'poll', TASK_TYPE, '--count', '0'], /--count must be a positive integer/],
    ];
    for (const [args, message] of cases)
      failed(await cli([...args, '--server', stand.url]), 2, message, 'E_INVALID_INPUT');
    failed(
      await cli(['workflow', 'status', 'x', '--server', 'ftp://example.com']),
      2,
      /--server must be an http:\/\/ or https:\/\/ URL/,
      'E_INVALID_INPUT',
    );
    assert.deepEqual(stand.requests, [], 'nothing was sent');
  } finally {
    await stand.close();
  }
});

test(
  "a server's error body becomes one line naming its validation errors; " +
    '$WAYMARK_SERVER and a /api suffix name the server',
  async () => {
    const stand = await recorder({
      status: 400,
      body: {
        status: 400,
        message: "workflow definition 'cli_demo' is invalid",
        instance: 'test',
        retryable: false,
        validationErrors: [
          { path: 'tasks[0].taskReferenceName', message: 'taskReferenceName is required', invalidValue: null },
          { path: 'timeoutPolicy', message: 'timeoutPolicy must be TIME_OUT_WF or ALERT_ONLY', invalidValue: 'NEVER' },
        ],
      },
    });
    const saved = process.env.WAYMARK_SERVER;
    try {
      process.env.WAYMARK_SERVER = `${stand.url}/api/`;
      const result = await cli(['workflow', 'create', `${FIXTURES}/cli_demo.json`]);
      failed(
        result,
        1,
        new RegExp(
          /^error: POST \/api\/metadata\/workflow: workflow definition 'cli_demo' /.source +
            /is invalid: tasks\[0\]\.taskReferenceName: taskReferenceName is /.source +
            /required; timeoutPolicy must be TIME_OUT_WF or ALERT_ONLY \(E_HTTP_400\)\n$/.source,
        ),
        'E_HTTP_400',
      );
      assert.deepEqual(stand.requests, ['POST /api/metadata/workflow']);
    } finally {
      if (saved === undefined) delete process.env.WAYMARK_SERVER;
      else process.env.WAYMARK_SERVER = saved;
      await stand.close();
    }
  },
);

test('a server that is down: exit 1 with a message naming its URL', async () => {
  // A port nothing listens on: bound, then released.
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const down = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  for (const args of [
    ['workflow', 'status', 'some-id'],
    ['workflow', 'start', '-w', 'cli_demo', '-i', '{}'],
    ['task', 'create', `${FIXTURES}/cli_demo_taskdefs.json`],
  ]) {
    const result = await cli([...args, '--server', down]);
    failed(
      result,
      1,
      new RegExp(
        `^error: cannot reach the Waymark server at ${down.replace(/\./g, '\\.')} ` +
          `\\(connection refused\\): is \`waymark server\` running there\\?`,
      ),
      'E_SERVER_UNREACHABLE',
    );
  }
});
