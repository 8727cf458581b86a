import { randomUUID } from 'node:crypto';
import { defineWorkflow, Engine } from '../../src/index.js';
import { awaitChanges, emit, note, round, startRuns, type ScenarioContext } from '../lib.js';

const RUNS = 1_000;
const STEPS_PER_RUN = 10;
const CONCURRENCY = 100;
const TARGET = 10_000;

const tenSteps = defineWorkflow({
  name: 'bench-b-ten-steps',
  version: 1,
  async run(ctx) {
    for (let i = 0; i < STEPS_PER_RUN; i++) await ctx.step(`s${i}`, () => i);
    return STEPS_PER_RUN;
  },
});

const completed = (change: { status?: string }) => change.status === 'completed';

/**
 * B: 1,000 runs x 10 no-op steps, 100 concurrent. The headline figure is execution throughput: the runs
 * are created first by a client engine, then one worker engine opens and executes them all. A second,
 * end-to-end pass starts the runs on the worker itself, so start commits compete with step commits.
 */
export async function scenarioB({ store }: ScenarioContext): Promise<void> {
  const totalSteps = RUNS * STEPS_PER_RUN;

  // Pass 1: queue the runs with a client, then measure a worker draining them.
  const prefix = `b-${randomUUID().slice(0, 8)}`;
  const client = await Engine.open({ store, workflows: [tenSteps], worker: false });
  const s0 = performance.now();
  await startRuns(client, tenSteps.name, RUNS, `${prefix}-queued`);
  const startMs = performance.now() - s0;
  await client.close();
  note(`B: queued ${RUNS} runs in ${round(startMs, 0)} ms`);

  const t0 = performance.now();
  const worker = await Engine.open({ store, workflows: [tenSteps], concurrency: CONCURRENCY });
  const all = awaitChanges(worker, RUNS, completed, 300_000, 'B runs completed');
  const progress = setInterval(() => note(`B: ${all.seen()}/${RUNS} runs completed`), 2_000);
  const t1 = await all.done.finally(() => clearInterval(progress));
  const execMs = t1 - t0;

  // Pass 2 (end to end): the same load started on the worker while it executes.
  const e0 = performance.now();
  const all2 = awaitChanges(worker, RUNS, completed, 300_000, 'B end-to-end runs completed');
  await startRuns(worker, tenSteps.name, RUNS, `${prefix}-live`);
  const e1 = await all2.done;
  const endToEndMs = e1 - e0;
  await worker.close();

  const verify = await Engine.open({ store, workflows: [tenSteps], worker: false });
  const done = (await verify.listRuns({ workflow: tenSteps.name, status: 'completed', limit: 10 * RUNS })).length;
  await verify.close();
  if (done < 2 * RUNS) throw new Error(`B: only ${done}/${2 * RUNS} runs completed`);

  const stepsPerSec = totalSteps / (execMs / 1000);
  emit({
    scenario: 'B',
    name: 'concurrent-runs',
    runs: RUNS,
    steps: totalSteps,
    concurrency: CONCURRENCY,
    stepsPerSec: round(stepsPerSec, 0),
    execMs: round(execMs, 1),
    queueStartsMs: round(startMs, 1),
    endToEndStepsPerSec: round(totalSteps / (endToEndMs / 1000), 0),
    endToEndMs: round(endToEndMs, 1),
    target: `>=${TARGET} steps/s`,
    met: stepsPerSec >= TARGET,
  });
}
