/**
 * The conformance suite's cases for what metrics, traces and probes read: task backlogs, lost workers, readiness,
 * the due time of a claim, and the traceparents a run's start and a task keep.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../../src/store/open.js';
import { forEachBackend, rejectsWith } from '../helpers.js';
import { commitOne, served, storeWithRun, taskOf as task } from './conformance-setup.js';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

forEachBackend((backend) => {
  test('tasks.backlog counts SCHEDULED tasks per type and dates the oldest pollable one', async () => {
    const { store } = await storeWithRun(backend);
    await store.claimRuns('worker-a', served, 10, 10_000);
    const before = Date.now();
    const tasks = [task('t1', 'pay', 0), task('t2', 'pay', before - 5_000), task('t3', 'ship', before + 60_000)];
    assert.deepEqual(await commitOne(store, { runId: 'r1', workerId: 'worker-a', fromPos: 1, newTasks: tasks }), {
      ok: true,
    });
    assert.deepEqual(await store.tasks.backlog(), [
      { taskType: 'pay', depth: 2, oldestVisibleAt: 0 },
      { taskType: 'ship', depth: 1, oldestVisibleAt: null },
    ]);
    await store.tasks.poll('pay', 'remote', 1);
    const [pay] = await store.tasks.backlog();
    assert.deepEqual(pay, { taskType: 'pay', depth: 1, oldestVisibleAt: before - 5_000 }, 'the polled one is gone');
    await store.close();
  });

  test('removeLostWorkers forgets expired workers once and returns them; live ones stay', async () => {
    const store = await openStore(backend.store());
    await store.heartbeat('worker-a', served, 10_000);
    await store.heartbeat('worker-b', [{ workflow: 'w', version: 2 }], 1);
    await new Promise((resolve) => setTimeout(resolve, 20)); // past worker-b's 1 ms heartbeat
    const lost = await store.removeLostWorkers();
    assert.deepEqual(
      lost.map((w) => [w.workerId, w.served]),
      [['worker-b', [{ workflow: 'w', version: 2 }]]],
    );
    assert.ok(lost[0]!.heartbeatAt instanceof Date);
    assert.deepEqual(await store.removeLostWorkers(), [], 'each lost worker is returned once');
    assert.deepEqual(
      (await store.liveWorkers()).map((w) => w.workerId),
      ['worker-a'],
    );
    await store.close();
  });

  test('checkReady resolves on an open, migrated store and throws E_STORE once it does not answer', async () => {
    const store = await openStore(backend.store());
    await store.checkReady();
    await store.close();
    const error = await rejectsWith(store.checkReady(), 'E_STORE');
    assert.match(error.message, /does not answer/);
  });

  test('a claim gives the due time of the run; a start and a task keep their traceparents', async () => {
    const store = await openStore(backend.store());
    await store.registerWorkflowVersions([{ workflow: 'w', version: 1, fingerprint: 'f1' }]);
    const before = Date.now();
    const [created] = await store.createRuns(
      [{ id: 'r1', workflow: 'w', version: 1, input: null, traceparent: TRACEPARENT }],
      1000,
    );
    assert.ok(created && 'run' in created && created.created);
    const [claimed] = await store.claimRuns('worker-a', served, 10, 10_000);
    assert.ok(claimed?.dueAt !== undefined && claimed.dueAt >= before - 1 && claimed.dueAt <= Date.now());
    assert.equal((claimed.history[0]!.data as { traceparent?: string }).traceparent, TRACEPARENT);
    const tasks = [task('t1', 'pay', 0, TRACEPARENT), task('t2', 'pay', 0)];
    await commitOne(store, { runId: 'r1', workerId: 'worker-a', fromPos: 1, newTasks: tasks });
    const polled = (await store.tasks.poll('pay', 'remote', 2)).sort((a, b) => a.taskId.localeCompare(b.taskId));
    assert.deepEqual(
      polled.map((t) => [t.taskId, t.traceparent]),
      [
        ['t1', TRACEPARENT],
        ['t2', undefined],
      ],
    );
    assert.equal('traceparent' in polled[1]!, false, 'a task without one has no traceparent field');
    await store.close();
  });
});
