/**
 * The conformance suite's cases for what the dashboard reads: poll data, queue depths, deploy reports, and run
 * pages filtered by attention, by being stuck and by start time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../../src/store/open.js';
import { forEachBackend } from '../helpers.js';
import { commitOne, served, storeWithRun, taskOf } from './conformance-setup.js';

forEachBackend((backend) => {
  test('queues.recordPoll upserts the last poll per (type, domain, worker), never moving it back', async () => {
    const store = await openStore(backend.store());
    await store.queues.recordPoll({ taskType: 'pay', domain: null, workerId: 'w1', lastPollAt: 1_000 });
    await store.queues.recordPoll({ taskType: 'pay', domain: null, workerId: 'w1', lastPollAt: 3_000 });
    await store.queues.recordPoll({ taskType: 'pay', domain: null, workerId: 'w1', lastPollAt: 2_000 });
    await store.queues.recordPoll({ taskType: 'pay', domain: 'eu', workerId: 'w1', lastPollAt: 1_500 });
    await store.queues.recordPoll({ taskType: 'ship', domain: null, workerId: 'w2', lastPollAt: 4_000 });
    assert.deepEqual(await store.queues.pollData('pay'), [
      { taskType: 'pay', domain: null, workerId: 'w1', lastPollAt: 3_000 },
      { taskType: 'pay', domain: 'eu', workerId: 'w1', lastPollAt: 1_500 },
    ]);
    assert.deepEqual(
      (await store.queues.pollData()).map((p) => [p.taskType, p.domain, p.workerId]),
      [
        ['pay', null, 'w1'],
        ['pay', 'eu', 'w1'],
        ['ship', null, 'w2'],
      ],
    );
    assert.deepEqual(await store.queues.pollData('nothing'), []);
    await store.close();
  });

  test('queues.depths counts SCHEDULED and IN_PROGRESS tasks per type and domain (none here)', async () => {
    const { store } = await storeWithRun(backend);
    await store.claimRuns('worker-a', served, 10, 10_000);
    const tasks = [taskOf('t1', 'pay', 0), taskOf('t2', 'pay', 0), taskOf('t3', 'ship', 0)];
    assert.deepEqual(await commitOne(store, { runId: 'r1', workerId: 'worker-a', fromPos: 1, newTasks: tasks }), {
      ok: true,
    });
    await store.tasks.poll('pay', 'remote', 1);
    await store.tasks.poll('ship', 'remote', 1);
    assert.deepEqual(await store.queues.depths(), [
      { taskType: 'pay', domain: null, depth: 1, inProgress: 1, oldestVisibleAt: 0 },
      { taskType: 'ship', domain: null, depth: 0, inProgress: 1, oldestVisibleAt: null },
    ]);
    await store.close();
  });

  test('deployReports.add keeps a report; list gives the newest first without it; get gives it whole', async () => {
    const store = await openStore(backend.store());
    const before = Date.now();
    const first = await store.deployReports.add({
      kind: 'check',
      source: 'cli',
      actor: 'ana',
      summary: { safe: true },
      report: { safe: true, workflows: [{ name: 'x\u0000y' }] },
    });
    const second = await store.deployReports.add({
      kind: 'plan',
      source: 'http',
      actor: null,
      summary: { safe: false },
      report: { safe: false },
    });
    assert.ok(second.id > first.id);
    assert.ok(first.createdAt.getTime() >= before - 1_000 && first.createdAt.getTime() <= Date.now() + 1_000);
    const listed = await store.deployReports.list(50);
    assert.deepEqual(
      listed.map((r) => [r.id, r.kind, r.source, r.actor, r.summary]),
      [
        [second.id, 'plan', 'http', null, { safe: false }],
        [first.id, 'check', 'cli', 'ana', { safe: true }],
      ],
    );
    assert.equal('report' in listed[0]!, false, 'lists carry no full reports');
    assert.deepEqual(
      (await store.deployReports.list(1)).map((r) => r.id),
      [second.id],
    );
    assert.deepEqual(await store.deployReports.get(first.id), first);
    assert.deepEqual(first.report, { safe: true, workflows: [{ name: 'x\u0000y' }] });
    assert.equal(await store.deployReports.get(second.id + 100), undefined);
    await store.close();
  });

  test('pageRuns filters by attention, by last change of in-flight runs and by start time', async () => {
    const store = await openStore(backend.store());
    await store.registerWorkflowVersions([{ workflow: 'w', version: 1, fingerprint: 'f1' }]);
    for (const id of ['a', 'b', 'c', 'd'])
      await store.createRuns([{ id, workflow: 'w', version: 1, input: null }], 1000);
    const all = await store.pageRuns({});
    const at = new Map(all.runs.map((r) => [r.id, r.createdAt.getTime()]));
    await store.claimRuns('worker-a', served, 10, 10_000);
    const attention = { name: 'Error', message: 'parked' };
    const parked = { status: 'needs_attention' as const, attention, releaseLease: true };
    assert.deepEqual(await commitOne(store, { runId: 'a', workerId: 'worker-a', fromPos: 1, update: parked }), {
      ok: true,
    });
    const waiting = { status: 'waiting' as const, attention, dueAt: null, releaseLease: true };
    assert.deepEqual(await commitOne(store, { runId: 'b', workerId: 'worker-a', fromPos: 1, update: waiting }), {
      ok: true,
    });
    const done = { status: 'completed' as const, output: 1, releaseLease: true };
    assert.deepEqual(await commitOne(store, { runId: 'c', workerId: 'worker-a', fromPos: 1, update: done }), {
      ok: true,
    });
    const ids = async (query: Parameters<typeof store.pageRuns>[0]) =>
      (await store.pageRuns(query)).runs.map((r) => r.id).sort();
    assert.deepEqual(await ids({ attention: true }), ['a', 'b']);
    assert.deepEqual(await ids({ attention: true, status: 'waiting' }), ['b']);
    const future = Date.now() + 60_000;
    assert.deepEqual(await ids({ updatedBefore: future }), ['a', 'b', 'd'], 'finished runs are never stuck');
    assert.deepEqual(await ids({ updatedBefore: 0 }), []);
    const d = (await store.getRun('d'))!;
    assert.deepEqual(await ids({ updatedBefore: d.updatedAt.getTime() + 1 }).then((r) => r.includes('d')), true);
    assert.deepEqual(await ids({ updatedBefore: d.updatedAt.getTime() }).then((r) => r.includes('d')), false);
    const bAt = at.get('b')!;
    const after = await ids({ startedAfter: bAt });
    assert.deepEqual(
      after,
      [...at]
        .filter(([, t]) => t >= bAt)
        .map(([id]) => id)
        .sort(),
    );
    const before = await ids({ startedBefore: bAt });
    assert.deepEqual(
      before,
      [...at]
        .filter(([, t]) => t < bAt)
        .map(([id]) => id)
        .sort(),
    );
    assert.deepEqual(await ids({ startedAfter: bAt, startedBefore: bAt }), []);
    const page = await store.pageRuns({ attention: true, limit: 1 });
    assert.equal(page.runs.length, 1);
    const rest = await store.pageRuns({ attention: true, limit: 1, cursor: page.next });
    assert.deepEqual([page.runs[0]!.id, rest.runs[0]!.id].sort(), ['a', 'b'], 'paged by the same cursor');
    assert.equal(rest.next, undefined);
    await store.close();
  });
});
