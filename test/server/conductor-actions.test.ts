import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachBackend, runUntil } from '../helpers.js';
import { pollUntil, withConductor, type ConductorApi } from './fixtures/conductor-client.js';
import { conductorWorkflows as workflows } from './fixtures/conductor-workflows.js';

const TEXT = 'text/plain; charset=utf-8';

async function start(api: ConductorApi, name: string, input: unknown, version = 1): Promise<string> {
  const started = await api.call('POST', `/api/workflow/${name}?version=${version}`, input);
  assert.equal(started.status, 200, started.text);
  return started.text;
}

/** A void answer: 200 with an empty body (Content-Length 0) and no content type. */
function assertEmpty(answer: { status: number; text: string; headers: Record<string, unknown> }, what: string): void {
  assert.deepEqual(
    [answer.status, answer.text, answer.headers['content-length'], answer.headers['content-type']],
    [200, '', '0', undefined],
    `${what}: ${answer.text}`,
  );
}

/** 204 with no body and no content type. */
function assertNoContent(
  answer: { status: number; text: string; headers: Record<string, unknown> },
  what: string,
): void {
  assert.deepEqual(
    [answer.status, answer.text, answer.headers['content-type']],
    [204, '', undefined],
    `${what}: ${answer.text}`,
  );
}

const statusOf = async (api: ConductorApi, id: string) =>
  (await api.call('GET', `/api/workflow/${id}/status`)).body.status;

