import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine, NonRetryableError } from '../../src/index.js';
import { forEachBackend, rejectsWith, runUntil } from '../helpers.js';

/** v1 is healthy; v2 fails even-numbered inputs at once and parks the others on the same wait as v1. */
const v1 = defineWorkflow({
  name: 'payments',
  version: 1,
  async run(ctx, input: { n: number }) {
    await ctx.step('authorize', () => input.n);
    await ctx.waitForSignal('capture');
    return 'v1';
  },
});
const v2 = defineWorkflow({
  name: 'payments',
  version: 2,
  async run(ctx, input: { n: number }) {
    await ctx.step('authorize', () => {
      if (input.n % 2 === 0) throw new NonRetryableError('new gateway rejected it');
      return input.n;
    });
    await ctx.waitForSignal('capture');
    return 'v2';
  },
});
const v2Healthy = defineWorkflow({ name: 'healthy', version: 2, run: async () => 'ok' });
const v1Healthy = defineWorkflow({ name: 'healthy', version: 1, run: async () => 'ok' });

forEachBackend((backend) => {
  test(
    'a rollout whose candidate fails more often is rolled back: ' +
      'starts route back and its replay-compatible runs move back',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [v1, v2] });
      try {
        const rollout = await engine.startRollout('payments', {
          from: 1,
          to: 2,
          percent: 50,
          step: 25,
          everyMs: 0,
          maxFailureRatio: 2,
          minSample: 10,
        });
        assert.deepEqual([rollout.status, rollout.percent], ['running', 50]);
        const runs = await Promise.all(
          Array.from({ length: 80 }, (_, n) => engine.start('payments', { n }, { routeKey: `customer-${n}` })),
        );
        const onCandidate = runs.filter((r) => r.version === 2);
        for (const run of runs) await runUntil(engine, run.id, (r) => r.status === 'waiting' || r.status === 'failed');
        const failedOnCandidate = (
          await engine.listRuns({ workflow: 'payments', version: 2, status: 'failed', limit: 1000 })
        ).length;
        assert.ok(failedOnCandidate >= 10, `enough candidate failures to judge (${failedOnCandidate})`);

        const [after] = await engine.evaluateRollouts();
        assert.equal(after!.status, 'rolled_back');
        assert.match(after!.outcome!, /v2 failed \d+\/\d+ finished runs \(100%\) against v1's 0%: over 2x/);
        const parkedOnCandidate = onCandidate
          .filter((r) => (r.input as { n: number }).n % 2 === 1)
          .map((r) => r.id)
          .sort();
        assert.deepEqual(
          [...after!.movedBack!].sort(),
          parkedOnCandidate,
          'every in-flight candidate run replays on v1 and moved back',
        );
        for (const id of parkedOnCandidate) assert.equal((await engine.getRun(id)).version, 1);
        assert.ok(
          (await engine.history(parkedOnCandidate[0]!)).some((e) => e.type === 'run_upgraded'),
          'the move back is recorded',
        );
        const routed = await Promise.all(
          Array.from({ length: 20 }, (_, i) => engine.start('payments', { n: 1000 + i })),
        );
        assert.deepEqual([...new Set(routed.map((r) => r.version))], [1], 'starts route back to v1 at once');
        await engine.signal(parkedOnCandidate[0]!, 'capture');
        assert.equal(await engine.result(parkedOnCandidate[0]!, { timeoutMs: 5_000 }), 'v1');
        await rejectsWith(engine.abortRollout('payments'), 'E_RUN_STATE');
      } finally {
        await engine.close();
      }
    },
  );

  test('a healthy rollout promotes step by step to 100%, then the old version drains', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [v1Healthy, v2Healthy] });
    try {
      await engine.startRollout('healthy', { from: 1, to: 2, percent: 50, step: 25, everyMs: 0, minSample: 5 });
      let status = 'running';
      for (let round = 0; round < 5 && status === 'running'; round++) {
        const runs = await Promise.all(Array.from({ length: 40 }, () => engine.start('healthy', null)));
        await Promise.all(runs.map((r) => engine.result(r.id, { timeoutMs: 5_000 })));
        status = (await engine.evaluateRollouts())[0]!.status;
      }
      assert.equal(status, 'promoted');
      const [done] = await engine.rollouts();
      assert.equal(done!.percent, 100);
      assert.equal((await engine.start('healthy', null)).version, 2);
      const v1Summary = (await engine.versions()).find((v) => v.workflow === 'healthy' && v.version === 1)!;
      assert.equal(v1Summary.status, 'draining');
    } finally {
      await engine.close();
    }
  });
});
