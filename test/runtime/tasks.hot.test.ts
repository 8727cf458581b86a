import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine } from '../../src/index.js';
import { forEachBackend } from '../helpers.js';

const TASKS = 200;

/** Counts how often the workflow function starts: once means no suspension and no replay between tasks. */
function sequentialTasks(counter: { starts: number }) {
  return defineWorkflow({
    name: 'hot-tasks',
    version: 1,
    async run(ctx) {
      counter.starts++;
      let total = 0;
      for (let i = 0; i < TASKS; i++) total += (await ctx.task<{ n: number }>('hot_work', { i })).n;
      return total;
    },
  });
}

/** Polls and completes tasks one at a time until the run is over. */
async function work(worker: Engine, done: () => boolean): Promise<number> {
  let reported = 0;
  while (!done()) {
    const [task] = await worker.tasks.poll('hot_work', 'hot-worker', 1);
    if (!task) {
      await new Promise((resolve) => setImmediate(resolve));
      continue;
    }
    await worker.tasks.report(task.taskId, { status: 'COMPLETED', output: { n: (task.input as { i: number }).i } });
    reported++;
  }
  return reported;
}

forEachBackend((backend) => {
  test(
    // biome-ignore lint/style/useTemplate: two parts keep this test's name within 120 columns
    `a run of ${TASKS} sequential tasks reported in this process runs once, ` + `in memory: O(N) history, no replay`,
    async () => {
      const counter = { starts: 0 };
      const engine = await Engine.open({
        store: backend.store(),
        workflows: [sequentialTasks(counter)],
        rolloutCheckMs: 0,
      });
      try {
        const run = await engine.start('hot-tasks', null);
        let finished = false;
        const result = engine.result<number>(run.id, { timeoutMs: 60_000 }).finally(() => (finished = true));
        const reported = await work(engine, () => finished);
        assert.equal(await result, (TASKS * (TASKS - 1)) / 2);
        assert.equal(reported, TASKS);
        assert.equal(counter.starts, 1, 'the workflow function ran once: every report was handed over in memory');
        const types = (await engine.history(run.id)).map((e) => e.type);
        assert.equal(
          types.length,
          2 + 2 * TASKS,
          'run_started, a task_scheduled and a task_completed per task, run_completed',
        );
      } finally {
        await engine.close();
      }
    },
  );

  if (backend.name === 'postgres') {
    test('reports made by another process reach a run held hot here through the store wake-up', async () => {
      const counter = { starts: 0 };
      const store = backend.store();
      const engine = await Engine.open({
        store,
        workflows: [sequentialTasks(counter)],
        rolloutCheckMs: 0,
        taskHoldMs: 30_000,
      });
      const other = await Engine.open({ store, worker: false });
      try {
        const run = await engine.start('hot-tasks', null);
        let finished = false;
        const result = engine.result<number>(run.id, { timeoutMs: 60_000 }).finally(() => (finished = true));
        await work(other, () => finished);
        assert.equal(await result, (TASKS * (TASKS - 1)) / 2);
        assert.equal(counter.starts, 1, 'no suspension: each report woke the held run in memory');
      } finally {
        await other.close();
        await engine.close();
      }
    });
  }
});
