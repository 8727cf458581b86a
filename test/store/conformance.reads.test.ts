/** The conformance suite's read cases: run lists, pages, in-flight groups, patch usage, refused signals, wake-ups. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WaymarkError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { forEachBackend } from '../helpers.js';
import { commitOne, served, storeWithRun, waitForSignal } from './conformance-setup.js';

/** Besides r1 (running): r2 (correlation 'c-1') completed, r3 of version 2 running. */
async function storeWithThreeRuns(backend: Parameters<typeof storeWithRun>[0]): Promise<Store> {
  const { store } = await storeWithRun(backend);
  await store.createRuns([{ id: 'r2', workflow: 'w', version: 1, input: { b: 2 }, correlationId: 'c-1' }], 1000);
  await store.createRuns([{ id: 'r3', workflow: 'w', version: 2, input: null }], 1000);
  await store.claimRuns('worker-a', served, 10, 10_000);
  await commitOne(store, { runId: 'r2', workerId: 'worker-a', fromPos: 1, update: { status: 'completed', output: 1 } });
  await store.releaseLeases('worker-a');
  return store;
}

forEachBackend((backend) => {
  test('listRuns filters by workflow, version, status and correlation id, newest first, up to a limit', async () => {
    const store = await storeWithThreeRuns(backend);
    const ids = async (filter: Parameters<Store['listRuns']>[0]) =>
      (await store.listRuns(filter)).map((r) => r.id).sort();
    const all = await store.listRuns({});
    assert.deepEqual(all.map((r) => r.id).sort(), ['r1', 'r2', 'r3']);
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.createdAt >= all[i]!.createdAt, 'most recent first');
    assert.deepEqual(await ids({ workflow: 'w', version: 2 }), ['r3']);
    assert.deepEqual(await ids({ status: 'completed' }), ['r2']);
    assert.deepEqual(await ids({ status: ['running', 'completed'], version: 1 }), ['r1', 'r2']);
    assert.deepEqual(await ids({ correlationId: 'c-1' }), ['r2']);
    assert.deepEqual(await ids({ workflow: 'none' }), []);
    assert.equal((await store.listRuns({ limit: 2 })).length, 2);
    assert.deepEqual((await store.getRun('r2'))?.output, 1);
    assert.equal(await store.getRun('missing'), undefined);
    await store.close();
  });

  test('pageRuns pages run summaries through cursors, with inputs only when asked for', async () => {
    const store = await storeWithThreeRuns(backend);
    const first = await store.pageRuns({ limit: 2 });
    assert.equal(first.runs.length, 2);
    assert.ok(first.next, 'more to come');
    const second = await store.pageRuns({ limit: 2, cursor: first.next });
    assert.equal(second.next, undefined, 'the last page');
    assert.deepEqual([...first.runs, ...second.runs].map((r) => r.id).sort(), ['r1', 'r2', 'r3'], 'each run once');
    assert.equal(
      first.runs.some((r) => 'input' in r),
      false,
      'no inputs unless included',
    );
    const [r2] = (await store.pageRuns({ correlationId: 'c-1', include: ['input'] })).runs;
    assert.deepEqual([r2?.id, r2?.input, r2?.inputSize], ['r2', { b: 2 }, JSON.stringify({ b: 2 }).length]);
    await store.close();
  });

  test('inFlightGroups groups unfinished runs by version, status and where they wait, with due times', async () => {
    const store = await storeWithThreeRuns(backend);
    await store.createRuns([{ id: 'r4', workflow: 'w', version: 1, input: null }], 1000);
    await store.claimRuns('worker-a', served, 10, 10_000);
    const until = Date.now() + 60_000;
    const sleep = { kind: 'sleep' as const, seq: 0, until };
    await store.commit(
      [
        { runId: 'r1', workerId: 'worker-a', fromPos: 1, events: [], update: waitForSignal('go') },
        {
          runId: 'r4',
          workerId: 'worker-a',
          fromPos: 1,
          events: [],
          update: { status: 'waiting', waitingFor: sleep, dueAt: until, releaseLease: true },
        },
      ],
      10_000,
    );
    const groups = (await store.inFlightGroups())
      .map((g) => [g.version, g.status, g.parkedOn, g.count, g.unscheduled, g.latestDueAt])
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    assert.equal(groups.length, 3, JSON.stringify(groups));
    assert.deepEqual(groups[0]!.slice(0, 5), [1, 'waiting', 'signal:go', 1, 1], 'r1, waiting with no wake-up');
    assert.deepEqual(groups[1], [1, 'waiting', 'sleep', 1, 0, until], 'r4, due in a minute');
    assert.deepEqual(groups[2]!.slice(0, 5), [2, 'running', null, 1, 0], 'r3; the completed r2 is not in flight');
    await store.close();
  });

  test("patchUsage counts a workflow's in-flight runs with and without each patch marker", async () => {
    const store = await storeWithThreeRuns(backend);
    await store.createRuns([{ id: 'r4', workflow: 'w', version: 1, input: null }], 1000);
    await store.claimRuns('worker-a', served, 10, 10_000);
    const marker = { type: 'patch_marker' as const, seq: 0, name: 'fix-1', data: { id: 'fix-1', deprecated: false } };
    await store.commit(
      [
        { runId: 'r1', workerId: 'worker-a', fromPos: 1, events: [marker] },
        { runId: 'r4', workerId: 'worker-a', fromPos: 1, events: [marker], update: { status: 'completed' } },
      ],
      10_000,
    );
    const usage = await store.patchUsage();
    assert.deepEqual(
      usage.map((u) => [u.workflow, u.patch, u.patched, u.onOldBranch]),
      [['w', 'fix-1', 1, 1]],
      'r1 has it, r3 has not; r2 and r4 are finished',
    );
    assert.ok(Math.abs(usage[0]!.firstSeenAt - Date.now()) < 60_000);
    await store.close();
  });

  test('a signal to a missing run is E_RUN_NOT_FOUND and one to a finished run E_INVALID_INPUT', async () => {
    const store = await storeWithThreeRuns(backend);
    const code = (error: unknown) => (error instanceof WaymarkError ? error.code : String(error));
    await assert.rejects(store.sendSignal('missing', 'go', null), (e) => code(e) === 'E_RUN_NOT_FOUND');
    await assert.rejects(store.sendSignal('r2', 'go', null), (e) => code(e) === 'E_INVALID_INPUT');
    const [claimed] = await store.claimRuns('worker-b', [{ workflow: 'w', version: 1 }], 10, 10_000);
    assert.deepEqual(claimed?.signals, [], 'nothing was stored for r1');
    await store.close();
  });

  test('onWake: work made due by another store handle reaches its listeners (PostgreSQL); SQLite never calls them', {
    timeout: 10_000,
  }, async () => {
    const location = backend.store();
    const store = await openStore(location);
    const other = await openStore(location);
    await store.registerWorkflowVersions([{ workflow: 'w', version: 1, fingerprint: 'f1' }]);
    const waiting: (() => void)[] = [];
    const nextWake = () => new Promise<void>((resolve) => waiting.push(resolve));
    let calls = 0;
    const listening = nextWake();
    other.onWake(() => {
      calls++;
      waiting.shift()?.();
    });
    if (other.dialect === 'postgres') await listening; // once listening, it calls for what it may have missed
    let dropped = 0;
    other.onWake(() => dropped++)();
    const before = calls;
    const woken = nextWake();
    await store.createRuns([{ id: 'new', workflow: 'w', version: 1, input: null }], 1000);
    if (other.dialect === 'postgres') {
      await woken;
      assert.deepEqual(
        [calls, dropped],
        [before + 1, 0],
        'the start woke the listener; the unsubscribed one heard nothing',
      );
    } else {
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual([calls, dropped], [0, 0], 'processes sharing a file poll instead');
    }
    await other.close();
    await store.close();
  });
});
