import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine } from '../../src/index.js';
import { forEachBackend, rejectsWith, runUntil } from '../helpers.js';

const napper = defineWorkflow({
  name: 'napper',
  version: 1,
  async run(ctx, input: { ms: number }) {
    const before = await ctx.step('before', () => Date.now());
    await ctx.sleep(input.ms);
    const after = await ctx.step('after', () => Date.now());
    return { slept: after - before };
  },
});

forEachBackend((backend) => {
  test('a durable sleep survives closing the engine and fires on time after a restart', async () => {
    const db = backend.store();
    const first = await Engine.open({ store: db, workflows: [napper] });
    const run = await first.start('napper', { ms: 600 });
    const sleeping = await runUntil(first, run.id, (r) => r.status === 'waiting');
    assert.equal(sleeping.waitingFor?.kind, 'sleep');
    const until = sleeping.waitingFor!.until!;
    await first.close();

    const second = await Engine.open({ store: db, workflows: [napper] });
    try {
      const output = await second.result<{ slept: number }>(run.id, { timeoutMs: 5_000 });
      assert.ok(output.slept >= 600, `slept ${output.slept} ms`);
      const history = await second.history(run.id);
      const fired = history.find((e) => e.type === 'timer_fired')!;
      assert.ok(fired.at >= until, 'the timer never fires early');
      assert.equal(history.filter((e) => e.type === 'step_completed' && e.name === 'before').length, 1);
    } finally {
      await second.close();
    }
  });

  test('duration strings work for sleeps', async () => {
    const short = defineWorkflow({
      name: 'short',
      version: 1,
      run: async (ctx) => {
        await ctx.sleep('50ms');
        return 'ok';
      },
    });
    const engine = await Engine.open({ store: backend.store(), workflows: [short] });
    try {
      const run = await engine.start('short', null);
      assert.equal(await engine.result(run.id, { timeoutMs: 5_000 }), 'ok');
    } finally {
      await engine.close();
    }
  });

  test('inputs, signal payloads and step outputs must be JSON-serializable; refusals write nothing', async () => {
    let attempts = 0;
    const leaky = defineWorkflow({
      name: 'leaky',
      version: 1,
      async run(ctx) {
        return ctx.step('make', () => {
          attempts++;
          return { when: new Map() };
        });
      },
    });
    const engine = await Engine.open({ store: backend.store(), workflows: [leaky] });
    try {
      const bad = await rejectsWith(
        engine.start('leaky', { callback: () => 1 }, { id: 'bad-input' }),
        'E_NOT_SERIALIZABLE',
      );
      assert.match(bad.message, /input\.callback is a function/);
      await rejectsWith(engine.getRun('bad-input'), 'E_RUN_NOT_FOUND');
      assert.equal((await engine.listRuns()).length, 0);
      await rejectsWith(engine.start('leaky', { big: 10n }), 'E_NOT_SERIALIZABLE');

      const run = await engine.start('leaky', null);
      const failed = await rejectsWith(engine.result(run.id, { timeoutMs: 5_000 }), 'E_RUN_FAILED');
      assert.match(failed.message, /output of step 'make'\.when is a Map/);
      assert.equal(attempts, 1, 'an unserializable output is not retried');
    } finally {
      await engine.close();
    }
  });

  test('many concurrent runs share commits and each completes with its own history', async () => {
    const counter = defineWorkflow({
      name: 'counter',
      version: 1,
      async run(ctx, input: { n: number }) {
        let total = 0;
        for (let i = 0; i < 5; i++) total += await ctx.step(`add-${i}`, () => input.n + i);
        return total;
      },
    });
    const engine = await Engine.open({ store: backend.store(), workflows: [counter], concurrency: 50 });
    try {
      const runs = await Promise.all(Array.from({ length: 200 }, (_, n) => engine.start('counter', { n })));
      const outputs = await Promise.all(runs.map((r) => engine.result<number>(r.id, { timeoutMs: 20_000 })));
      assert.deepEqual(
        outputs,
        runs.map((_, n) => 5 * n + 10),
      );
      for (const run of runs.slice(0, 10)) assert.equal((await engine.history(run.id)).length, 7);
    } finally {
      await engine.close();
    }
  });
});
