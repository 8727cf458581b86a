import { defineWorkflow } from '../index.js';

export interface ReportInput {
  /** Number of parts to build. (Default: 3) */
  parts?: number;
}

/** A batch job: builds the report part by part, one checkpointed step each, and samples with ctx.random. */
export const report = defineWorkflow({
  name: 'report',
  version: 1,
  async run(ctx, input: ReportInput | null) {
    const parts = Math.max(1, Math.min(input?.parts ?? 3, 100));
    const sizes: number[] = [];
    for (let i = 1; i <= parts; i++) {
      sizes.push(await ctx.step(`build-part-${i}`, () => 1_000 * i));
    }
    const sampled = Math.floor(ctx.random() * parts) + 1;
    const startedAt = ctx.now();
    await ctx.sleep(100);
    return { parts, bytes: sizes.reduce((a, b) => a + b, 0), sampled, tookMs: ctx.now() - startedAt };
  },
});
