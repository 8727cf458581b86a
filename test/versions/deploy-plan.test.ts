import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineMigration, defineWorkflow, Engine } from '../../src/index.js';
import { planText } from '../../src/versions/deploy-plan.js';
import { forEachBackend, runUntil } from '../helpers.js';

/** v1: reserve, wait for 'go' (1 h timeout), pack, wait for 'done' (no timeout), ship. */
const v1 = defineWorkflow({
  name: 'fulfil',
  version: 1,
  async run(ctx) {
    await ctx.step('reserve', () => 'r');
    await ctx.waitForSignal('go', { timeoutMs: '1h' });
    await ctx.step('pack', () => 'p');
    await ctx.waitForSignal('done');
    return ctx.step('ship', () => 's');
  },
});
/** v2 weighs after packing: runs parked at 'go' replay it, runs waiting for 'done' diverge there. */
const v2 = defineWorkflow({
  name: 'fulfil',
  version: 2,
  async run(ctx) {
    await ctx.step('reserve', () => 'r');
    await ctx.waitForSignal('go', { timeoutMs: '1h' });
    await ctx.step('pack', () => 'p');
    await ctx.step('weigh', () => 1.5);
    await ctx.waitForSignal('done');
    return ctx.step('ship', () => 's');
  },
});

forEachBackend((backend) => {
  test(
    'deploy plan: patch gate per divergence, ' +
      'upgrade/migrate/drain per version with ETAs, rollout steps, canary and rollback',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [v1], rolloutCheckMs: 0 });
      try {
        const before = Date.now();
        const atGo = await Promise.all([0, 1, 2].map((i) => engine.start('fulfil', null, { id: `at-go-${i}` })));
        const atDone = await Promise.all([0, 1].map((i) => engine.start('fulfil', null, { id: `at-done-${i}` })));
        for (const run of atGo) await runUntil(engine, run.id, (r) => r.status === 'waiting');
        for (const run of atDone) {
          await runUntil(engine, run.id, (r) => r.status === 'waiting');
          await engine.signal(run.id, 'go');
          await runUntil(engine, run.id, (r) => r.status === 'waiting' && r.waitingFor?.name === 'done');
        }

        const plan = await engine.deployPlan([v2]);
        assert.equal(plan.safe, false);
        const [w] = plan.workflows;
        assert.equal(
          w!.verdict,
          'NOT SAFE (breaking): 2 of 5 in-flight runs would break on v2 (2 diverge, ' +
            '0 fail an output schema); they must drain on their version or be gated',
        );
        assert.equal(w!.divergences.length, 1);
        const gate = w!.divergences[0]!;
        assert.deepEqual(
          [gate.seq, gate.recorded, gate.candidate, gate.runs, gate.versions, gate.at],
          [3, "signal 'done'", "step 'weigh'", 2, [1], "step 'weigh'"],
        );
        assert.match(
          gate.gate,
          new RegExp(
            /if \(ctx\.patched\('fulfil-v2-weigh'\)\) \{\n {2}await ctx\.step\('weigh', /.source +
              /\.\.\.\);.*\n\} else \{\n {2}\/\/ the old code: histories made /.source +
              /before v2 go on with await ctx\.waitForSignal\('done'\); here/.source,
          ),
        );
        const [handling] = w!.inFlight;
        assert.deepEqual(
          [handling!.version, handling!.inFlight, handling!.upgrade, handling!.migrate, handling!.drain],
          [1, 5, 3, 0, 2],
        );
        assert.deepEqual(
          [handling!.drainEta, handling!.waitingWithoutDeadline],
          [null, 2],
          "runs waiting for 'done' have no deadline",
        );
        assert.equal(w!.canary.from, 1);
        assert.ok(w!.steps.some((s) => s.startsWith('waymark rollout start fulfil --to 2 --from 1 --percent 5')));
        assert.ok(
          w!.steps.some(
            (s) => s.includes('waymark rollout upgrade fulfil --from 1 --to 2') && s.includes('# 3 compatible run(s)'),
          ),
        );
        assert.ok(
          w!.steps.some((s) =>
            s.startsWith('keep v1 workers until its 2 diverging run(s) finish (2 wait with no deadline: ETA unknown)'),
          ),
        );
        assert.match(w!.rollback.join('\n'), /waymark rollout abort fulfil/);
        assert.match(planText(plan), /VERDICT: NOT SAFE/);

        // A migration that records a weighing for runs past 'pack' turns the drain into a migration.
        const addWeigh = defineMigration({
          workflow: 'fulfil',
          from: 1,
          to: 2,
          steps: { insert: [{ after: 'pack', name: 'weigh', output: () => 0 }] },
        });
        const rescued = (await engine.deployPlan([v2], { migrations: [addWeigh] })).workflows[0]!;
        assert.deepEqual(
          [
            rescued.inFlight[0]!.upgrade,
            rescued.inFlight[0]!.migrate,
            rescued.inFlight[0]!.drain,
            rescued.inFlight[0]!.migrations,
          ],
          [3, 2, 0, ['fulfil v1->v2']],
        );
        assert.ok(
          rescued.steps.some((s) =>
            s.startsWith("waymark migrate --workflows <module> --migration 'fulfil v1->v2' --dry-run"),
          ),
        );

        // Runs waiting with deadlines only: the drain ETA is the latest deadline.
        for (const run of atDone) {
          await engine.signal(run.id, 'done');
          await engine.result(run.id, { timeoutMs: 10_000 });
        }
        const stricter = defineWorkflow({ name: 'fulfil', version: 2, run: async (ctx) => ctx.step('other', () => 0) });
        const drainAll = (await engine.deployPlan([stricter])).workflows[0]!.inFlight[0]!;
        assert.deepEqual([drainAll.drain, drainAll.waitingWithoutDeadline], [3, 0]);
        const hour = 3_600_000;
        assert.ok(
          drainAll.drainEta!.getTime() >= before + hour && drainAll.drainEta!.getTime() <= Date.now() + hour,
          'due when the last 1 h signal timeout passes',
        );
        assert.equal((await engine.getRun('at-go-0')).version, 1, 'planning changes nothing');
      } finally {
        await engine.close();
      }
    },
  );
});

test('deploy plan of a new workflow: no canary against a version that does not exist; rollback drains it', async () => {
  const engine = await Engine.open({ store: 'sqlite::memory:', workflows: [v1], worker: false });
  try {
    const fresh = defineWorkflow({ name: 'brand-new', version: 1, run: async (ctx) => ctx.step('only', () => 1) });
    const [plan] = (await engine.deployPlan([fresh])).workflows;
    const text = [...plan!.steps, ...plan!.rollback].join('\n');
    assert.doesNotMatch(text, /\bv(the|current|it)\b/, 'no version number is made of a word');
    assert.doesNotMatch(text, /waymark rollout/, 'nothing to roll out from or abort back to');
    assert.match(plan!.steps.at(-1)!, /^a new workflow: v1 takes every start once registered/);
    assert.equal(plan!.rollback[0], 'waymark versions drain brand-new 1   # no new starts; its runs go on');
  } finally {
    await engine.close();
  }
});
