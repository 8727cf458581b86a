import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachBackend, runUntil } from '../helpers.js';
import { pollUntil, withConductor, type ConductorApi } from './fixtures/conductor-client.js';
import { conductorWorkflows as workflows } from './fixtures/conductor-workflows.js';

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Starts customer_onboarding v1 over the API; answers its id. */
async function startOnboarding(api: ConductorApi, customerId: string): Promise<string> {
  const started = await api.call(
    'POST',
    '/api/workflow/customer_onboarding?version=1&correlationId=corr-1&priority=5',
    { customerId, email: `${customerId}@example.com` },
  );
  assert.deepEqual([started.status, started.headers['content-type']], [200, TEXT], started.text);
  return started.text;
}

const byRef = (workflow: { tasks: { referenceTaskName: string }[] }) =>
  Object.fromEntries(workflow.tasks.map((t) => [t.referenceTaskName, t])) as Record<string, any>;

forEachBackend((backend) => {
  test(
    'start (text/plain id), then the Workflow JSON follows the run: ' +
      'tasks from the history in seq order, status, output, times',
    async () => {
      await withConductor(backend.store(), { workflows }, async (api) => {
        const { call, engine } = api;
        const id = await startOnboarding(api, 'c-1');
        assert.match(id, UUID);
        await runUntil(engine, id, (r) => r.status === 'waiting');
        const running = await call('GET', `/api/workflow/${id}`);
        assert.deepEqual([running.status, running.headers['content-type']], [200, JSON_TYPE]);
        const w = running.body;
        assert.deepEqual(
          [
            w.workflowId,
            w.workflowName,
            w.workflowType,
            w.workflowVersion,
            w.version,
            w.status,
            w.endTime,
            w.output,
            w.variables,
          ],
          [id, 'customer_onboarding', 'customer_onboarding', 1, 1, 'RUNNING', 0, {}, {}],
        );
        assert.deepEqual(w.input, { customerId: 'c-1', email: 'c-1@example.com' });
        assert.equal(w.correlationId, 'corr-1', 'kept with the run');
        const found = await call('GET', `/api/workflow/search?query=${encodeURIComponent("correlationId = 'corr-1'")}`);
        assert.deepEqual(
          found.body.results.map((r: any) => [r.workflowId, r.correlationId]),
          [[id, 'corr-1']],
        );
        assert.deepEqual(
          (await engine.listRuns({ correlationId: 'corr-1' })).map((r) => r.id),
          [id],
        );
        assert.ok(w.createTime > 0 && w.startTime === w.createTime && w.updateTime >= w.createTime);
        assert.deepEqual(
          w.tasks.map((t: any) => [t.referenceTaskName, t.taskType, t.status]),
          [['normalize_profile', 'normalize_customer_profile', 'SCHEDULED']],
        );

        const task = await pollUntil(api, 'normalize_customer_profile');
        assert.equal(task.taskId, w.tasks[0].taskId);
        await call('POST', '/api/tasks/update-v2', {
          taskId: task.taskId,
          status: 'COMPLETED',
          outputData: { email: 'c-1@example.com' },
        });
        const email = await pollUntil(api, 'send_welcome_email');
        const middle = (await call('GET', `/api/workflow/${id}`)).body;
        assert.deepEqual(
          middle.tasks.map((t: any) => [t.referenceTaskName, t.taskType, t.status, t.workflowTask.type]),
          [
            ['normalize_profile', 'normalize_customer_profile', 'COMPLETED', 'SIMPLE'],
            ['risk_check', 'INLINE', 'COMPLETED', 'INLINE'],
            ['send_email', 'send_welcome_email', 'IN_PROGRESS', 'SIMPLE'],
          ],
        );
        const risk = byRef(middle).risk_check;
        assert.deepEqual(
          [risk.inputData, risk.outputData, risk.taskId, risk.workflowInstanceId],
          [{ customerId: 'c-1' }, { result: 'low' }, `${id}:1:risk_check`, id],
        );
        assert.ok(middle.tasks[0].seq < risk.seq && risk.seq < middle.tasks[2].seq);
        assert.deepEqual((await call('GET', `/api/workflow/${id}?includeTasks=false`)).body.tasks, []);
        assert.deepEqual((await call('GET', `/api/workflow/${id}/status`)).body, {
          workflowId: id,
          correlationId: 'corr-1',
          status: 'RUNNING',
        });

        await call('POST', '/api/tasks', { taskId: email.taskId, status: 'COMPLETED', outputData: { sent: true } });
        await runUntil(engine, id, (r) => r.status === 'completed');
        const done = (await call('GET', `/api/workflow/${id}`)).body;
        assert.deepEqual(
          [done.status, done.output],
          ['COMPLETED', { customerId: 'c-1', risk: 'low', email: { sent: true } }],
        );
        assert.ok(done.endTime >= done.startTime && done.endTime > 0);
        assert.equal(done.reasonForIncompletion, undefined);
        const status = await call('GET', `/api/workflow/${id}/status?includeOutput=true&includeVariables=true`);
        assert.deepEqual(status.body, {
          workflowId: id,
          correlationId: 'corr-1',
          status: 'COMPLETED',
          output: done.output,
          variables: {},
        });
      });
    },
  );

  test(
    'StartWorkflowRequest: ids as text/plain, unknown fields tolerated, ' +
      '404 unknown workflow or version, 400 bad request, idempotencyKey names one workflow',
    async () => {
      await withConductor(backend.store(), { workflows }, async ({ call, engine }) => {
        const request = {
          name: 'customer_onboarding',
          version: 1,
          input: { customerId: 'c-2' },
          correlationId: 'x',
          taskToDomain: {},
          priority: 0,
          somethingNew: [1],
          idempotencyStrategy: '',
        };
        const started = await call('POST', '/api/workflow', request);
        assert.deepEqual([started.status, started.headers['content-type']], [200, TEXT]);
        assert.deepEqual(
          [(await engine.getRun(started.text)).version, (await engine.getRun(started.text)).input],
          [1, { customerId: 'c-2' }],
        );
        const latest = await call('POST', '/api/workflow/approval', '');
        assert.equal((await engine.getRun(latest.text)).version, 1);
        assert.deepEqual((await engine.getRun(latest.text)).input, {}, 'no body: an empty input map');

        for (const [url, body] of [
          ['/api/workflow/no_such_flow', {}],
          ['/api/workflow/customer_onboarding?version=9', {}],
          ['/api/workflow', { name: 'no_such_flow' }],
          ['/api/workflow', { name: 'customer_onboarding', version: 9 }],
        ] as const) {
          const answer = await call('POST', url, body);
          assert.deepEqual([answer.status, answer.body?.status], [404, 404], `${url}: ${answer.text}`);
        }
        for (const [url, body, path] of [
          ['/api/workflow', { input: {} }, 'name'],
          ['/api/workflow', { name: 'approval', version: 'two' }, 'version'],
          ['/api/workflow', { name: 'approval', priority: 100 }, 'priority'],
          ['/api/workflow', { name: 'approval', workflowDef: { name: 'approval', tasks: [] } }, 'workflowDef.tasks'],
          ['/api/workflow/approval?version=one', {}, 'version'],
        ] as const) {
          const answer = await call('POST', url, body);
          assert.deepEqual(
            [answer.status, answer.body?.validationErrors?.[0]?.path],
            [400, path],
            `${url} ${JSON.stringify(body)}: ${answer.text}`,
          );
        }

        const keyed = { name: 'approval', input: { amount: 1 }, idempotencyKey: 'order-77' };
        const first = await call('POST', '/api/workflow', { ...keyed, idempotencyStrategy: 'RETURN_EXISTING' });
        const again = await call('POST', '/api/workflow', {
          ...keyed,
          idempotencyStrategy: 'RETURN_EXISTING',
          input: { amount: 2 },
        });
        assert.equal(again.text, first.text, 'the same key names the same workflow');
        assert.deepEqual((await engine.getRun(first.text)).input, { amount: 1 });
        const refused = await call('POST', '/api/workflow', keyed);
        assert.deepEqual(
          [refused.status, refused.body.status],
          [409, 409],
          'FAIL (the default) refuses a second start',
        );
        assert.match(refused.body.message, new RegExp(first.text));
        const other = await call('POST', '/api/workflow', { ...keyed, idempotencyKey: 'order-78' });
        assert.notEqual(other.text, first.text);
      });
    },
  );

  test(
    'a failed task run is FAILED with its reason and failed reference; ' +
      'every attempt is a task; a signal wait is a WAIT task',
    async () => {
      await withConductor(backend.store(), { workflows }, async (api) => {
        const { call, engine } = api;
        const id = await startOnboarding(api, 'c-3');
        const first = await pollUntil(api, 'normalize_customer_profile');
        await call('POST', '/api/tasks', { taskId: first.taskId, status: 'FAILED', reasonForIncompletion: 'CRM down' });
        const second = await pollUntil(api, 'normalize_customer_profile');
        await call('POST', '/api/tasks', {
          taskId: second.taskId,
          status: 'FAILED',
          reasonForIncompletion: 'CRM still down',
        });
        await runUntil(engine, id, (r) => r.status === 'failed');
        const failed = (await call('GET', `/api/workflow/${id}`)).body;
        assert.equal(failed.status, 'FAILED');
        assert.match(failed.reasonForIncompletion, /normalize_profile.*CRM still down/);
        assert.deepEqual(
          [failed.failedReferenceTaskNames, failed.failedTaskNames],
          [['normalize_profile'], ['normalize_customer_profile']],
        );
        assert.deepEqual(
          failed.tasks.map((t: any) => [t.taskId, t.status, t.retryCount, t.retried, t.reasonForIncompletion]),
          [
            [first.taskId, 'FAILED', 0, true, 'CRM down'],
            [second.taskId, 'FAILED', 1, false, 'CRM still down'],
          ],
        );

        const approval = await call('POST', '/api/workflow/approval', { amount: 5 });
        const waiting = await runUntil(engine, approval.text, (r) => r.status === 'waiting');
        const wait = byRef((await call('GET', `/api/workflow/${approval.text}`)).body).manager_approval;
        assert.deepEqual(
          [wait.taskType, wait.status, wait.taskId, wait.workflowTask.type],
          ['WAIT', 'IN_PROGRESS', `${approval.text}:${waiting.waitingFor!.seq}:manager_approval`, 'WAIT'],
        );
        await engine.signal(approval.text, 'manager_approval', { approved: false });
        await runUntil(engine, approval.text, (r) => r.status === 'completed');
        const done = byRef((await call('GET', `/api/workflow/${approval.text}`)).body);
        assert.deepEqual(
          [done.manager_approval.status, done.manager_approval.outputData],
          ['COMPLETED', { approved: false }],
        );
        assert.deepEqual(
          [done.record.taskType, done.record.status, done.record.outputData],
          ['WAYMARK_STEP', 'COMPLETED', { result: 'recorded 5' }],
        );
        assert.equal((await call('GET', '/api/workflow/nope')).status, 404);
        assert.equal((await call('GET', '/api/workflow/nope/status')).status, 404);
      });
    },
  );

  test(
    'search: the query language, freeText, sort and paging; ' + 'WorkflowSummary fields are strings; running ids',
    async () => {
      await withConductor(backend.store(), { workflows }, async (api) => {
        const { call, engine } = api;
        const a = await startOnboarding(api, 'alpha');
        const b = await startOnboarding(api, 'beta');
        const approval = (await call('POST', '/api/workflow/approval', { amount: 1 })).text;
        const flaky = (await call('POST', '/api/workflow/flaky_step', {})).text;
        await runUntil(engine, flaky, (r) => r.status === 'failed');
        for (const id of [a, b, approval]) await runUntil(engine, id, (r) => r.status === 'waiting');

        const search = (query: string) => call('GET', `/api/workflow/search?${query}`);
        const runningQuery = encodeURIComponent(
          'workflowType IN (customer_onboarding,approval) AND status IN (RUNNING)',
        );
        const running = await search(`query=${runningQuery}&sort=workflowId:ASC&includeInput=true&includeOutput=true`);
        assert.equal(running.status, 200, running.text);
        assert.equal(running.body.totalHits, 3);
        assert.deepEqual(
          running.body.results.map((s: any) => s.workflowId),
          [a, b, approval].sort(),
        );
        const summary = running.body.results.find((s: any) => s.workflowId === a);
        assert.deepEqual(
          [summary.workflowType, summary.version, summary.status, summary.output, summary.failedReferenceTaskNames],
          ['customer_onboarding', 1, 'RUNNING', '{}', ''],
        );
        assert.equal(typeof summary.input, 'string');
        assert.deepEqual(JSON.parse(summary.input), { customerId: 'alpha', email: 'alpha@example.com' });
        const plain = (await search(`query=${encodeURIComponent(`workflowId = '${a}'`)}`)).body.results[0];
        assert.deepEqual(
          [plain.input, plain.output, plain.inputSize],
          [undefined, undefined, Buffer.byteLength(summary.input)],
          'without include: sizes, no input or output',
        );
        assert.match(summary.startTime, TIME);
        assert.match(summary.updateTime, TIME);
        assert.equal(summary.endTime, undefined, 'not over: no endTime');

        const failed = await search('query=status%20%3D%20FAILED');
        assert.deepEqual(
          failed.body.results.map((s: any) => [s.workflowId, s.failedReferenceTaskNames, typeof s.endTime]),
          [[flaky, 'charge', 'string']],
        );
        assert.match(failed.body.results[0].endTime, TIME);
        const paged = await search(`query=workflowType%3Dcustomer_onboarding&sort=workflowId:DESC&start=1&size=1`);
        assert.deepEqual(
          [paged.body.totalHits, paged.body.results.map((s: any) => s.workflowId)],
          [2, [[a, b].sort().reverse()[1]]],
        );
        const free = await search('freeText=beta');
        assert.deepEqual(
          free.body.results.map((s: any) => s.workflowId),
          [b],
        );
        assert.equal((await search('freeText=*')).body.totalHits, 4);
        const either = await search(
          `query=${encodeURIComponent("(workflowType = 'flaky_step' OR workflowType = approval) AND version >= 1")}`,
        );
        assert.deepEqual(either.body.results.map((s: any) => s.workflowId).sort(), [approval, flaky].sort());
        const bad = await search(`query=${encodeURIComponent('workflowType IN (a')}`);
        assert.deepEqual([bad.status, bad.body.validationErrors[0].path], [400, 'query']);
        assert.equal((await search('query=color%3Dred')).status, 400);
        assert.equal((await search('sort=color:ASC')).status, 400);

        const ids = await call('GET', '/api/workflow/running/customer_onboarding');
        assert.deepEqual([ids.status, [...ids.body].sort()], [200, [a, b].sort()]);
        assert.deepEqual((await call('GET', '/api/workflow/running/customer_onboarding?version=2')).body, []);
      });
    },
  );

  test('execute waits for the end, for a task reference, or for waitForSeconds', async () => {
    await withConductor(backend.store(), { workflows }, async ({ call }) => {
      const failed = await call('POST', '/api/workflow/execute/flaky_step/0?requestId=r-1&waitForSeconds=20', {});
      assert.deepEqual(
        [failed.status, failed.body.status, failed.body.requestId, failed.body.version],
        [200, 'FAILED', 'r-1', 1],
      );
      const waiting = await call(
        'POST',
        '/api/workflow/execute/approval/1?waitUntilTaskRef=manager_approval&waitForSeconds=20',
        { input: { amount: 3 } },
      );
      assert.deepEqual([waiting.status, waiting.body.status], [200, 'RUNNING']);
      assert.deepEqual(byRef(waiting.body).manager_approval.status, 'IN_PROGRESS');
      const started = Date.now();
      const quick = await call('POST', '/api/workflow/execute/approval/1?waitForSeconds=0', {});
      assert.deepEqual([quick.body.status, Date.now() - started < 5_000], ['RUNNING', true]);
    });
  });
});
