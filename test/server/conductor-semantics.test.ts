import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { MetadataClient, orkesConductorClient, WorkflowExecutor } from '@io-orkes/conductor-javascript';
import { Engine } from '../../src/index.js';
import { startServer } from '../../src/server/server.js';
import { forEachBackend, runUntil } from '../helpers.js';

/** A service HTTP tasks call: /fail answers 400 (not retried), anything else 200 `{ ok: true }`. */
let service: Server;
let base = '';
before(async () => {
  service = createServer((request, response) => {
    const failing = request.url === '/fail';
    response.writeHead(failing ? 400 : 200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(failing ? { error: 'no' } : { ok: true }));
  });
  await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => service.close(() => resolve())));

const http = (name: string, ref: string, path: string, extra: Record<string, unknown> = {}) => ({
  name,
  taskReferenceName: ref,
  type: 'HTTP',
  inputParameters: { http_request: { uri: `${base}${path}`, method: 'GET' } },
  ...extra,
});

const defs = () => [
  {
    name: 'http_semantics',
    version: 1,
    tasks: [
      http('maybe_call', 'maybe', '/fail', { optional: true }),
      http('callback_call', 'callback', '/ok', { asyncComplete: true }),
      { name: 'after_http', taskReferenceName: 'after', inputParameters: { got: '${callback.output.token}' } },
    ],
  },
  { name: 'http_failing', version: 1, tasks: [http('strict_call', 'strict', '/fail')] },
  {
    name: 'slow_one',
    version: 1,
    tasks: [
      {
        name: 'slow_task',
        taskReferenceName: 'slow',
        taskDefinition: { retryCount: 0, responseTimeoutSeconds: 1, timeoutSeconds: 0 },
      },
    ],
  },
  {
    name: 'flaky_one',
    version: 1,
    tasks: [{ name: 'flaky_task', taskReferenceName: 'flaky', taskDefinition: { retryCount: 0 } }],
  },
];

type Tasks = { referenceTaskName: string; status: string; [key: string]: unknown }[];

