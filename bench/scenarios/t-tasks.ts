import { randomUUID } from 'node:crypto';
import { defineWorkflow, Engine } from '../../src/index.js';
import { emit, note, round, startRuns, type ScenarioContext } from '../lib.js';

const RUNS = 2_000;
const TASKS_PER_RUN = 3;
const WORKERS = 4;
const BATCH = 50;

/** Three remote tasks in a row: each is scheduled with a checkpoint, polled, reported and recorded. */
const dispatch = defineWorkflow({
  name: 'bench-t-tasks',
  version: 1,
  async run(ctx) {
    let total = 0;
    for (let i = 0; i < TASKS_PER_RUN; i++) total += (await ctx.task<{ n: number }>('bench_work', { i })).n;
    return total;
  },
});

/**
 * T: remote task round trips. 2,000 runs x 3 tasks, four worker loops polling in batches of 50 through
 * engine.tasks (the path the HTTP task API takes, without HTTP); figures: completed tasks per second and
 * the latency from a task's scheduling to its recorded outcome being visible to the next poll.
 */
export async function scenarioT({ store }: ScenarioContext): Promise<void> {
  const engine = await Engine.open({ store, workflows: [dispatch], concurrency: 500, rolloutCheckMs: 0 });
  try {
    const total = RUNS * TASKS_PER_RUN;
    let done = 0;
    const latencies: number[] = [];
    const t0 = performance.now();
    const starting = startRuns(engine, dispatch.name, RUNS, `t-${randomUUID().slice(0, 8)}`);
    const workers = Array.from({ length: WORKERS }, async (_, w) => {
      while (done < total) {
        const tasks = await engine.tasks.poll('bench_work', `bench-worker-${w}`, BATCH);
        if (tasks.length === 0) {
          await new Promise((resolve) => setTimeout(resolve, 2));
          continue;
        }
        const now = Date.now();
        for (const task of tasks) latencies.push(now - task.scheduledAt);
        await Promise.all(tasks.map((task) => engine.tasks.report(task.taskId, { status: 'COMPLETED', output: { n: 1 } })));
        done += tasks.length;
      }
    });
    const ids = await starting;
    await Promise.all(workers);
    const handled = performance.now() - t0;
    for (const id of ids) await engine.result(id, { timeoutMs: 120_000 });
    const elapsed = performance.now() - t0;
    latencies.sort((a, b) => a - b);
    note(`T: ${total} tasks handed out and reported in ${round(handled / 1000, 1)} s; all runs completed in ${round(elapsed / 1000, 1)} s`);
    emit({
      scenario: 'T',
      name: 'remote-tasks',
      runs: RUNS,
      tasksPerRun: TASKS_PER_RUN,
      tasksPerSec: round(total / (elapsed / 1000), 0),
      scheduleToPollP50Ms: latencies[Math.floor(latencies.length / 2)],
      scheduleToPollP99Ms: latencies[Math.floor(latencies.length * 0.99)],
    });
  } finally {
    await engine.close();
  }
}
