import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine } from '../../src/index.js';
import { forEachBackend } from '../helpers.js';

const greet = defineWorkflow({
  name: 'greet',
  version: 1,
  async run(ctx, input: { name: string }) {
    return ctx.step('hello', async () => `hello ${input.name}`);
  },
});

forEachBackend((backend) => {
  test('startRun says whether it created the run: a new id is created, a taken one gives its run', async () => {
    const store = backend.store();
    const worker = await Engine.open({ store, workflows: [greet], pollIntervalMs: 50 });
    const client = await Engine.open({ store, worker: false });
    try {
      const first = await worker.startRun('greet', { name: 'ada' }, { id: 'g-1' });
      assert.equal(first.created, true);
      assert.deepEqual(first.run.input, { name: 'ada' });
      assert.equal((await worker.startRun('greet', { name: 'x' })).created, true, 'a start without an id');

      const again = await worker.startRun('greet', { name: 'bob' }, { id: 'g-1' });
      assert.equal(again.created, false, 'the same id again, on the engine that created it');
      assert.deepEqual(again.run.input, { name: 'ada' }, 'the existing run, not the second input');
      await worker.result('g-1', { timeoutMs: 10_000 });
      const elsewhere = await client.startRun('greet', { name: 'bob' }, { id: 'g-1' });
      assert.deepEqual(
        [elsewhere.created, elsewhere.run.status],
        [false, 'completed'],
        'from another engine, finished',
      );

      assert.equal((await client.startRun('greet', { name: 'cy' }, { id: 'g-2' })).created, true, 'a client start');
      assert.equal((await client.start('greet', { name: 'cy' }, { id: 'g-2' })).id, 'g-2', 'start gives the run');
    } finally {
      await client.close();
      await worker.close();
    }
  });

  test('of concurrent starts with one id from several engines, exactly one created the run', async () => {
    const store = backend.store();
    const starters = await Promise.all([0, 1, 2].map(() => Engine.open({ store, workflows: [greet], worker: false })));
    try {
      const results = await Promise.all(
        starters.flatMap((engine) => [0, 1, 2].map(() => engine.startRun('greet', { name: 'dup' }, { id: 'same' }))),
      );
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.deepEqual(new Set(results.map((r) => r.run.id)), new Set(['same']));
    } finally {
      await Promise.all(starters.map((engine) => engine.close()));
    }
  });
});
