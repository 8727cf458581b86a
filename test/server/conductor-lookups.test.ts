import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachBackend, runUntil } from '../helpers.js';
import { pollUntil, withConductor, type ConductorApi } from './fixtures/conductor-client.js';
import { conductorWorkflows as workflows } from './fixtures/conductor-workflows.js';

/** Two worker tasks, then a HUMAN task that waits for an update (by reference or by signal). */
const orderFlow = (version: number) => ({
  name: 'order_flow',
  version,
  schemaVersion: 2,
  tasks: [
    { name: 'reserve_stock', taskReferenceName: 'reserve', inputParameters: { sku: '${workflow.input.sku}' } },
    { name: 'charge_card', taskReferenceName: 'charge', inputParameters: {} },
    { name: 'confirm', taskReferenceName: 'confirm', type: 'HUMAN' },
  ],
});

async function startOrder(api: ConductorApi, body: Record<string, unknown> = {}): Promise<string> {
  const started = await api.call('POST', '/api/workflow', { name: 'order_flow', input: { sku: 'A1' }, ...body });
  assert.equal(started.status, 200, started.text);
  return started.text;
}

async function complete(api: ConductorApi, task: { taskId: string; workflowInstanceId: string }, output = {}) {
  const done = await api.call('POST', '/api/tasks', {
    taskId: task.taskId,
    workflowInstanceId: task.workflowInstanceId,
    status: 'COMPLETED',
    outputData: output,
  });
  assert.equal(done.status, 200, done.text);
}

