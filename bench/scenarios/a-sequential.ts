import { defineWorkflow, Engine } from '../../src/index.js';
import { emit, note, percentile, round, type ScenarioContext } from '../lib.js';

const STEPS = 1_000;
const WARMUP_STEPS = 200;
const TARGET = 2_000;

/** Step return times of the run being measured (bench-only side channel: workflow code is not replay-safe here). */
let marks: number[] = [];

const sequential = defineWorkflow({
  name: 'bench-a-sequential',
  version: 1,
  async run(ctx, input: { steps: number }) {
    marks.push(performance.now());
    for (let i = 0; i < input.steps; i++) {
      await ctx.step(`s${i}`, () => i);
      marks.push(performance.now());
    }
    return input.steps;
  },
});

/** A: one run of 1,000 sequential no-op steps; steps/s and per-step latency (time between consecutive step returns). */
export async function scenarioA({ store }: ScenarioContext): Promise<void> {
  const engine = await Engine.open({ store, workflows: [sequential] });
  try {
    note(`A: warm-up run of ${WARMUP_STEPS} steps`);
    const warm = await engine.start(sequential.name, { steps: WARMUP_STEPS });
    await engine.result(warm.id, { timeoutMs: 60_000 });

    marks = [];
    const t0 = performance.now();
    const run = await engine.start(sequential.name, { steps: STEPS });
    await engine.result(run.id, { timeoutMs: 120_000 });
    const wallMs = performance.now() - t0;

    const latencies = marks.slice(1).map((m, i) => m - marks[i]!);
    const stepsMs = marks[marks.length - 1]! - marks[0]!;
    const stepsPerSec = STEPS / (stepsMs / 1000);
    emit({
      scenario: 'A',
      name: 'sequential-steps',
      steps: STEPS,
      stepsPerSec: round(stepsPerSec, 0),
      p50StepMs: round(percentile(latencies, 50), 3),
      p99StepMs: round(percentile(latencies, 99), 3),
      maxStepMs: round(Math.max(...latencies), 3),
      stepsMs: round(stepsMs, 1),
      wallMs: round(wallMs, 1),
      target: `>=${TARGET} steps/s`,
      met: stepsPerSec >= TARGET,
    });
  } finally {
    await engine.close();
  }
}
