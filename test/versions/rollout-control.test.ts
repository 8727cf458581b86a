import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine, NonRetryableError } from '../../src/index.js';
import { evaluateRollout } from '../../src/versions/rollout-steps.js';
import { WorkflowRegistry } from '../../src/runtime/registry.js';
import { openStore } from '../../src/store/open.js';
import { forEachBackend, rejectsWith, runUntil } from '../helpers.js';

const quick1 = defineWorkflow({ name: 'quick', version: 1, run: async () => 'v1' });
const quick2 = defineWorkflow({ name: 'quick', version: 2, run: async () => 'v2' });

/** v1 and v2 wait for 'go' after one step; v2 fails on 'go' when the input says so. */
const parked1 = defineWorkflow({
  name: 'parked',
  version: 1,
  async run(ctx, input: { n: number; path?: string }) {
    await ctx.step(input.path === 'b' ? 'prepare-b' : 'prepare', () => input.n);
    await ctx.waitForSignal('go');
    return 'v1';
  },
});
const parked2 = defineWorkflow({
  name: 'parked',
  version: 2,
  async run(ctx, input: { n: number; path?: string; breaks?: boolean }) {
    await ctx.step('prepare', () => input.n); // path 'b' runs diverge here: they cannot move to v2
    await ctx.waitForSignal('go');
    await ctx.step('finish', () => {
      if (input.breaks) throw new NonRetryableError('v2 cannot finish this one');
      return 'ok';
    });
    return 'v2';
  },
});

const options = { rolloutCheckMs: 0 };

