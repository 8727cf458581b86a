import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine } from '../../src/index.js';
import { forEachBackend, runUntil } from '../helpers.js';

const original = defineWorkflow({
  name: 'deploy',
  version: 1,
  async run(ctx) {
    await ctx.step('backup', () => 'backed up');
    await ctx.step('migrate', () => 'migrated');
    await ctx.waitForSignal('go');
    return ctx.step('switch', () => 'switched');
  },
});

// Same name and version, but the step order changed: a history written by `original` cannot replay.
const reordered = defineWorkflow({
  name: 'deploy',
  version: 1,
  async run(ctx) {
    await ctx.step('migrate', () => 'migrated');
    await ctx.step('backup', () => 'backed up');
    await ctx.waitForSignal('go');
    return ctx.step('switch', () => 'switched');
  },
});

forEachBackend((backend) => {
  test(
    'code that changed under a run parks it needs_attention with the divergence; ' + 'its history is intact',
    async () => {
      const db = backend.store();
      const first = await Engine.open({ store: db, workflows: [original] });
      const run = await first.start('deploy', null);
      await runUntil(first, run.id, (r) => r.status === 'waiting');
      const before = await first.history(run.id);
      await first.close();

      let executed = 0;
      const second = await Engine.open({ store: db, workflows: [reordered], devMode: true });
      const unsubscribe = second.subscribe((c) => (executed += c.events.filter((e) => e === 'step_completed').length));
      try {
        await second.signal(run.id, 'go');
        const parked = await runUntil(second, run.id, (r) => r.status === 'needs_attention');
        assert.equal(parked.attention?.code, 'E_NONDETERMINISM');
        assert.deepEqual(parked.attention?.details, {
          reason: 'nondeterminism',
          seq: 0,
          expected: { kind: 'step', name: 'backup' },
          got: { kind: 'step', name: 'migrate' },
        });
        const after = await second.history(run.id);
        assert.deepEqual(after.slice(0, before.length), before, 'recorded events are untouched');
        assert.deepEqual(
          after.slice(before.length).map((e) => e.type),
          ['run_parked'],
        );
        assert.equal(executed, 0, 'no step ran on wrong assumptions');
      } finally {
        unsubscribe();
        await second.close();
      }
    },
  );

  test('code that dropped a recorded step is a divergence at completion', async () => {
    const db = backend.store();
    const twoSteps = defineWorkflow({
      name: 'shrink',
      version: 1,
      async run(ctx) {
        await ctx.step('a', () => 1);
        await ctx.step('b', () => 2);
        await ctx.waitForSignal('go');
        return 'done';
      },
    });
    const oneStep = defineWorkflow({
      name: 'shrink',
      version: 1,
      async run(ctx) {
        await ctx.step('a', () => 1);
        return 'done';
      },
    });
    const first = await Engine.open({ store: db, workflows: [twoSteps] });
    const run = await first.start('shrink', null);
    await runUntil(first, run.id, (r) => r.status === 'waiting');
    await first.close();
    const second = await Engine.open({ store: db, workflows: [oneStep], devMode: true });
    try {
      await second.signal(run.id, 'go');
      const parked = await runUntil(second, run.id, (r) => r.status === 'needs_attention');
      assert.deepEqual((parked.attention?.details as { expected: unknown } | undefined)?.expected, {
        kind: 'step',
        name: 'b',
      });
      assert.equal(parked.output, undefined);
    } finally {
      await second.close();
    }
  });
});
