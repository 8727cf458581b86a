import { defineWorkflow, type WorkflowDefinition } from '../../src/index.js';

/** Steps per run of E's workload. */
export const E_STEPS = 10;

/**
 * Step latencies measured in this process (bench-only side channel, not replay-safe): per run, the time from
 * each step's start to the next step's start (the last: to the run's return), i.e. a step plus its checkpoint.
 */
export const stepLatencies: number[] = [];
/** Epoch ms of the first step start in this process. */
export const firstStepAt = { at: undefined as number | undefined };

const epochNow = () => performance.timeOrigin + performance.now();

/** E's workflow: `E_STEPS` tiny steps. One name per process count, so version counts are per round. */
export function scaleOutWorkflow(name: string): WorkflowDefinition {
  return defineWorkflow({
    name,
    version: 1,
    async run(ctx, input: { i: number }) {
      let last = epochNow();
      firstStepAt.at ??= last;
      for (let s = 0; s < E_STEPS; s++) {
        const start = epochNow();
        if (s > 0) stepLatencies.push(start - last);
        last = start;
        await ctx.step(`s${s}`, () => input.i + s);
      }
      stepLatencies.push(epochNow() - last);
      return E_STEPS;
    },
  });
}