forEachBackend((backend) => {
  test(
    'Conductor semantics: an optional HTTP failure is COMPLETED_WITH_ERRORS and the run goes on; asyncComplete ' +
      'waits IN_PROGRESS for its update; a failed HTTP task shows as HTTP; a timed-out last attempt is TIMED_OUT; ' +
      'retry keeps the failed attempt; queues are per domain',
    async () => {
      const engine = await Engine.open({
        store: backend.store(),
        pollIntervalMs: 50,
        rolloutCheckMs: 0,
        logger: { warn() {} },
      });
      const server = await startServer({ engine, port: 0, declarativeOptions: { http: { allow: ['127.0.0.1'] } } });
      try {
        const client = await orkesConductorClient({ serverUrl: server.url });
        const executor = new WorkflowExecutor(client);
        const metadata = new MetadataClient(client);
        for (const def of defs()) await metadata.registerWorkflowDef(def as never, true);
        const api = (method: string, path: string, body?: unknown) =>
          fetch(`${server.url}/api${path}`, {
            method,
            ...(body === undefined
              ? {}
              : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
          });
        const poll = async (type: string, query = '') => {
          const answer = await api('GET', `/tasks/poll/batch/${type}?workerid=w1&count=1&timeout=10000${query}`);
          const [task] = (await answer.json()) as { taskId: string; workflowInstanceId: string }[];
          assert.ok(task, `a ${type} task is handed out`);
          return task;
        };
        const tasksOf = async (id: string) => (await executor.getWorkflow(id, true)).tasks as unknown as Tasks;
        const until = async (id: string, done: (tasks: Tasks) => boolean) => {
          for (let i = 0; i < 200; i++) {
            const tasks = await tasksOf(id);
            if (done(tasks)) return tasks;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          throw new Error(`tasks of ${id} never got there: ${JSON.stringify(await tasksOf(id))}`);
        };

        // 1, 2: the optional failure is passed; the asyncComplete call waits for POST /api/tasks.
        const id = await executor.startWorkflow({ name: 'http_semantics', version: 1, input: {} });
        // Until the wait for the update is scheduled (its task id is the queue's, not the call step's run:seq).
        const waiting = (t: Tasks[number]) =>
          t.referenceTaskName === 'callback' && !String(t.taskId).startsWith(`${id}:`);
        let tasks = await until(id, (ts) => ts.some(waiting));
        const maybe = tasks.find((t) => t.referenceTaskName === 'maybe')!;
        assert.deepEqual(
          [maybe.status, maybe.taskType, maybe.taskDefName],
          ['COMPLETED_WITH_ERRORS', 'HTTP', 'maybe_call'],
        );
        const callback = tasks.filter((t) => t.referenceTaskName === 'callback');
        assert.equal(callback.length, 1, 'the call and its wait are one task');
        assert.equal(callback[0]!.status, 'IN_PROGRESS');
        assert.equal(callback[0]!.taskType, 'HTTP');
        assert.equal((callback[0]!.outputData as { response: { statusCode: number } }).response.statusCode, 200);
        assert.equal((await api('GET', '/tasks/poll/HTTP?workerid=w1')).status, 204, 'never handed to a worker');
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.ok(!(await tasksOf(id)).some((t) => t.referenceTaskName === 'after'), 'the run waits for the update');
        const update = await api('POST', '/tasks', {
          workflowInstanceId: id,
          taskId: callback[0]!.taskId,
          status: 'COMPLETED',
          outputData: { token: 't-1' },
        });
        assert.equal(update.status, 200, await update.text());
        const after = await poll('after_http');
        assert.deepEqual((await engine.tasks.get(after.taskId))?.input, { got: 't-1' });
        tasks = await tasksOf(id);
        const completed = tasks.find((t) => t.referenceTaskName === 'callback')!;
        assert.equal(completed.status, 'COMPLETED');
        assert.deepEqual(
          [
            (completed.outputData as { token: string }).token,
            (completed.outputData as { response: { body: unknown } }).response.body,
          ],
          ['t-1', { ok: true }],
        );

        // 3: a failing HTTP task is an HTTP task.
        const failing = await executor.startWorkflow({ name: 'http_failing', version: 1, input: {} });
        await runUntil(engine, failing, (r) => r.status === 'failed');
        const strict = (await tasksOf(failing)).find((t) => t.referenceTaskName === 'strict')!;
        assert.deepEqual([strict.status, strict.taskType, strict.taskDefName], ['FAILED', 'HTTP', 'strict_call']);
        assert.equal((await executor.getWorkflow(failing, false)).status, 'FAILED');

        // 4: the last attempt timed out: the workflow is TIMED_OUT.
        const slow = await executor.startWorkflow({ name: 'slow_one', version: 1, input: {} });
        await poll('slow_task');
        await runUntil(engine, slow, (r) => r.status === 'failed');
        const timedOut = await executor.getWorkflow(slow, true);
        assert.equal(timedOut.status, 'TIMED_OUT');
        assert.match(String(timedOut.reasonForIncompletion), /slow/);
        assert.equal(timedOut.tasks![0]!.status, 'TIMED_OUT');

        // 6: retry keeps the failed attempt; the new one counts on from it.
        const flaky = await executor.startWorkflow({ name: 'flaky_one', version: 1, input: {} });
        const first = await poll('flaky_task');
        await api('POST', '/tasks', { workflowInstanceId: flaky, taskId: first.taskId, status: 'FAILED' });
        await runUntil(engine, flaky, (r) => r.status === 'failed');
        assert.equal((await executor.getWorkflow(flaky, true)).lastRetriedTime, 0);
        await executor.retry(flaky, false);
        const second = await poll('flaky_task');
        assert.notEqual(second.taskId, first.taskId);
        const retried = await executor.getWorkflow(flaky, true);
        assert.deepEqual(
          retried.tasks!.map((t) => [t.taskId, t.status, t.retried, t.retryCount, t.retriedTaskId]),
          [
            [first.taskId, 'FAILED', true, 0, undefined],
            [second.taskId, 'IN_PROGRESS', false, 1, first.taskId],
          ],
        );
        assert.ok(Number(retried.lastRetriedTime) > 0);
        await executor.updateTask(second.taskId, flaky, 'COMPLETED', {});
        await runUntil(engine, flaky, (r) => r.status === 'completed');

        // queues: a domain's tasks are their own queue, named domain:taskType.
        const inDomain = await executor.startWorkflow({
          name: 'flaky_one',
          version: 1,
          input: {},
          taskToDomain: { flaky_task: 'eu' },
        });
        const plain = await executor.startWorkflow({ name: 'flaky_one', version: 1, input: {} });
        for (const run of [inDomain, plain]) await until(run, (ts) => ts.length === 1);
        const sizes = (await (await api('GET', '/tasks/queue/all')).json()) as Record<string, number>;
        assert.deepEqual([sizes['eu:flaky_task'], sizes.flaky_task], [1, 1]);
        const verbose = (await (await api('GET', '/tasks/queue/all/verbose')).json()) as Record<string, unknown>;
        assert.deepEqual(verbose['eu:flaky_task'], { a: { size: 1, uacked: 0 } });
        const v1 = (await (await fetch(`${server.url}/v1/task-queues`)).json()) as {
          queues: { taskType: string; domain: string | null; depth: number }[];
        };
        assert.deepEqual(
          v1.queues.filter((q) => q.taskType === 'flaky_task').map((q) => [q.domain, q.depth]),
          [
            [null, 1],
            ['eu', 1],
          ],
        );
      } finally {
        await server.close();
        await engine.close();
      }
    },
  );
});
