import { randomUUID } from 'node:crypto';
import { defineWorkflow, Engine } from '../../src/index.js';
import { awaitChanges, emit, note, round, startRuns, type ScenarioContext } from '../lib.js';

const RUNS = 10_000;
const STEPS_PER_RUN = 20;
const TARGET_MS = 10_000;

/** v1: twenty steps, then a wait: every run is in flight with a 22-event history. */
const current = defineWorkflow({
  name: 'bench-h-checked',
  version: 1,
  async run(ctx) {
    for (let i = 0; i < STEPS_PER_RUN; i++) await ctx.step(`s${i}`, () => ({ i }));
    return ctx.waitForSignal('finish');
  },
});

/** The candidate: the same steps with changed internals (a config-only change). */
const candidate = defineWorkflow({
  name: 'bench-h-checked',
  version: 2,
  async run(ctx) {
    for (let i = 0; i < STEPS_PER_RUN; i++) await ctx.step(`s${i}`, () => ({ i, tuned: true }));
    return ctx.waitForSignal('finish');
  },
});

/** H: deploy check of 10,000 in-flight runs with 20 steps each; target under 10 s. */
export async function scenarioH({ store }: ScenarioContext): Promise<void> {
  const engine = await Engine.open({ store, workflows: [current], concurrency: 200 });
  try {
    const parked = awaitChanges(engine, RUNS, (c) => c.status === 'waiting', 600_000, 'H runs parked');
    const t0 = performance.now();
    await startRuns(engine, current.name, RUNS, `h-${randomUUID().slice(0, 8)}`);
    await parked.done;
    note(`H: ${RUNS} runs with ${STEPS_PER_RUN} steps parked in ${round((performance.now() - t0) / 1000, 1)} s`);
    const c0 = performance.now();
    const report = await engine.deployCheck([candidate], { sampleCompleted: 0 });
    const checkMs = performance.now() - c0;
    const check = report.workflows[0]!;
    if (check.counts.compatible !== RUNS)
      throw new Error(`H: expected ${RUNS} compatible runs, got ${JSON.stringify(check.counts)}`);
    emit({
      scenario: 'H',
      name: 'deploy-check',
      runs: RUNS,
      stepsPerRun: STEPS_PER_RUN,
      checkMs: round(checkMs, 0),
      runsPerSec: round(RUNS / (checkMs / 1000), 0),
      classification: check.classification,
      target: `<${TARGET_MS} ms for ${RUNS} in-flight runs x ${STEPS_PER_RUN} steps`,
      met: checkMs < TARGET_MS,
    });
  } finally {
    await engine.close();
  }
}
