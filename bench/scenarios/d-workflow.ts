import { defineWorkflow } from '../../src/index.js';

/** When this process first executed a step body, and how many 'work' bodies it began (bench-only side channel). */
export const firstStep = { at: undefined as number | undefined, workStarted: 0 };

/** D's workflow, shared by the child that is killed and the process that recovers its runs. */
export const recovery = defineWorkflow({
  name: 'bench-d-recovery',
  version: 1,
  async run(ctx, input: { i: number; sleepMs: number; stepMs: number }) {
    const mark = () => {
      firstStep.at ??= performance.now();
    };
    await ctx.step('prepare', () => {
      mark();
      return input.i;
    });
    await ctx.sleep(input.sleepMs);
    await ctx.step('work', async () => {
      mark();
      firstStep.workStarted++;
      await new Promise((resolve) => setTimeout(resolve, input.stepMs));
      return input.i * 2;
    });
    return ctx.step('finish', () => {
      mark();
      return input.i;
    });
  },
});
