import { randomUUID } from 'node:crypto';
import { defineWorkflow, Engine } from '../../src/index.js';
import { emit, note, round, startRuns, type ScenarioContext } from '../lib.js';

const RUNS = 2_000;
const SEQUENTIAL_TASKS = 200;
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

/** One run of 200 tasks in a row: each report is handed to the run held hot in memory. */
const sequential = defineWorkflow({
  name: 'bench-t-sequential',
  version: 1,
  async run(ctx) {
    for (let i = 0; i < SEQUENTIAL_TASKS; i++) await ctx.task('bench_seq', { i });
    return SEQUENTIAL_TASKS;
  },
});

/**
 * T: remote task round trips. 2,000 runs x 3 tasks, four worker loops polling in batches of 50 through
 * engine.tasks (the path the HTTP task API takes, without HTTP); figures: completed tasks per second and
 * the latency from a task's scheduling to its recorded outcome being visible to the next poll.
 */
export async function scenarioT({ store }: ScenarioContext): Promise<void> {
  const engine = await Engine.open({ store, workflows: [dispatch, sequential], concurrency: 500, rolloutCheckMs: 0 });
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
        await Promise.all(
          tasks.map((task) => engine.tasks.report(task.taskId, { status: 'COMPLETED', output: { n: 1 } })),
        );
        done += tasks.length;
      }
    });
    const ids = await starting;
    await Promise.all(workers);
    const handled = performance.now() - t0;
    for (const id of ids) await engine.result(id, { timeoutMs: 120_000 });
    const elapsed = performance.now() - t0;
    latencies.sort((a, b) => a - b);
    note(
      `T: ${total} tasks handed out and reported in ${round(handled / 1000, 1)} s; ` +
        `all runs completed in ${round(elapsed / 1000, 1)} s`,
    );
    emit({
      scenario: 'T',
      name: 'remote-tasks',
      runs: RUNS,
      tasksPerRun: TASKS_PER_RUN,
      tasksPerSec: round(total / (elapsed / 1000), 0),
      scheduleToPollP50Ms: latencies[Math.floor(latencies.length / 2)],
      scheduleToPollP99Ms: latencies[Math.floor(latencies.length * 0.99)],
    });
    await sequentialTasks(engine);
  } finally {
    await engine.close();
  }
}

/**
 * One run's 200 sequential tasks, one worker polling one at a
 * time: tasks/s and the latency from a report to the next task.
 */
async function sequentialTasks(engine: Engine): Promise<void> {
  const run = await engine.start(sequential.name, null);
  const gaps: number[] = [];
  let reportedAt: number | undefined;
  const t0 = performance.now();
  for (let done = 0; done < SEQUENTIAL_TASKS; ) {
    const [task] = await engine.tasks.poll('bench_seq', 'bench-seq-worker', 1);
    if (!task) {
      await new Promise((resolve) => setImmediate(resolve));
      continue;
    }
    if (reportedAt !== undefined) gaps.push(performance.now() - reportedAt);
    reportedAt = performance.now();
    await engine.tasks.report(task.taskId, { status: 'COMPLETED', output: {} });
    done++;
  }
  await engine.result(run.id, { timeoutMs: 60_000 });
  const elapsed = performance.now() - t0;
  gaps.sort((a, b) => a - b);
  emit({
    scenario: 'T',
    name: 'sequential-tasks-one-run',
    tasks: SEQUENTIAL_TASKS,
    tasksPerSec: round(SEQUENTIAL_TASKS / (elapsed / 1000), 0),
    perTaskP50Ms: round(gaps[Math.floor(gaps.length / 2)]!, 2),
    perTaskP99Ms: round(gaps[Math.floor(gaps.length * 0.99)]!, 2),
  });
}
