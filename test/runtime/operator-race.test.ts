import { test } from 'node:test';
import { defineWorkflow, Engine } from '../../src/index.js';
import { forEachBackend, runUntil } from '../helpers.js';

const approval = defineWorkflow({
  name: 'approval',
  version: 1,
  async run(ctx) {
    await ctx.step('prepare', () => 'ready');
    return ctx.waitForSignal('approve');
  },
});

forEachBackend((backend) => {
  test('a cancel or pause sent while the worker is suspending the run is never lost', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [approval], rolloutCheckMs: 0 });
    try {
      const runs = await Promise.all(Array.from({ length: 40 }, () => engine.start('approval', null)));
      // Sent at once: some land while the run executes (handed to the worker), some while it suspends, some after.
      await Promise.all(
        runs.map((run, i) =>
          i % 2
            ? engine.cancel(run.id, { actor: 't', reason: 'race' })
            : engine.pause(run.id, { actor: 't', reason: 'race' }),
        ),
      );
      for (const [i, run] of runs.entries()) {
        const expected = i % 2 ? 'cancelled' : 'paused';
        await runUntil(engine, run.id, (r) => r.status === expected, 10_000);
      }
    } finally {
      await engine.close();
    }
  });
});
