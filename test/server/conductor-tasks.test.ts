import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachBackend, runUntil } from '../helpers.js';
import { pollUntil, withConductor } from './fixtures/conductor-client.js';
import { conductorWorkflows as workflows } from './fixtures/conductor-workflows.js';

const customer = { customerId: 'c-1', email: 'Ada@Example.COM' };

forEachBackend((backend) => {
  test(
    'a worker loop over HTTP: batch poll (long), ' + 'update-v2 COMPLETED, legacy update; the run completes',
    async () => {
      await withConductor(backend.store(), { workflows }, async (api) => {
        const { engine, call } = api;
        const empty = await call(
          'GET',
          '/api/tasks/poll/batch/normalize_customer_profile?workerid=w1&count=5&timeout=0',
        );
        assert.deepEqual(
          [empty.status, empty.headers['content-type'], empty.body],
          [200, 'application/json; charset=utf-8', []],
          'an empty batch poll is [] (never 204)',
        );
        const none = await call('GET', '/api/tasks/poll/normalize_customer_profile?workerid=w1');
        assert.deepEqual([none.status, none.text, none.headers['content-type']], [204, '', undefined]);

        await engine.start('customer_onboarding', customer, { version: 1, id: 'onb-1' });
        const task = await pollUntil(api, 'normalize_customer_profile', 'worker-a');
        assert.equal(task.status, 'IN_PROGRESS');
        assert.deepEqual(
          [
            task.taskType,
            task.taskDefName,
            task.referenceTaskName,
            task.taskReferenceName,
            task.workflowInstanceId,
            task.workflowType,
            task.workerId,
            task.pollCount,
            task.retryCount,
          ],
          [
            'normalize_customer_profile',
            'normalize_customer_profile',
            'normalize_profile',
            'normalize_profile',
            'onb-1',
            'customer_onboarding',
            'worker-a',
            1,
            0,
          ],
        );
        assert.deepEqual(task.inputData, customer);
        assert.deepEqual(task.workflowTask, {
          name: 'normalize_customer_profile',
          taskReferenceName: 'normalize_profile',
          type: 'SIMPLE',
          inputParameters: {},
          optional: false,
          startDelay: 0,
        });
        assert.ok(task.startTime >= task.scheduledTime && task.scheduledTime > 0);
        assert.equal(
          (await call('GET', '/api/tasks/queue/size?taskType=normalize_customer_profile')).text,
          '0',
          'polled: no longer queued',
        );

        const updated = await call('POST', '/api/tasks/update-v2', {
          taskId: task.taskId,
          workflowInstanceId: 'onb-1',
          status: 'COMPLETED',
          outputData: { email: 'ada@example.com' },
          workerId: 'worker-a',
          unknownField: true,
        });
        assert.deepEqual(
          [updated.status, updated.text, updated.headers['content-type']],
          [204, '', undefined],
          'no other task of that type is ready',
        );

        const email = await pollUntil(api, 'send_welcome_email', 'worker-b');
        assert.deepEqual(email.inputData, { to: 'ada@example.com' });
        const legacy = await call('POST', '/api/tasks', {
          taskId: email.taskId,
          status: 'COMPLETED',
          outputData: { sent: true },
          callbackAfterSeconds: 0,
          reasonForIncompletion: '',
        });
        assert.deepEqual(
          [legacy.status, legacy.headers['content-type'], legacy.text],
          [200, 'text/plain; charset=utf-8', email.taskId],
        );

        const done = await runUntil(engine, 'onb-1', (r) => r.status === 'completed');
        assert.deepEqual(done.output, { customerId: 'c-1', risk: 'low', email: { sent: true } });
        const got = await call('GET', `/api/tasks/${task.taskId}`);
        assert.deepEqual(
          [got.status, got.body.status, got.body.outputData, got.body.executed],
          [200, 'COMPLETED', { email: 'ada@example.com' }, true],
        );
        const late = await call('POST', '/api/tasks', {
          taskId: task.taskId,
          status: 'FAILED',
          reasonForIncompletion: 'late',
        });
        assert.deepEqual([late.status, late.text], [200, task.taskId], 'a report on a finished task is a 200 no-op');
        assert.equal((await call('GET', `/api/tasks/${task.taskId}`)).body.status, 'COMPLETED');
      });
    },
  );

  test('update-v2 answers the next ready task of the same type, handed to the reporting worker', async () => {
    await withConductor(backend.store(), { workflows }, async (api) => {
      await api.engine.start('customer_onboarding', { customerId: 'c-1' }, { version: 1, id: 'first' });
      await api.engine.start('customer_onboarding', { customerId: 'c-2' }, { version: 1, id: 'second' });
      await runUntil(api.engine, 'second', (r) => r.status === 'waiting');
      await runUntil(api.engine, 'first', (r) => r.status === 'waiting');
      const task = await pollUntil(api, 'normalize_customer_profile', 'w1');
      const next = await api.call('POST', '/api/tasks/update-v2', {
        taskId: task.taskId,
        status: 'COMPLETED',
        outputData: { email: 'x@y' },
        workerId: 'w1',
      });
      assert.equal(next.status, 200, next.text);
      assert.equal(next.headers['content-type'], 'application/json; charset=utf-8');
      assert.deepEqual(
        [next.body.taskType, next.body.status, next.body.workerId],
        ['normalize_customer_profile', 'IN_PROGRESS', 'w1'],
      );
      assert.notEqual(next.body.workflowInstanceId, task.workflowInstanceId);
      const progress = await api.call('POST', '/api/tasks/update-v2', {
        taskId: next.body.taskId,
        status: 'IN_PROGRESS',
        workerId: 'w1',
        extendLease: true,
      });
      assert.equal(progress.status, 204, 'IN_PROGRESS hands out nothing');
      assert.equal(
        (await api.call('GET', `/api/tasks/${next.body.taskId}`)).body.status,
        'IN_PROGRESS',
        'extendLease keeps the task with its worker',
      );
    });
  });

  test('IN_PROGRESS with callbackAfterSeconds puts the task back until then; logs are kept and listed', async () => {
    await withConductor(backend.store(), { workflows }, async (api) => {
      const { call, engine } = api;
      await engine.start('customer_onboarding', customer, { version: 1, id: 'cb' });
      const task = await pollUntil(api, 'normalize_customer_profile');
      assert.equal((await call('GET', `/api/tasks/${task.taskId}/log`)).status, 204, 'no logs yet');
      const later = await call('POST', '/api/tasks/update-v2', {
        taskId: task.taskId,
        status: 'IN_PROGRESS',
        callbackAfterSeconds: 3600,
        logs: [{ log: 'calling the CRM', createdTime: 1 }],
      });
      assert.equal(later.status, 204);
      const parked = await call('GET', `/api/tasks/${task.taskId}`);
      assert.deepEqual([parked.body.status, parked.body.callbackAfterSeconds], ['SCHEDULED', 3600]);
      assert.equal(
        (await call('GET', '/api/tasks/poll/normalize_customer_profile?workerid=w2')).status,
        204,
        'not handed out before the callback',
      );
      assert.equal((await call('GET', '/api/tasks/queue/size?taskType=normalize_customer_profile')).body, 1);

      const logged = await call('POST', `/api/tasks/${task.taskId}/log`, 'still waiting for the CRM');
      assert.deepEqual(
        [logged.status, logged.text, logged.headers['content-length'], logged.headers['content-type']],
        [200, '', '0', undefined],
      );
      const json = await call(
        'POST',
        `/api/tasks/${task.taskId}/log`,
        JSON.stringify('a JSON string line'),
        'application/json',
      );
      assert.equal(json.status, 200);
      const logs = await call('GET', `/api/tasks/${task.taskId}/log`);
      assert.equal(logs.status, 200);
      assert.deepEqual(
        logs.body.map((l: { log: string }) => l.log),
        ['calling the CRM', 'still waiting for the CRM', 'a JSON string line'],
      );
      assert.ok(
        logs.body.every((l: { taskId: string; createdTime: number }) => l.taskId === task.taskId && l.createdTime > 0),
      );

      const soon = await call('POST', '/api/tasks', {
        taskId: task.taskId,
        status: 'IN_PROGRESS',
        callbackAfterSeconds: 1,
      });
      assert.equal(soon.status, 200);
      const again = await pollUntil(api, 'normalize_customer_profile', 'w3');
      assert.deepEqual(
        [again.taskId, again.pollCount, again.workerId],
        [task.taskId, 2, 'w3'],
        'the same task, handed out again after its callback',
      );
    });
  });

  test("FAILED is retried as the task's options say; FAILED_WITH_TERMINAL_ERROR fails the run", async () => {
    await withConductor(backend.store(), { workflows }, async (api) => {
      await api.engine.start('customer_onboarding', customer, { version: 1, id: 'retried' });
      const first = await pollUntil(api, 'normalize_customer_profile');
      assert.equal(
        (
          await api.call('POST', '/api/tasks/update-v2', {
            taskId: first.taskId,
            status: 'FAILED',
            reasonForIncompletion: 'CRM timeout',
          })
        ).status,
        204,
      );
      const second = await pollUntil(api, 'normalize_customer_profile');
      assert.notEqual(second.taskId, first.taskId);
      assert.deepEqual([second.retryCount, second.referenceTaskName], [1, 'normalize_profile']);
      const failedFirst = await api.call('GET', `/api/tasks/${first.taskId}`);
      assert.deepEqual([failedFirst.body.status, failedFirst.body.reasonForIncompletion], ['FAILED', 'CRM timeout']);
      await api.call('POST', '/api/tasks', {
        taskId: second.taskId,
        status: 'FAILED_WITH_TERMINAL_ERROR',
        reasonForIncompletion: 'no such customer',
      });
      const failed = await runUntil(api.engine, 'retried', (r) => r.status === 'failed');
      assert.equal(failed.error?.code, 'E_TASK_FAILED');
      assert.match(failed.error!.message, /no such customer/);
    });
  });

  test('a task is completed by workflow and reference; a waited-for signal is completed as its WAIT task', async () => {
    await withConductor(backend.store(), { workflows }, async ({ engine, call }) => {
      await engine.start('customer_onboarding', customer, { version: 1, id: 'by-ref' });
      await runUntil(engine, 'by-ref', (r) => r.status === 'waiting');
      const [open] = await engine.tasks.ofRun('by-ref');
      const answer = await call('POST', '/api/tasks/by-ref/normalize_profile/COMPLETED?workerid=ops', {
        email: 'ops@example.com',
      });
      assert.deepEqual(
        [answer.status, answer.headers['content-type'], answer.text],
        [200, 'text/plain; charset=utf-8', open!.taskId],
      );
      const task = await engine.tasks.get(open!.taskId);
      assert.deepEqual([task.status, task.output, task.workerId], ['COMPLETED', { email: 'ops@example.com' }, 'ops']);
      assert.equal(
        (await call('POST', '/api/tasks/by-ref/normalize_profile/COMPLETED', {})).status,
        404,
        'no open task with that reference any more',
      );
      assert.equal((await call('POST', '/api/tasks/nope/normalize_profile/COMPLETED', {})).status, 404);
      const bad = await call('POST', '/api/tasks/by-ref/send_email/DONE', {});
      assert.deepEqual([bad.status, bad.body.validationErrors[0].path], [400, 'status']);

      await engine.start('approval', { amount: 10 }, { id: 'appr' });
      const waiting = await runUntil(engine, 'appr', (r) => r.status === 'waiting');
      const signalled = await call('POST', '/api/tasks/appr/manager_approval/COMPLETED', { approved: true });
      assert.deepEqual([signalled.status, signalled.text], [200, `appr:${waiting.waitingFor!.seq}:manager_approval`]);
      const done = await runUntil(engine, 'appr', (r) => r.status === 'completed');
      assert.deepEqual(done.output, { decision: { approved: true }, note: 'recorded 10' });
    });
  });
});

