/** The conformance suite's task-queue cases beyond poll and report: lookups, attempts, queue sizes, time-outs. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NewTask } from '../../src/core/tasks.js';
import type { Store } from '../../src/store/types.js';
import { forEachBackend } from '../helpers.js';
import { commitOne, served, storeWithRun } from './conformance-setup.js';

/** A task attempt of r1 at `seq`, of `taskType`, that times out `responseTimeoutMs` after each poll. */
function attempt(seq: number, n: number, taskType = 'work', responseTimeoutMs = 60_000): NewTask {
  return {
    taskId: `t-${seq}-${n}`,
    runId: 'r1',
    workflow: 'w',
    version: 1,
    seq,
    attempt: n,
    taskType,
    refName: `ref-${seq}`,
    input: { seq },
    responseTimeoutMs,
    timeoutMs: 0,
    visibleAt: 0,
  };
}

/** r1, claimed by worker-a, schedules `tasks` and suspends waiting for them. */
async function suspendOn(store: Store, tasks: NewTask[]): Promise<void> {
  await store.claimRuns('worker-a', served, 10, 10_000);
  const events = tasks.map((t) => ({
    type: 'task_scheduled' as const,
    seq: t.seq,
    name: t.refName,
    data: { taskId: t.taskId, attempt: t.attempt, ref: t.refName, input: t.input, visibleAt: 0 },
  }));
  const waitingFor = { kind: 'task' as const, seq: 0, name: 'ref-0', tasks: tasks.map((t) => t.refName) };
  const outcome = await commitOne(store, {
    runId: 'r1',
    workerId: 'worker-a',
    fromPos: 1,
    events,
    newTasks: tasks,
    update: { status: 'waiting', waitingFor, dueAt: null, releaseLease: true },
  });
  assert.deepEqual(outcome, { ok: true });
}

forEachBackend((backend) => {
  test("tasks.get finds an attempt, ofRun lists a run's attempts in order, queueSize counts queued ones", async () => {
    const { store } = await storeWithRun(backend);
    await suspendOn(store, [attempt(1, 1, 'other'), attempt(0, 2), attempt(0, 1)]);
    const got = await store.tasks.get('t-0-2');
    assert.deepEqual([got?.status, got?.attempt, got?.input, got?.pollCount], ['SCHEDULED', 2, { seq: 0 }, 0]);
    assert.equal(await store.tasks.get('missing'), undefined);
    assert.deepEqual(
      (await store.tasks.ofRun('r1')).map((t) => t.taskId),
      ['t-0-1', 't-0-2', 't-1-1'],
    );
    assert.deepEqual(await store.tasks.ofRun('missing'), []);
    assert.deepEqual([await store.tasks.queueSize('work'), await store.tasks.queueSize('other')], [2, 1]);
    await store.tasks.poll('work', 'remote', 1);
    assert.equal(await store.tasks.queueSize('work'), 1, 'an attempt handed out is no longer queued');
    assert.equal(await store.tasks.queueSize('none'), 0);
    await store.close();
  });

  test('tasks.search narrows by type, status and run, newest update first, at most limit', async () => {
    const { store } = await storeWithRun(backend);
    await suspendOn(store, [attempt(1, 1, 'other'), attempt(0, 1)]);
    const [polled] = await store.tasks.poll('work', 'remote', 1);
    assert.equal(polled?.taskId, 't-0-1');
    const ids = async (filter: Parameters<Store['tasks']['search']>[0]) =>
      (await store.tasks.search(filter)).map((t) => t.taskId);
    assert.deepEqual(await ids({ limit: 10 }), ['t-0-1', 't-1-1'], 'the one polled last was updated last');
    assert.deepEqual(await ids({ taskTypes: ['other'], limit: 10 }), ['t-1-1']);
    assert.deepEqual(await ids({ statuses: ['IN_PROGRESS'], limit: 10 }), ['t-0-1']);
    assert.deepEqual(await ids({ statuses: ['SCHEDULED', 'IN_PROGRESS'], taskTypes: ['work'], limit: 10 }), ['t-0-1']);
    assert.deepEqual(await ids({ runIds: ['missing'], limit: 10 }), []);
    assert.deepEqual(await ids({ runIds: ['r1'], limit: 1 }), ['t-0-1'], 'at most limit');
    await store.close();
  });

  test('tasks.timeOut times out attempts whose worker missed its response timeout, and wakes their run', async () => {
    const { store } = await storeWithRun(backend);
    await suspendOn(store, [attempt(0, 1, 'work', 1), attempt(1, 1, 'slow')]);
    await store.tasks.poll('work', 'remote', 1);
    await store.tasks.poll('slow', 'remote', 1);
    await new Promise((resolve) => setTimeout(resolve, 20)); // past the 1 ms response timeout
    assert.equal(await store.tasks.timeOut(), 1, 'only the attempt that missed its deadline');
    const late = await store.tasks.get('t-0-1');
    assert.equal(late?.status, 'TIMED_OUT');
    assert.match(late?.reason ?? '', /no report from worker remote within 1 ms/);
    assert.equal((await store.tasks.get('t-1-1'))?.status, 'IN_PROGRESS');
    const [claimed] = await store.claimRuns('worker-b', served, 10, 10_000);
    assert.deepEqual(
      claimed?.taskOutcomes?.map((t) => [t.taskId, t.status]),
      [['t-0-1', 'TIMED_OUT']],
      'the run is due, with the time-out',
    );
    assert.equal(await store.tasks.timeOut(), 0, 'timed out once');
    await store.close();
  });
});
