import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine } from '../../src/index.js';
import { forEachBackend } from '../helpers.js';

forEachBackend((backend) => {
  test('two engines on one store share the work and never execute a step twice', async () => {
    const executions = new Map<string, number>();
    const executedBy = new Map<string, Set<string>>();
    const job = defineWorkflow({
      name: 'job',
      version: 1,
      async run(ctx, input: { n: number }) {
        let sum = 0;
        for (const step of ['a', 'b', 'c']) {
          sum += await ctx.step(step, async ({ idempotencyKey }) => {
            executions.set(idempotencyKey, (executions.get(idempotencyKey) ?? 0) + 1);
            await new Promise((resolve) => setTimeout(resolve, 5));
            return input.n;
          });
        }
        return sum;
      },
    });
    const db = backend.store();
    const engines = await Promise.all(
      ['worker-1', 'worker-2'].map((workerId) =>
        Engine.open({ store: db, workflows: [job], workerId, concurrency: 10, pollIntervalMs: 50 }),
      ),
    );
    for (const engine of engines) {
      engine.subscribe((change) => {
        if (change.status !== 'completed') return;
        const set = executedBy.get(engine.workerId) ?? new Set();
        executedBy.set(engine.workerId, set.add(change.runId));
      });
    }
    const client = await Engine.open({ store: db, worker: false });
    try {
      const runs = await Promise.all(
        Array.from({ length: 60 }, (_, n) => client.start('job', { n }, { id: `job-${n}` })),
      );
      const outputs = await Promise.all(runs.map((r) => client.result<number>(r.id, { timeoutMs: 30_000 })));
      assert.deepEqual(
        outputs,
        runs.map((_, n) => 3 * n),
      );
      assert.equal(executions.size, 180);
      assert.deepEqual([...new Set(executions.values())], [1], 'every step executed exactly once');
      assert.equal(executedBy.size, 2, 'both engines executed runs');
      const [one, two] = [...executedBy.values()];
      assert.equal(one!.size + two!.size, 60);
    } finally {
      await client.close();
      await Promise.all(engines.map((e) => e.close()));
    }
  });
});