forEachBackend((backend) => {
  test(
    'terminate cancels the run and its open task (409 when COMPLETED, ' +
      'a no-op when over); remove deletes finished runs only',
    async () => {
      await withConductor(backend.store(), { workflows }, async (api) => {
        const { call, engine } = api;
        const id = await start(api, 'customer_onboarding', { customerId: 'c-1' });
        const task = await pollUntil(api, 'normalize_customer_profile');
        assertEmpty(
          await call('DELETE', `/api/workflow/${id}?reason=${encodeURIComponent('customer left')}`),
          'terminate',
        );
        await runUntil(engine, id, (r) => r.status === 'cancelled');
        const w = (await call('GET', `/api/workflow/${id}`)).body;
        assert.equal(w.status, 'TERMINATED');
        assert.match(w.reasonForIncompletion, /customer left/);
        assert.equal((await call('GET', `/api/tasks/${task.taskId}`)).body.status, 'CANCELED');
        assertEmpty(await call('DELETE', `/api/workflow/${id}`), 'terminating a terminated workflow');

        const approval = await start(api, 'approval', { amount: 1 });
        await runUntil(engine, approval, (r) => r.status === 'waiting');
        await engine.signal(approval, 'manager_approval', { approved: true });
        await runUntil(engine, approval, (r) => r.status === 'completed');
        const completed = await call('DELETE', `/api/workflow/${approval}`);
        assert.deepEqual([completed.status, completed.body.status, completed.body.code], [409, 409, undefined]);
        assert.equal((await call('DELETE', '/api/workflow/nope')).status, 404);

        const waiting = await start(api, 'approval', { amount: 2 });
        await runUntil(engine, waiting, (r) => r.status === 'waiting');
        const kept = await start(api, 'approval', { amount: 3 });
        assertEmpty(await call('DELETE', `/api/workflow/${waiting}/remove`), 'a running workflow is removed too');
        assert.equal((await call('GET', `/api/workflow/${waiting}`)).status, 404, 'terminated, then removed');
        assertEmpty(await call('DELETE', `/api/workflow/${approval}/remove`), 'remove');
        assert.equal((await call('GET', `/api/workflow/${approval}`)).status, 404, 'gone with its history');
        assert.deepEqual(
          (await engine.listRuns({ workflow: 'approval' })).map((r) => r.id),
          [kept],
        );
        await runUntil(engine, kept, (r) => r.status === 'waiting');
        assertEmpty(await call('DELETE', `/api/workflow/${kept}/terminate-remove?reason=done`), 'terminate-remove');
        assert.equal((await call('GET', `/api/workflow/${kept}`)).status, 404);
        assertEmpty(await call('DELETE', `/api/workflow/${id}/remove`), 'remove a terminated one');
        assert.deepEqual(await engine.tasks.ofRun(id), [], 'its tasks went with it');
        assert.equal((await call('DELETE', '/api/workflow/nope/remove')).status, 404);
      });
    },
  );

  test(
    'pause stops scheduling new tasks (a task handed out may still be reported); ' +
      'resume goes on; 409 when finished or not paused',
    async () => {
      await withConductor(backend.store(), { workflows }, async (api) => {
        const { call, engine } = api;
        const id = await start(api, 'customer_onboarding', { customerId: 'c-7' });
        const task = await pollUntil(api, 'normalize_customer_profile');
        assertEmpty(await call('PUT', `/api/workflow/${id}/pause`), 'pause');
        await runUntil(engine, id, (r) => r.status === 'paused');
        assert.equal(await statusOf(api, id), 'PAUSED');
        assertEmpty(await call('PUT', `/api/workflow/${id}/pause`), 'pausing a PAUSED workflow');
        const report = await call('POST', '/api/tasks/update-v2', {
          taskId: task.taskId,
          status: 'COMPLETED',
          outputData: { email: 'p@example.com' },
        });
        assert.equal(report.status, 204);
        assert.equal((await call('GET', `/api/tasks/${task.taskId}`)).body.status, 'COMPLETED');
        assert.deepEqual(
          (await call('GET', '/api/tasks/poll/batch/send_welcome_email?timeout=300')).body,
          [],
          'nothing new is scheduled while paused',
        );
        assert.equal((await engine.getRun(id)).status, 'paused');
        const search = await call('GET', '/api/workflow/search?query=status%20IN%20(PAUSED)');
        assert.deepEqual(
          search.body.results.map((s: any) => s.workflowId),
          [id],
        );

        assertEmpty(await call('PUT', `/api/workflow/${id}/resume`), 'resume');
        const next = await pollUntil(api, 'send_welcome_email');
        assert.deepEqual(next.inputData, { to: 'p@example.com' });
        assert.equal(await statusOf(api, id), 'RUNNING');
        const notPaused = await call('PUT', `/api/workflow/${id}/resume`);
        assert.deepEqual([notPaused.status, notPaused.body.status], [409, 409]);
        await call('DELETE', `/api/workflow/${id}`);
        await runUntil(engine, id, (r) => r.status === 'cancelled');
        assert.equal((await call('PUT', `/api/workflow/${id}/pause`)).status, 409, 'pausing a finished workflow');
        assert.equal((await call('PUT', '/api/workflow/nope/pause')).status, 404);
      });
    },
  );

  test(
    'restart: 204 for a finished workflow (same id, ' + 'fresh tasks, same or latest version); 409 while it runs',
    async () => {
      await withConductor(backend.store(), { workflows }, async (api) => {
        const { call, engine } = api;
        const id = await start(api, 'customer_onboarding', { customerId: 'c-2' });
        await runUntil(engine, id, (r) => r.status === 'waiting');
        const busy = await call('POST', `/api/workflow/${id}/restart`);
        assert.deepEqual([busy.status, busy.body.code], [409, 'E_RUN_STATE']);
        await call('DELETE', `/api/workflow/${id}`);
        await runUntil(engine, id, (r) => r.status === 'cancelled');
        const before = (await call('GET', `/api/workflow/${id}`)).body.tasks[0].taskId;

        assertNoContent(await call('POST', `/api/workflow/${id}/restart`), 'restart');
        await runUntil(engine, id, (r) => r.status === 'waiting');
        const again = (await call('GET', `/api/workflow/${id}`)).body;
        assert.deepEqual(
          [again.status, again.version, again.tasks.length, again.tasks[0].status],
          ['RUNNING', 1, 1, 'SCHEDULED'],
        );
        assert.notEqual(again.tasks[0].taskId, before, 'the earlier attempt is not listed');

        await call('DELETE', `/api/workflow/${id}`);
        await runUntil(engine, id, (r) => r.status === 'cancelled');
        assertNoContent(
          await call('POST', `/api/workflow/${id}/restart?useLatestDefinitions=true`),
          'restart on the latest version',
        );
        await runUntil(engine, id, (r) => r.status === 'waiting');
        const latest = (await call('GET', `/api/workflow/${id}`)).body;
        assert.deepEqual([latest.version, latest.tasks.map((t: any) => t.referenceTaskName)], [3, ['verify']]);
      });
    },
  );

  test(
    'retry: a failed step re-executes (checkpoints before it kept), ' +
      'a parked step is retried; RUNNING is 404, COMPLETED 409',
    async () => {
      await withConductor(backend.store(), { workflows }, async (api) => {
        const { call, engine } = api;
        const flaky = await start(api, 'flaky_step', {});
        await runUntil(engine, flaky, (r) => r.status === 'failed');
        const failed = (await call('GET', `/api/workflow/${flaky}`)).body;
        assert.deepEqual(
          failed.tasks.map((t: any) => [t.referenceTaskName, t.status]),
          [
            ['prepare', 'COMPLETED'],
            ['charge', 'FAILED'],
          ],
        );
        assert.match(failed.tasks[1].reasonForIncompletion, /payment service is down/);
        assertNoContent(await call('POST', `/api/workflow/${flaky}/retry`), 'retry');
        const done = await runUntil(engine, flaky, (r) => r.status === 'completed');
        assert.deepEqual(done.output, { prepared: 'prepared', charged: 'charged' });
        const prepare = (await engine.history(flaky)).filter(
          (e) => e.type === 'step_completed' && e.name === 'prepare',
        );
        assert.equal(new Set(prepare.map((e) => e.at)).size, 1, 'prepare was not executed again');
        const completed = await call('POST', `/api/workflow/${flaky}/retry`);
        assert.deepEqual([completed.status, completed.body.status], [409, 409]);

        const parked = await start(api, 'parked_step', {});
        await runUntil(engine, parked, (r) => r.status === 'needs_attention');
        const view = (await call('GET', `/api/workflow/${parked}`)).body;
        assert.deepEqual([view.status, view.failedReferenceTaskNames], ['FAILED', ['reserve']]);
        assert.match(view.reasonForIncompletion, /reserve/);
        assertNoContent(await call('POST', `/api/workflow/${parked}/retry`), 'retry of a parked step');
        assert.deepEqual((await runUntil(engine, parked, (r) => r.status === 'completed')).output, {
          reserved: 'reserved',
        });

        const running = await start(api, 'approval', { amount: 1 });
        const refused = await call('POST', `/api/workflow/${running}/retry`);
        assert.deepEqual([refused.status, refused.body.status], [404, 404]);
        assert.match(refused.body.message, /still RUNNING/);
        assert.equal((await call('POST', '/api/workflow/nope/retry')).status, 404);

        const expiring = await start(api, 'expiring', {});
        await runUntil(engine, expiring, (r) => r.status === 'failed');
        assert.equal(await statusOf(api, expiring), 'TIMED_OUT');
        assert.equal(
          (await call('POST', `/api/workflow/${expiring}/retry`)).status,
          409,
          'nothing failed but its lifetime',
        );
      });
    },
  );

  test(
    'retry of a workflow whose worker task failed schedules that task again; ' + 'rerun from a task id does the same',
    async () => {
      await withConductor(backend.store(), { workflows }, async (api) => {
        const id = await start(api, 'customer_onboarding', { customerId: 'c-4' });
        const task = await pollUntil(api, 'normalize_customer_profile');
        await api.call('POST', '/api/tasks', {
          taskId: task.taskId,
          status: 'FAILED_WITH_TERMINAL_ERROR',
          reasonForIncompletion: 'no',
        });
        await runUntil(api.engine, id, (r) => r.status === 'failed');
        const retried = await api.call('POST', `/api/workflow/${id}/retry`);
        assert.equal(retried.status, 204);
        const again = await pollUntil(api, 'normalize_customer_profile');
        assert.notEqual(again.taskId, task.taskId, 'a new attempt of the same task');
        await api.call('POST', '/api/tasks', {
          taskId: again.taskId,
          status: 'FAILED_WITH_TERMINAL_ERROR',
          reasonForIncompletion: 'still no',
        });
        await runUntil(api.engine, id, (r) => r.status === 'failed' && r.error?.message.includes('still no') === true);
        const rerun = await api.call('POST', `/api/workflow/${id}/rerun`, { reRunFromTaskId: again.taskId });
        assert.deepEqual([rerun.status, rerun.text], [200, id]);
        const third = await pollUntil(api, 'normalize_customer_profile');
        assert.notEqual(third.taskId, again.taskId);
        const operations = (await api.engine.history(id))
          .filter((e) => e.type === 'operator_action')
          .map((e) => (e.data as { action: string }).action);
        assert.deepEqual(operations, ['rerun', 'rerun'], 'both recorded');
      });
    },
  );

  test(
    'rerun: text/plain same id, from the start or from a step, ' + 'with a new input; finished workflows only',
    async () => {
      await withConductor(backend.store(), { workflows }, async (api) => {
        const { call, engine } = api;
        const id = await start(api, 'flaky_step', { order: 1 });
        await runUntil(engine, id, (r) => r.status === 'failed');
        const step = (await call('GET', `/api/workflow/${id}`)).body.tasks.find(
          (t: any) => t.referenceTaskName === 'charge',
        );
        const rerun = await call('POST', `/api/workflow/${id}/rerun`, {
          reRunFromTaskId: step.taskId,
          workflowInput: { order: 2 },
          taskInput: {},
          correlationId: 'c',
        });
        assert.deepEqual([rerun.status, rerun.headers['content-type'], rerun.text], [200, TEXT, id]);
        const done = await runUntil(engine, id, (r) => r.status === 'completed');
        assert.deepEqual(done.input, { order: 2 });

        const fromStart = await call('POST', `/api/workflow/${id}/rerun`, {});
        assert.deepEqual([fromStart.status, fromStart.text], [200, id]);
        await runUntil(engine, id, (r) => r.status === 'completed' && r.updatedAt > done.updatedAt);
        assert.equal((await call('POST', `/api/workflow/${id}/rerun`, { reRunFromTaskId: 'nope' })).status, 404);
        assert.equal((await call('POST', `/api/workflow/${id}/rerun`, { taskInput: { x: 1 } })).status, 400);

        const running = await start(api, 'approval', { amount: 1 });
        const refused = await call('POST', `/api/workflow/${running}/rerun`, {});
        assert.deepEqual([refused.status, refused.body.status], [409, 409]);
      });
    },
  );

  test(
    'skiptask completes an open task, a parked step (SKIPPED) ' +
      'or an awaited signal with taskOutput; 409 when there is nothing to skip',
    async () => {
      await withConductor(backend.store(), { workflows }, async (api) => {
        const { call, engine } = api;
        const id = await start(api, 'customer_onboarding', { customerId: 'c-5' });
        await runUntil(engine, id, (r) => r.status === 'waiting');
        assertEmpty(
          await call('PUT', `/api/workflow/${id}/skiptask/normalize_profile`, {
            taskOutput: { email: 'skipped@example.com' },
            taskInput: {},
          }),
          'skip',
        );
        const next = await pollUntil(api, 'send_welcome_email');
        assert.deepEqual(next.inputData, { to: 'skipped@example.com' });
        const nothing = await call('PUT', `/api/workflow/${id}/skiptask/verify`);
        assert.deepEqual([nothing.status, nothing.body.status], [409, 409]);

        const parked = await start(api, 'parked_step', {});
        await runUntil(engine, parked, (r) => r.status === 'needs_attention');
        assertEmpty(
          await call('PUT', `/api/workflow/${parked}/skiptask/reserve`, { taskOutput: { manual: true } }),
          'skip a parked step',
        );
        assert.deepEqual((await runUntil(engine, parked, (r) => r.status === 'completed')).output, {
          reserved: { manual: true },
        });
        const reserve = (await call('GET', `/api/workflow/${parked}`)).body.tasks[0];
        assert.deepEqual(
          [reserve.referenceTaskName, reserve.status, reserve.outputData],
          ['reserve', 'SKIPPED', { manual: true }],
        );

        const approval = await start(api, 'approval', { amount: 4 });
        await runUntil(engine, approval, (r) => r.status === 'waiting');
        assertEmpty(
          await call('PUT', `/api/workflow/${approval}/skiptask/manager_approval`, { taskOutput: { approved: true } }),
          'skip a signal wait',
        );
        assert.deepEqual((await runUntil(engine, approval, (r) => r.status === 'completed')).output, {
          decision: { approved: true },
          note: 'recorded 4',
        });
        assert.equal(
          (await call('PUT', `/api/workflow/${approval}/skiptask/manager_approval`)).status,
          409,
          'finished',
        );
      });
    },
  );

  test(
    'upgrade moves a running workflow to a version that replays its history; ' + 'a divergence is 409 with the reason',
    async () => {
      await withConductor(backend.store(), { workflows }, async (api) => {
        const { call, engine } = api;
        const id = await start(api, 'customer_onboarding', { customerId: 'c-6' });
        const task = await pollUntil(api, 'normalize_customer_profile');
        const diverging = await call('POST', `/api/workflow/${id}/upgrade`, {
          name: 'customer_onboarding',
          version: 3,
        });
        assert.deepEqual([diverging.status, diverging.body.code], [409, 'E_NONDETERMINISM']);
        assert.match(diverging.body.message, /verify_identity/);
        assert.equal((await engine.getRun(id)).version, 1, 'nothing changed');
        assert.deepEqual(
          (await call('POST', `/api/workflow/${id}/upgrade`, { name: 'approval', version: 2 })).body.validationErrors[0]
            .path,
          'name',
        );
        assert.deepEqual(
          (await call('POST', `/api/workflow/${id}/upgrade`, { name: 'customer_onboarding' })).body.validationErrors[0]
            .path,
          'version',
        );
        assert.equal(
          (
            await call('POST', `/api/workflow/${id}/upgrade`, {
              name: 'customer_onboarding',
              version: 2,
              taskOutput: { normalize_profile: {} },
            })
          ).status,
          400,
        );

        assertEmpty(
          await call('POST', `/api/workflow/${id}/upgrade`, {
            name: 'customer_onboarding',
            version: 2,
            taskOutput: {},
            workflowInput: {},
          }),
          'upgrade',
        );
        assert.equal((await call('GET', `/api/workflow/${id}`)).body.version, 2);
        await call('POST', '/api/tasks', { taskId: task.taskId, status: 'COMPLETED', outputData: { email: 'e' } });
        const email = await pollUntil(api, 'send_welcome_email');
        await call('POST', '/api/tasks', { taskId: email.taskId, status: 'COMPLETED', outputData: {} });
        assert.equal(
          ((await runUntil(engine, id, (r) => r.status === 'completed')).output as { version: number }).version,
          2,
        );
      });
    },
  );

  test('bulk operations answer {bulkErrorResults, bulkSuccessfulResults}', async () => {
    await withConductor(backend.store(), { workflows }, async (api) => {
      const { call, engine } = api;
      const a = await start(api, 'approval', { amount: 1 });
      const b = await start(api, 'approval', { amount: 2 });
      for (const id of [a, b]) await runUntil(engine, id, (r) => r.status === 'waiting');
      const terminated = await call('POST', '/api/workflow/bulk/terminate?reason=cleanup', [a, b, 'nope']);
      assert.equal(terminated.status, 200);
      assert.deepEqual(terminated.body.bulkSuccessfulResults, [a, b]);
      assert.deepEqual(Object.keys(terminated.body.bulkErrorResults), ['nope']);
      for (const id of [a, b]) await runUntil(engine, id, (r) => r.status === 'cancelled');
      const restarted = await call('POST', '/api/workflow/bulk/restart', [a]);
      assert.deepEqual(restarted.body, { bulkErrorResults: {}, bulkSuccessfulResults: [a] });
      await runUntil(engine, a, (r) => r.status === 'waiting');
      const retried = await call('POST', '/api/workflow/bulk/retry', [a]);
      assert.deepEqual([retried.body.bulkSuccessfulResults, Object.keys(retried.body.bulkErrorResults)], [[], [a]]);
      const paused = await call('PUT', '/api/workflow/bulk/pause', [a, b]);
      assert.deepEqual(paused.body.bulkSuccessfulResults, [a]);
      assert.match(paused.body.bulkErrorResults[b], /TERMINATED/);
      await runUntil(engine, a, (r) => r.status === 'paused');
      assert.deepEqual((await call('PUT', '/api/workflow/bulk/resume', [a])).body, {
        bulkErrorResults: {},
        bulkSuccessfulResults: [a],
      });
      const removed = await call('DELETE', '/api/workflow/bulk/remove', [b, 'nope']);
      assert.deepEqual(
        [removed.body.bulkSuccessfulResults, Object.keys(removed.body.bulkErrorResults)],
        [[b], ['nope']],
        'the terminated one goes; an unknown one is an error',
      );
      const both = await call('POST', '/api/workflow/bulk/terminate-remove', [a]);
      assert.deepEqual(
        both.body,
        { bulkErrorResults: {}, bulkSuccessfulResults: [a] },
        'the running one: terminated, removed',
      );
      assert.equal((await call('GET', `/api/workflow/${a}`)).status, 404);
      assert.equal((await call('POST', '/api/workflow/bulk/terminate', { ids: [a] })).status, 400);
    });
  });
});