forEachBackend((backend) => {
  test('metadata: names, names-and-versions, latest-versions, {name}/versions and validate', async () => {
    await withConductor(backend.store(), { workflows }, async ({ call }) => {
      for (const v of [1, 2]) assert.equal((await call('POST', '/api/metadata/workflow', orderFlow(v))).status, 200);
      const names = (await call('GET', '/api/metadata/workflow/names')).body;
      assert.ok(names.includes('order_flow') && names.includes('approval'), JSON.stringify(names));
      const both = (await call('GET', '/api/metadata/workflow/names-and-versions')).body.order_flow;
      assert.deepEqual(
        both.map((v: any) => [v.name, v.version, typeof v.createTime]),
        [
          ['order_flow', 1, 'number'],
          ['order_flow', 2, 'number'],
        ],
      );
      const latest = (await call('GET', '/api/metadata/workflow/latest-versions')).body;
      assert.deepEqual(
        latest.filter((d: any) => d.name === 'order_flow').map((d: any) => [d.version, d.tasks.length]),
        [[2, 3]],
      );
      const versions = await call('GET', '/api/metadata/workflow/order_flow/versions');
      assert.deepEqual(
        versions.body.map((d: any) => d.version),
        [1, 2],
      );
      assert.equal((await call('GET', '/api/metadata/workflow/nope/versions')).status, 404);
      assert.equal((await call('POST', '/api/metadata/workflow/validate', orderFlow(9))).status, 200);
      const invalid = await call('POST', '/api/metadata/workflow/validate', { name: 'bad', tasks: [] });
      assert.deepEqual([invalid.status, invalid.body.validationErrors[0].path], [400, 'tasks']);
      assert.equal((await call('GET', '/api/metadata/workflow/order_flow?version=9')).status, 404, 'not registered');
      assert.equal((await call('GET', '/api/metadata/workflow/names/')).status, 200, 'a trailing slash is tolerated');
    });
  });

  test('task searches, search-v2, search-by-tasks, a run’s tasks, correlated lookups, health', async () => {
    await withConductor(backend.store(), { workflows }, async (api) => {
      const { call } = api;
      await call('POST', '/api/metadata/workflow', orderFlow(1));
      const a = await startOrder(api, { correlationId: 'order-7' });
      const b = await startOrder(api, { correlationId: 'order-8' });
      const first = await pollUntil(api, 'reserve_stock');
      await complete(api, first, { reserved: true });
      await pollUntil(api, 'charge_card');

      const search = await call(
        'GET',
        '/api/tasks/search?query=taskType%20IN%20(reserve_stock)%20AND%20status=COMPLETED',
      );
      assert.equal(search.status, 200, search.text);
      assert.deepEqual(
        [search.body.totalHits, search.body.results[0].taskId, search.body.results[0].workflowId],
        [1, first.taskId, first.workflowInstanceId],
      );
      assert.equal(typeof search.body.results[0].scheduledTime, 'string', 'TaskSummary times are strings');
      assert.equal(search.body.results[0].output, JSON.stringify({ reserved: true }));
      const v2 = await call('GET', `/api/tasks/search-v2?query=workflowId%3D${first.workflowInstanceId}`);
      assert.ok(v2.body.results.every((t: any) => t.workflowInstanceId === first.workflowInstanceId && t.inputData));
      assert.equal((await call('GET', '/api/tasks/search?query=status%3DNOPE')).status, 400);

      const byTasks = await call('GET', '/api/workflow/search-by-tasks?query=taskType%3Dcharge_card');
      assert.deepEqual([byTasks.body.totalHits, byTasks.body.results[0].workflowId], [1, first.workflowInstanceId]);
      assert.equal(typeof byTasks.body.results[0].startTime, 'string', 'WorkflowSummary');
      const byTasksV2 = await call('GET', '/api/workflow/search-by-tasks-v2?query=taskType%3Dcharge_card');
      assert.equal(byTasksV2.body.results[0].workflowId, first.workflowInstanceId);
      const searchV2 = await call('GET', '/api/workflow/search-v2?query=workflowType%3Dorder_flow');
      assert.deepEqual(
        [searchV2.body.totalHits, searchV2.body.results.map((w: any) => w.workflowId).sort()],
        [2, [a, b].sort()],
      );
      assert.equal(typeof searchV2.body.results[0].startTime, 'number', 'whole Workflow objects');

      const tasks = await call('GET', `/api/workflow/${first.workflowInstanceId}/tasks?status=COMPLETED,IN_PROGRESS`);
      assert.deepEqual(
        [tasks.body.totalHits, tasks.body.results.map((t: any) => t.referenceTaskName), tasks.body.summary],
        [2, ['reserve', 'charge'], { COMPLETED: 1, IN_PROGRESS: 1 }],
      );
      assert.equal((await call('GET', '/api/workflow/nope/tasks')).status, 404);

      const correlated = await call('POST', '/api/workflow/order_flow/correlated?includeTasks=true', [
        'order-7',
        'order-9',
      ]);
      assert.deepEqual(
        [correlated.body['order-7'].map((w: any) => w.workflowId), correlated.body['order-9']],
        [[a], []],
      );
      assert.ok(correlated.body['order-7'][0].tasks.length >= 1, 'includeTasks');
      const one = await call('GET', '/api/workflow/order_flow/correlated/order-8');
      assert.deepEqual(
        one.body.map((w: any) => w.workflowId),
        [b],
      );
      await call('DELETE', `/api/workflow/${b}`);
      assert.deepEqual((await call('GET', '/api/workflow/order_flow/correlated/order-8')).body, [], 'running only');
      assert.equal(
        (await call('GET', '/api/workflow/order_flow/correlated/order-8?includeClosed=true')).body.length,
        1,
      );
      const batch = await call('POST', '/api/workflow/correlated/batch?includeClosed=true', {
        workflowNames: ['order_flow'],
        correlationIds: ['order-7', 'order-8'],
      });
      assert.deepEqual(Object.keys(batch.body).sort(), ['order-7', 'order-8']);

      const health = await call('GET', '/api/health');
      assert.deepEqual([health.status, health.body.healthy], [200, true]);
      assert.equal((await call('GET', '/api/workflow/search-v2/')).status, 200, 'trailing slash');
    });
  });

  test('sync update by reference, signal and signal/sync complete the blocking task', async () => {
    await withConductor(backend.store(), { workflows }, async (api) => {
      const { call, engine } = api;
      await call('POST', '/api/metadata/workflow', orderFlow(1));
      const id = await startOrder(api);
      await pollUntil(api, 'reserve_stock');
      const synced = await call('POST', `/api/tasks/${id}/reserve/COMPLETED/sync?workerid=w9`, { reserved: 1 });
      assert.equal(synced.status, 200, synced.text);
      const reserve = synced.body.tasks.find((t: any) => t.referenceTaskName === 'reserve');
      assert.deepEqual(
        [synced.body.workflowId, reserve.status, reserve.outputData],
        [id, 'COMPLETED', { reserved: 1 }],
      );
      assert.ok(
        synced.body.tasks.some((t: any) => t.referenceTaskName === 'charge'),
        'the workflow took the report in: the next task is scheduled',
      );
      assert.equal((await call('POST', `/api/tasks/${id}/reserve/DONE/sync`, {})).status, 400);

      // signal: the blocking task is charge (a worker task, not yet polled)
      const signalled = await call('POST', `/api/tasks/${id}/COMPLETED/signal`, { charged: true });
      assert.deepEqual([signalled.status, signalled.text], [200, ''], signalled.text);
      await runUntil(engine, id, (r) => r.waitingFor?.kind === 'task' && r.waitingFor.name === 'HUMAN');
      const response = await call('POST', `/api/tasks/${id}/COMPLETED/signal/sync`, { confirmed: 'yes' });
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(
        [response.body.responseType, response.body.targetWorkflowId, response.body.targetWorkflowStatus],
        ['TARGET_WORKFLOW', id, 'COMPLETED'],
      );
      const nothing = await call('POST', `/api/tasks/${id}/COMPLETED/signal`, {});
      assert.equal(nothing.status, 404, 'nothing blocks a finished workflow');
      assert.equal((await call('POST', `/api/tasks/${id}/COMPLETED/signal/sync?returnStrategy=NOPE`, {})).status, 400);
    });
  });

  test('paths that are no route answer 404, never another route’s 400', async () => {
    await withConductor(backend.store(), { workflows }, async ({ call }) => {
      for (const [method, url] of [
        ['GET', '/api/workflow/x/y/z'],
        ['PUT', '/api/workflow/decide/x'],
        ['GET', '/api/metadata/workflow/a/b/c'],
      ] as const) {
        const answer = await call(method, url, method === 'GET' ? undefined : {});
        assert.deepEqual([url, answer.status, answer.body?.status], [url, 404, 404], answer.text);
        assert.match(answer.body.message, /no route/);
      }
    });
  });

  test('task domains, priority and idempotency are kept with the run and shape polls', async () => {
    await withConductor(backend.store(), { workflows }, async (api) => {
      const { call } = api;
      await call('POST', '/api/metadata/workflow', orderFlow(1));
      const routed = await startOrder(api, {
        taskToDomain: { reserve_stock: 'eu', '*': 'NO_DOMAIN' },
        idempotencyKey: 'k-1',
        idempotencyStrategy: 'RETURN_EXISTING',
      });
      const plain = await startOrder(api);
      // both runs have scheduled reserve_stock; the plain poller gets only the plain one
      await runUntil(api.engine, routed, (r) => r.status === 'waiting');
      await runUntil(api.engine, plain, (r) => r.status === 'waiting');
      const noDomain = await call('GET', '/api/tasks/poll/batch/reserve_stock?count=5&timeout=200');
      assert.deepEqual(
        noDomain.body.map((t: any) => t.workflowInstanceId),
        [plain],
        'a task with a domain never goes to a poller without one',
      );
      assert.equal((await call('GET', '/api/tasks/poll/reserve_stock?domain=us')).status, 204, 'other domain');
      const eu = await call('GET', '/api/tasks/poll/reserve_stock?domain=eu&workerid=w-eu');
      assert.deepEqual([eu.body.workflowInstanceId, eu.body.domain], [routed, 'eu']);
      const workflow = (await call('GET', `/api/workflow/${routed}`)).body;
      assert.deepEqual(
        [workflow.taskToDomain, workflow.idempotencyKey, workflow.idempotencyStrategy],
        [{ reserve_stock: 'eu', '*': 'NO_DOMAIN' }, 'k-1', 'RETURN_EXISTING'],
      );
      // NO_DOMAIN for the rest: charge_card of the routed run goes to plain pollers
      await complete(api, eu.body);
      const charge = await pollUntil(api, 'charge_card');
      assert.equal(charge.workflowInstanceId, routed);

      // priority: higher first, FIFO within one
      const ids: string[] = [];
      for (const priority of [1, 5, 1, 9])
        ids.push((await call('POST', `/api/workflow/order_flow?priority=${priority}`, { sku: 'B' })).text);
      for (const id of ids) await runUntil(api.engine, id, (r) => r.status === 'waiting');
      const ordered = await call('GET', '/api/tasks/poll/batch/reserve_stock?count=10&timeout=200');
      assert.deepEqual(
        ordered.body.map((t: any) => [t.workflowInstanceId, t.workflowPriority]),
        [
          [ids[3], 9],
          [ids[1], 5],
          [ids[0], 1],
          [ids[2], 1],
        ],
      );
      assert.equal((await call('GET', `/api/workflow/${ids[3]}`)).body.priority, 9);
      const bad = await call('POST', '/api/workflow', { name: 'order_flow', taskToDomain: { x: 1 } });
      assert.equal(bad.status, 400);
    });
  });
});
