/** The conformance suite's catalog cases: versions, routes, rollouts, declarative sources and task definitions. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachBackend } from '../helpers.js';
import { commitOne, served, storeWithRun } from './conformance-setup.js';

forEachBackend((backend) => {
  test('a version registered with other code is a conflict that writes nothing, unless replaced', async () => {
    const { store } = await storeWithRun(backend);
    const batch = [
      { workflow: 'w', version: 1, fingerprint: 'f2' },
      { workflow: 'w', version: 2, fingerprint: 'f3' },
    ];
    const conflict = [{ workflow: 'w', version: 1, registered: 'f1', given: 'f2' }];
    assert.deepEqual(await store.registerWorkflowVersions(batch), conflict);
    const listed = async () => (await store.listWorkflowVersions()).map((v) => [v.version, v.fingerprint, v.status]);
    assert.deepEqual(await listed(), [[1, 'f1', 'active']], 'not even the new version 2 was written');
    assert.deepEqual(await store.registerWorkflowVersions(batch, { replace: true }), conflict, 'still reported');
    assert.deepEqual(await listed(), [
      [1, 'f2', 'active'],
      [2, 'f3', 'active'],
    ]);
    assert.deepEqual(await store.registerWorkflowVersions(batch), [], 'the same code again is no conflict');
    const [first] = await store.listWorkflowVersions();
    assert.ok(first?.registeredAt instanceof Date && Math.abs(first.registeredAt.getTime() - Date.now()) < 60_000);
    await store.setVersionStatus('w', 2, 'draining');
    assert.deepEqual((await listed())[1], [2, 'f3', 'draining']);
    await store.close();
  });

  test('a route is set, replaced and removed per workflow', async () => {
    const { store } = await storeWithRun(backend);
    await store.setRoute('w', { workflow: 'w', current: 1, candidate: 2, percent: 10 });
    await store.setRoute('x', { workflow: 'x', current: 3, candidate: 4, percent: 0 });
    await store.setRoute('w', { workflow: 'w', current: 1, candidate: 2, percent: 50 });
    assert.deepEqual(await store.listRoutes(), [
      { workflow: 'w', current: 1, candidate: 2, percent: 50 },
      { workflow: 'x', current: 3, candidate: 4, percent: 0 },
    ]);
    await store.setRoute('w', null);
    assert.deepEqual(
      (await store.listRoutes()).map((r) => r.workflow),
      ['x'],
    );
    await store.close();
  });

  test('a rollout is saved only over the revision its writer read; a stale writer writes nothing', async () => {
    const { store } = await storeWithRun(backend);
    assert.equal(await store.saveRollout('w:starts', { step: 1 }, 0), true, 'a new rollout');
    assert.equal(await store.saveRollout('w:starts', { step: 9 }, 0), false, 'another process created it first');
    assert.equal(await store.saveRollout('w:starts', { step: 2 }, 1), true);
    assert.equal(await store.saveRollout('w:starts', { step: 9 }, 1), false, 'saved from a stale read');
    assert.equal(await store.saveRollout('v:starts', { step: 1 }, 0), true);
    assert.deepEqual(await store.listRollouts(), [
      { key: 'v:starts', state: { step: 1 }, revision: 1 },
      { key: 'w:starts', state: { step: 2 }, revision: 2 },
    ]);
    await store.close();
  });

  test("outcomesSince counts a version's runs by status among those created since a time", async () => {
    const { store } = await storeWithRun(backend);
    await store.createRuns(
      [
        { id: 'r2', workflow: 'w', version: 1, input: null },
        { id: 'r3', workflow: 'w', version: 2, input: null },
      ],
      1000,
    );
    const [claimed] = await store.claimRuns('worker-a', served, 1, 10_000);
    await commitOne(store, { runId: claimed!.run.id, workerId: 'worker-a', fromPos: 1, update: { status: 'failed' } });
    const since = Date.now() - 60_000;
    assert.deepEqual(await store.outcomesSince('w', 1, since), { running: 1, failed: 1 });
    assert.deepEqual(await store.outcomesSince('w', 2, since), { running: 1 });
    assert.deepEqual(await store.outcomesSince('w', 1, Date.now() + 60_000), {}, 'none created since then');
    assert.deepEqual(await store.outcomesSince('other', 1, since), {});
    await store.close();
  });

  test('declarative sources belong to registered versions; a version with runs cannot be removed', async () => {
    const { store } = await storeWithRun(backend);
    await store.registerWorkflowVersions([{ workflow: 'w', version: 2, fingerprint: 'f2' }]);
    const graph = (n: number) => ({ tasks: [{ name: `t${n}`, type: 'SIMPLE' }] });
    await store.definitions.saveSources([
      { workflow: 'w', version: 1, source: graph(1) },
      { workflow: 'w', version: 2, source: graph(2) },
      { workflow: 'w', version: 9, source: graph(9) },
    ]);
    const sources = async () => (await store.definitions.listSources()).map((s) => [s.version, s.source]);
    assert.deepEqual(
      await sources(),
      [
        [1, graph(1)],
        [2, graph(2)],
      ],
      'an unregistered version keeps no source',
    );
    assert.equal(await store.definitions.removeVersion('w', 1), false, 'r1 is a run of it');
    assert.equal(await store.definitions.removeVersion('w', 2), true);
    assert.deepEqual(await sources(), [[1, graph(1)]]);
    assert.deepEqual(
      (await store.listWorkflowVersions()).map((v) => v.version),
      [1],
    );
    await store.close();
  });

  test('task definitions are inserted or replaced by name, listed by name, and removed once', async () => {
    const { store } = await storeWithRun(backend);
    await store.definitions.saveTaskDefinitions([
      { name: 'charge', definition: { retryCount: 3 } },
      { name: 'audit', definition: { retryCount: 0 } },
    ]);
    await store.definitions.saveTaskDefinitions([{ name: 'charge', definition: { retryCount: 5 } }]);
    assert.deepEqual(await store.definitions.listTaskDefinitions(), [
      { name: 'audit', definition: { retryCount: 0 } },
      { name: 'charge', definition: { retryCount: 5 } },
    ]);
    assert.equal(await store.definitions.removeTaskDefinition('audit'), true);
    assert.equal(await store.definitions.removeTaskDefinition('audit'), false, 'there is none of that name any more');
    assert.deepEqual(
      (await store.definitions.listTaskDefinitions()).map((d) => d.name),
      ['charge'],
    );
    await store.close();
  });
});