forEachBackend((backend) => {
  test(
    'evaluators racing from the same state never both step a rollout: ' + 'each round moves it exactly one step',
    async () => {
      const store = backend.store();
      const engine = await Engine.open({ store, workflows: [quick1, quick2], ...options, workerId: 'a' });
      // Two more evaluators with their own store connections, as other processes would have.
      const ports = await Promise.all(
        ['b', 'c'].map(async (workerId) => {
          const registry = new WorkflowRegistry([quick1, quick2]);
          const own = await openStore(store);
          await registry.learn(own);
          return { store: own, registry, workerId };
        }),
      );
      try {
        await engine.startRollout('quick', { from: 1, to: 2, percent: 10, step: 10, everyMs: 0, minSample: 3 });
        const runs = await Promise.all(
          Array.from({ length: 60 }, (_, i) => engine.start('quick', null, { routeKey: `k${i}` })),
        );
        await Promise.all(runs.map((r) => engine.result(r.id, { timeoutMs: 10_000 })));
        assert.ok(runs.filter((r) => r.version === 2).length >= 3, 'the candidate has a sample');
        for (let round = 1; round <= 4; round++) {
          const [seen] = await engine.rollouts(); // every evaluator decides from this same stored state
          const results = await Promise.all([...ports, ...ports].map((port) => evaluateRollout(port, seen!)));
          assert.equal(
            results.filter((r) => r.percent === seen!.percent + 10).length,
            1,
            `round ${round}: one evaluator stepped, the others saw it taken`,
          );
          const [rollout] = await engine.rollouts();
          assert.equal(rollout!.percent, 10 + round * 10, `round ${round}`);
          assert.equal(rollout!.claim, undefined, 'no claim left behind');
        }
      } finally {
        await engine.close();
        for (const port of ports) await port.store.close();
      }
    },
  );

  test(
    'worker engines evaluate rollouts on their own schedule: ' + 'a healthy one promotes with no evaluate call',
    async () => {
      const store = backend.store();
      const engines = await Promise.all(
        ['a', 'b'].map((workerId) => Engine.open({ store, workflows: [quick1, quick2], workerId, rolloutCheckMs: 25 })),
      );
      try {
        await engines[0]!.startRollout('quick', { from: 1, to: 2, percent: 50, step: 25, everyMs: 0, minSample: 2 });
        const runs = await Promise.all(
          Array.from({ length: 20 }, () => engines[0]!.start('quick', null, { version: 2 })),
        );
        await Promise.all(runs.map((r) => engines[0]!.result(r.id, { timeoutMs: 10_000 })));
        const deadline = Date.now() + 10_000;
        let rollout = (await engines[1]!.rollouts())[0]!;
        while (rollout.status !== 'promoted' && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 25));
          rollout = (await engines[1]!.rollouts())[0]!;
        }
        assert.deepEqual([rollout.status, rollout.percent], ['promoted', 100]);
        assert.equal(
          rollout.revision,
          5,
          'saved at start, then a claim and a save per step (75%, 100%): no step taken twice',
        );
      } finally {
        await Promise.all(engines.map((e) => e.close()));
      }
    },
  );

  test('pause holds promotions, resume lets them go on, promote ends the rollout at once', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [quick1, quick2], ...options });
    try {
      await engine.startRollout('quick', { from: 1, to: 2, percent: 50, step: 10, everyMs: 0, minSample: 2 });
      const runs = await Promise.all(Array.from({ length: 30 }, () => engine.start('quick', null)));
      await Promise.all(runs.map((r) => engine.result(r.id, { timeoutMs: 10_000 })));
      assert.equal((await engine.changeRollout('quick', 'pause')).status, 'paused');
      await rejectsWith(engine.changeRollout('quick', 'pause'), 'E_RUN_STATE');
      assert.equal((await engine.evaluateRollouts())[0]!.percent, 50, 'paused: no promotion though due');
      await engine.changeRollout('quick', 'resume');
      assert.equal((await engine.evaluateRollouts())[0]!.percent, 60);
      const done = await engine.changeRollout('quick', 'promote', { reason: 'looks good' });
      assert.deepEqual([done.status, done.percent, done.outcome], ['promoted', 100, 'looks good']);
      assert.equal((await engine.start('quick', null)).version, 2);
      assert.equal(
        (await engine.versions()).find((v) => v.workflow === 'quick' && v.version === 1)!.status,
        'draining',
      );
      await rejectsWith(engine.changeRollout('quick', 'abort'), 'E_RUN_STATE');
    } finally {
      await engine.close();
    }
  });

  test(
    'an upgrade rollout moves a growing share of compatible in-flight runs; ' + 'diverging ones stay and drain',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [parked1, parked2], ...options });
      try {
        const runs = [];
        for (let n = 0; n < 20; n++)
          runs.push(
            await engine.start(
              'parked',
              { n, path: n < 4 ? 'b' : 'a' },
              { version: 1, id: `run-${String(n).padStart(2, '0')}` },
            ),
          );
        for (const run of runs) await runUntil(engine, run.id, (r) => r.status === 'waiting');
        const started = await engine.startRollout('parked', {
          kind: 'upgrade',
          from: 1,
          to: 2,
          percent: 25,
          step: 25,
          everyMs: 0,
          minSample: 2,
        });
        assert.equal(started.eligible, 20);
        const first = (await engine.evaluateRollouts())[0]!;
        assert.equal(first.upgraded!.length, 5, '25% of 20 eligible runs');
        assert.deepEqual(
          first.incompatible,
          ['run-00', 'run-01', 'run-02', 'run-03'],
          'oldest first; path-b runs diverge on v2',
        );
        for (const id of first.upgraded!) assert.equal((await engine.getRun(id)).version, 2);
        assert.equal(
          (await engine.evaluateRollouts())[0]!.upgraded!.length,
          5,
          'no more until the upgraded runs show health',
        );
        for (const id of first.upgraded!) await engine.signal(id, 'go');
        for (const id of first.upgraded!) assert.equal(await engine.result(id, { timeoutMs: 10_000 }), 'v2');
        const second = (await engine.evaluateRollouts())[0]!;
        assert.deepEqual([second.percent, second.upgraded!.length], [50, 10]);
        const done = await engine.changeRollout('parked', 'promote');
        assert.equal(done.status, 'promoted');
        assert.equal(done.upgraded!.length, 16, 'every compatible run moved');
        assert.match(done.outcome!, /16 runs upgraded, 4 stay on v1 and drain/);
        for (const id of done.incompatible!) assert.equal((await engine.getRun(id)).version, 1);
        await engine.signal('run-00', 'go');
        assert.equal(await engine.result('run-00', { timeoutMs: 10_000 }), 'v1', 'a run left on v1 finishes there');
      } finally {
        await engine.close();
      }
    },
  );

  test(
    'an upgrade rollout whose upgraded runs fail is rolled back: ' + 'its in-flight upgraded runs move back',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [parked1, parked2], ...options });
      try {
        for (let n = 0; n < 12; n++)
          await engine.start('parked', { n, breaks: true }, { version: 1, id: `r${String(n).padStart(2, '0')}` });
        for (let n = 0; n < 12; n++)
          await runUntil(engine, `r${String(n).padStart(2, '0')}`, (r) => r.status === 'waiting');
        await engine.startRollout('parked', { kind: 'upgrade', from: 1, to: 2, percent: 50, everyMs: 0, minSample: 3 });
        const first = (await engine.evaluateRollouts())[0]!;
        assert.equal(first.upgraded!.length, 6);
        const failing = first.upgraded!.slice(0, 3);
        for (const id of failing) await engine.signal(id, 'go');
        for (const id of failing) await runUntil(engine, id, (r) => r.status === 'failed');
        const after = (await engine.evaluateRollouts())[0]!;
        assert.equal(after.status, 'rolled_back');
        assert.deepEqual(
          [...after.movedBack!].sort(),
          first.upgraded!.slice(3).sort(),
          'the upgraded runs still in flight move back',
        );
        for (const id of after.movedBack!) assert.equal((await engine.getRun(id)).version, 1);
        await engine.signal(after.movedBack![0]!, 'go');
        assert.equal(await engine.result(after.movedBack![0]!, { timeoutMs: 10_000 }), 'v1');
      } finally {
        await engine.close();
      }
    },
  );
});
