import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine, type VersionSummary } from '../../src/index.js';
import { whereaboutsV2 } from '../fixtures/fleet-workflows.js';
import { forEachBackend, runUntil } from '../helpers.js';
import { killHard, startFixture, stopGracefully } from '../processes.js';

const summaryOf = async (engine: Engine, version: number): Promise<VersionSummary> =>
  (await engine.versions()).find((v) => v.workflow === 'whereabouts' && v.version === version)!;

/** Re-reads the version summary until `predicate` holds (heartbeats expire on their own clock). */
async function summaryUntil(
  engine: Engine,
  version: number,
  predicate: (s: VersionSummary) => boolean,
): Promise<VersionSummary> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const summary = await summaryOf(engine, version);
    if (predicate(summary)) return summary;
    assert.ok(Date.now() < deadline, `version ${version} never reached the expected state: ${JSON.stringify(summary)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

forEachBackend((backend) => {
  test('v1 runs go only to the worker serving v1; with it dead they are stranded, unmoved, until it returns', {
    timeout: 60_000,
  }, async () => {
    const store = backend.store();
    const launchA = async () => {
      const node = startFixture('fleet-worker.ts', {
        STORE: store,
        WORKER_ID: 'worker-a',
        SERVE: 'whereabouts-v1v2',
        LEASE_MS: '1000',
      });
      await node.next('ready');
      return node;
    };
    let a = await launchA();
    const b = await Engine.open({
      store,
      workflows: [whereaboutsV2],
      workerId: 'worker-b',
      leaseMs: 1000,
      pollIntervalMs: 100,
    });
    const client = await Engine.open({ store, worker: false });
    try {
      const v1 = await Promise.all(
        Array.from({ length: 8 }, (_, i) => client.start('whereabouts', null, { version: 1, id: `v1-${i}` })),
      );
      const v2 = await Promise.all(
        Array.from({ length: 8 }, (_, i) => client.start('whereabouts', null, { version: 2, id: `v2-${i}` })),
      );
      for (const run of [...v1, ...v2]) await runUntil(client, run.id, (r) => r.status === 'waiting', 15_000);
      for (const run of v1) {
        const where = (await client.history(run.id)).find((e) => e.type === 'step_completed');
        assert.equal(
          (where?.data as { output: number } | undefined)?.output,
          a.child.pid,
          `${run.id} ran only on the v1 worker`,
        );
      }
      assert.deepEqual((await summaryOf(client, 1)).servedBy, ['worker-a']);
      assert.deepEqual((await summaryOf(client, 2)).servedBy, ['worker-a', 'worker-b']);

      await killHard(a);
      const stranded = await summaryUntil(client, 1, (s) => s.servedBy.length === 0);
      assert.equal(stranded.stranded, 8);
      assert.equal(stranded.runs.waiting, 8);
      assert.equal((await summaryOf(client, 2)).stranded, 0);

      for (const run of [...v1, ...v2]) await client.signal(run.id, 'finish');
      for (const run of v2) {
        const output = await client.result<{ version: number; finishedBy: number }>(run.id, { timeoutMs: 15_000 });
        assert.deepEqual(
          [output.version, output.finishedBy],
          [2, process.pid],
          'v2 runs are finished by the surviving v2 worker',
        );
      }
      for (const run of v1) {
        const still = await client.getRun(run.id);
        assert.deepEqual([still.status, still.version], ['waiting', 1], `${run.id} is neither moved nor failed`);
      }

      a = await launchA();
      for (const run of v1) {
        const output = await client.result<{ version: number; finishedBy: number }>(run.id, { timeoutMs: 15_000 });
        assert.deepEqual([output.version, output.finishedBy], [1, a.child.pid]);
      }
      const recovered = await summaryOf(client, 1);
      assert.deepEqual([recovered.stranded, recovered.runs.completed], [0, 8]);
    } finally {
      await client.close();
      await b.close();
      if (a.child.exitCode === null) assert.equal(await stopGracefully(a), 0);
    }
  });
});