test(
  'errors under /api are Conductor error bodies: ' +
    '404 unknown task or route, 400 bad TaskResult or JSON; Accept is ignored',
  async () => {
    const { tempDb } = await import('../helpers.js');
    await withConductor(`sqlite:${tempDb()}`, { workflows }, async ({ call, app }) => {
      const missing = await call('GET', '/api/tasks/nope');
      assert.equal(missing.status, 404);
      assert.equal(missing.headers['content-type'], 'application/json; charset=utf-8');
      assert.deepEqual(Object.keys(missing.body).sort(), [
        'code',
        'instance',
        'message',
        'retryable',
        'status',
        'validationErrors',
      ]);
      assert.deepEqual(
        [missing.body.status, missing.body.retryable, missing.body.validationErrors, missing.body.code],
        [404, false, [], 'E_TASK_NOT_FOUND'],
      );
      assert.match(missing.body.message, /task 'nope' does not exist/);
      assert.equal(typeof missing.body.instance, 'string');
      for (const [method, url, body] of [
        ['POST', '/api/tasks', { taskId: 'nope', status: 'COMPLETED' }],
        ['POST', '/api/tasks/update-v2', { taskId: 'nope', status: 'COMPLETED' }],
        ['GET', '/api/tasks/nope/log', undefined],
        ['POST', '/api/tasks/nope/log', 'line'],
      ] as const) {
        const answer = await call(method, url, body);
        assert.deepEqual([answer.status, answer.body?.status], [404, 404], `${method} ${url}: ${answer.text}`);
      }
      const noId = await call('POST', '/api/tasks', { status: 'COMPLETED' });
      assert.deepEqual([noId.status, noId.body.status, noId.body.validationErrors[0].path], [400, 400, 'taskId']);
      const badStatus = await call('POST', '/api/tasks/update-v2', { taskId: 't', status: '' });
      assert.deepEqual([badStatus.status, badStatus.body.validationErrors[0].path], [400, 'status']);
      const noType = await call('GET', '/api/tasks/queue/size');
      assert.equal(noType.status, 400);
      const badJson = await call('POST', '/api/tasks', '{"taskId":', 'application/json');
      assert.deepEqual([badJson.status, badJson.body.status], [400, 400]);
      const route = await call('GET', '/api/no/such/route');
      assert.deepEqual([route.status, route.body.status, route.body.code], [404, 404, undefined]);
      const v1 = await call('GET', '/v1/runs/nope');
      assert.equal(v1.body.code, 'E_RUN_NOT_FOUND', "Waymark's own API keeps its error body");
      const text = await app.inject({
        method: 'GET',
        url: '/api/tasks/queue/size?taskType=x',
        headers: { accept: 'text/plain' },
      });
      assert.deepEqual([text.statusCode, text.body], [200, '0']);
    });
  },
);
