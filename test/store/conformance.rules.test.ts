/**
 * The rules every store applies when a commit changes a run (src/store/commit-rules.ts), checked once against
 * every store: due after a commit (at rest, pending action, what it waits for came meanwhile), lock hand-over,
 * and no run executing without its lock after an operator's change.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PendingAction } from '../../src/store/types.js';
import { forEachBackend } from '../helpers.js';
import { claimIds, commitOne, served, storeWithRun, waitForSignal } from './conformance-setup.js';

const cancel: PendingAction = { action: 'cancel', actor: 'op', reason: 'stop it', at: 1 };

forEachBackend((backend) => {
  test('rule 1: a run that comes to rest is never due, whatever due time its commit gives', async () => {
    const { store } = await storeWithRun(backend);
    await store.claimRuns('worker-a', served, 10, 10_000);
    assert.equal(await store.setPendingAction('r1', cancel), true);
    const attention = { name: 'Error', message: 'unknown outcome', details: { reason: 'unknown_outcome' } };
    const parked = await commitOne(store, {
      runId: 'r1',
      workerId: 'worker-a',
      fromPos: 1,
      update: { status: 'needs_attention', attention, dueAt: Date.now(), releaseLease: true },
    });
    assert.deepEqual(parked, { ok: true, pendingAction: cancel });
    const [group] = await store.inFlightGroups();
    assert.deepEqual(
      [group?.status, group?.earliestDueAt, group?.unscheduled],
      ['needs_attention', null, 1],
      'no due time, even with an action pending',
    );
    await commitOne(store, {
      runId: 'r1',
      workerId: 'op',
      fromPos: 1,
      asOperator: true,
      update: { status: 'running' },
    });
    assert.deepEqual(await claimIds(store, 'worker-b'), [], 'back to running with no due time: not claimable');
    await store.close();
  });

  test('rule 2: an operator action left while the run suspends makes it due; the next claim carries it', async () => {
    const { store } = await storeWithRun(backend);
    await store.claimRuns('worker-a', served, 10, 10_000);
    assert.equal(await store.setPendingAction('r1', cancel), true, 'the run is leased: the action is left for it');
    const kept = await commitOne(store, {
      runId: 'r1',
      workerId: 'worker-a',
      fromPos: 1,
      update: { status: 'running' },
    });
    assert.deepEqual(kept, { ok: true, pendingAction: cancel }, 'every commit of the worker hears of it');
    assert.deepEqual(await claimIds(store, 'worker-b'), [], 'a commit that keeps the lease keeps the run');

    const suspended = await commitOne(store, {
      runId: 'r1',
      workerId: 'worker-a',
      fromPos: 1,
      update: waitForSignal('go'),
    });
    assert.deepEqual(suspended, { ok: true, pendingAction: cancel });
    const [claimed] = await store.claimRuns('worker-b', served, 10, 10_000);
    assert.deepEqual([claimed?.run.id, claimed?.pendingAction], ['r1', cancel], 'due at once, with the action');

    const cleared = await commitOne(store, {
      runId: 'r1',
      workerId: 'worker-b',
      fromPos: 1,
      update: { ...waitForSignal('go'), clearPendingAction: true },
    });
    assert.deepEqual(cleared, { ok: true }, 'applied: no longer pending');
    assert.deepEqual(await claimIds(store, 'worker-c'), [], 'a suspension after it is not due');
    assert.equal(await store.setPendingAction('r1', cancel), false, 'not leased: the caller applies it itself');
    const resume = { status: 'running' as const, dueAt: 0 };
    await commitOne(store, { runId: 'r1', workerId: 'op', fromPos: 1, asOperator: true, update: resume });
    const [again] = await store.claimRuns('worker-c', served, 10, 10_000);
    assert.deepEqual([again?.run.id, again?.pendingAction], ['r1', undefined], 'the refused action was not stored');
    await store.close();
  });

  test('rule 3: suspending while a matching signal is already in the inbox makes the run due at once', async () => {
    const { store } = await storeWithRun(backend);
    await store.claimRuns('worker-a', served, 10, 10_000);
    await store.sendSignal('r1', 'go', 1); // arrives while the run is executing (status running)
    const waitingFor = { kind: 'signal' as const, seq: 0, name: 'go', signals: ['go'] };
    await store.commit(
      [
        {
          runId: 'r1',
          workerId: 'worker-a',
          fromPos: 1,
          events: [],
          update: { status: 'waiting', waitingFor, dueAt: null, releaseLease: true },
        },
      ],
      10_000,
    );
    assert.equal((await store.claimRuns('worker-b', served, 10, 10_000)).length, 1);
    await store.close();
  });

  test('rule 3: a suspension on tasks whose report came while the run executed is due at once', async () => {
    const { store } = await storeWithRun(backend);
    await store.claimRuns('worker-a', served, 10, 10_000);
    const task = {
      taskId: 't1',
      runId: 'r1',
      workflow: 'w',
      version: 1,
      seq: 0,
      attempt: 1,
      taskType: 'work',
      refName: 'work',
      input: null,
      responseTimeoutMs: 60_000,
      timeoutMs: 0,
      visibleAt: 0,
    };
    const scheduled = {
      type: 'task_scheduled' as const,
      seq: 0,
      name: 'work',
      data: { taskId: 't1', attempt: 1, ref: 'work', input: null, visibleAt: 0 },
    };
    // Held hot: the task is scheduled, the run keeps executing (and its lease).
    await commitOne(store, { runId: 'r1', workerId: 'worker-a', fromPos: 1, events: [scheduled], newTasks: [task] });
    await store.tasks.poll('work', 'remote', 1);
    await store.tasks.report('t1', { status: 'COMPLETED', output: 7 });
    const waitingFor = { kind: 'task' as const, seq: 0, name: 'work', tasks: ['work'] };
    await commitOne(store, {
      runId: 'r1',
      workerId: 'worker-a',
      fromPos: 2,
      update: { status: 'waiting', waitingFor, dueAt: null, releaseLease: true },
    });
    const [claimed] = await store.claimRuns('worker-b', served, 10, 10_000);
    assert.deepEqual(
      claimed?.taskOutcomes?.map((t) => [t.taskId, t.output]),
      [['t1', 7]],
      'due at once, with the report',
    );
    await store.close();
  });

  test('rule 3: a signal the suspending commit consumes does not wake it; one still in the inbox does', async () => {
    const { store } = await storeWithRun(backend);
    await store.claimRuns('worker-a', served, 10, 10_000);
    const first = await store.sendSignal('r1', 'go', 1);
    const received = { type: 'signal_received' as const, seq: 0, name: 'go', data: { payload: 1, signalId: first.id } };
    await commitOne(store, {
      runId: 'r1',
      workerId: 'worker-a',
      fromPos: 1,
      events: [received],
      consumedSignals: [first.id],
      update: waitForSignal('go'),
    });
    assert.deepEqual(await claimIds(store, 'worker-b'), [], 'the consumed signal wakes nothing');
    await store.sendSignal('r1', 'go', 2);
    assert.deepEqual(await claimIds(store, 'worker-b'), ['r1']);
    await store.close();
  });

  test('lock hand-over: an ended holder hands its lock to the oldest queued run; one suspended keeps it', async () => {
    const { store } = await storeWithRun(backend);
    const lock = (key: string) => ({ key, onConflict: 'queue' as const });
    for (const [id, key] of [
      ['holder', 'k'],
      ['q-1', 'k'],
      ['q-2', 'k'],
      ['elsewhere', 'other'],
    ] as const)
      await store.createRuns([{ id, workflow: 'w', version: 1, input: null, lock: lock(key) }], 1000);
    assert.deepEqual(await claimIds(store, 'worker-a'), ['elsewhere', 'holder', 'r1'], 'the queued runs wait');
    const sleep = { kind: 'sleep' as const, seq: 0, until: 0 };
    await commitOne(store, {
      runId: 'holder',
      workerId: 'worker-a',
      fromPos: 1,
      update: { status: 'waiting', waitingFor: sleep, dueAt: 0, releaseLease: true },
    });
    assert.deepEqual(await claimIds(store, 'worker-b'), ['holder'], 'suspended, it keeps its lock');
    await commitOne(store, { runId: 'holder', workerId: 'worker-b', fromPos: 1, update: { status: 'failed' } });
    const [q1, q2] = [await store.getRun('q-1'), await store.getRun('q-2')];
    assert.deepEqual([q1?.status, q1?.waitingFor], ['waiting', undefined], 'the oldest is granted the lock');
    assert.deepEqual(q2?.waitingFor, { kind: 'lock', name: 'k' }, 'the next one stays queued');
    assert.deepEqual(await claimIds(store, 'worker-c'), ['q-1'], 'granted and due at once');
    await commitOne(store, { runId: 'q-1', workerId: 'worker-c', fromPos: 1, update: { status: 'completed' } });
    assert.deepEqual(await claimIds(store, 'worker-c'), ['q-2'], 'and so on down the queue');
    assert.deepEqual((await store.getRun('elsewhere'))?.status, 'running', 'another key is not touched');
    await store.close();
  });

  test('after an operator change a run queued for a free lock takes it and is due; a paused one does not', async () => {
    const { store } = await storeWithRun(backend);
    const lock = { key: 'k', onConflict: 'queue' as const };
    await store.createRuns([{ id: 'holder', workflow: 'w', version: 1, input: null, lock }], 1000);
    await store.createRuns([{ id: 'queued', workflow: 'w', version: 1, input: null, lock }], 1000);
    const operator = { runId: 'queued', workerId: 'op', fromPos: 1, asOperator: true };
    await commitOne(store, { ...operator, update: { status: 'paused' } });
    await store.claimRuns('worker-a', served, 10, 10_000);
    await commitOne(store, { runId: 'holder', workerId: 'worker-a', fromPos: 1, update: { status: 'completed' } });
    assert.deepEqual((await store.getRun('queued'))?.status, 'paused', 'a paused run is not handed the lock');
    await commitOne(store, { ...operator, update: { status: 'waiting', releaseLease: true } });
    const resumed = await store.getRun('queued');
    assert.deepEqual([resumed?.status, resumed?.waitingFor], ['waiting', undefined], 'it took the free lock');
    assert.deepEqual(await claimIds(store, 'worker-b'), ['queued'], 'and is due');
    await store.createRuns([{ id: 'late', workflow: 'w', version: 1, input: null, lock }], 1000);
    assert.deepEqual((await store.getRun('late'))?.waitingFor, { kind: 'lock', name: 'k' }, 'it holds the lock now');
    await store.close();
  });
});
