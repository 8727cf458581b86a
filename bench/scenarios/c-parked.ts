import { randomUUID } from 'node:crypto';
import { getHeapSpaceStatistics } from 'node:v8';
import { defineWorkflow, Engine } from '../../src/index.js';
import { awaitChanges, emit, fullGc, note, round, rssMb, startRuns, type ScenarioContext } from '../lib.js';

const RUNS = 10_000;
const MB = 2 ** 20;
/** Parked before the baseline, so V8 has grown its young generation to its working size first. */
const WARMUP_RUNS = 2_000;
const TARGET_MB = 30;

const parked = defineWorkflow({
  name: 'bench-c-parked',
  version: 1,
  async run(ctx, input: { i: number }) {
    await ctx.step('prepare', () => input.i);
    const approval = await ctx.waitForSignal<{ ok: boolean }>('approval');
    return approval?.ok ?? false;
  },
});

const waiting = (change: { status?: string }) => change.status === 'waiting';

interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  youngGen: number;
}

/** Memory figures in MB, after a full GC when available. */
async function memory(): Promise<Memory> {
  await fullGc();
  const usage = process.memoryUsage();
  const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
  return { rss: rssMb(), heapUsed: usage.heapUsed / MB, heapTotal: usage.heapTotal / MB, youngGen: young / MB };
}

/** Starts `count` runs and resolves once all of them are parked; returns the elapsed ms. */
async function park(
  engine: Engine,
  count: number,
  idPrefix: string,
): Promise<{ parkMs: number; startsMs: number; peakRss: number }> {
  const t0 = performance.now();
  const all = awaitChanges(engine, count, waiting, 600_000, `C ${idPrefix} parked`);
  const progress = setInterval(() => note(`C: ${all.seen()}/${count} runs parked, rss ${round(rssMb(), 1)} MB`), 2_000);
  await startRuns(engine, parked.name, count, idPrefix);
  const startsMs = performance.now() - t0;
  const t1 = await all.done.finally(() => clearInterval(progress));
  return { parkMs: t1 - t0, startsMs, peakRss: rssMb() };
}

/**
 * C: 10,000 runs parked in waitForSignal; RSS growth once all are parked (after a full GC) and time to
 * park them. A second batch of 10,000 shows the marginal cost per parked run once V8's heap has grown.
 */
export async function scenarioC({ store }: ScenarioContext): Promise<void> {
  const prefix = `c-${randomUUID().slice(0, 8)}`;
  const engine = await Engine.open({ store, workflows: [parked] });
  try {
    // Warm up code paths, prepared statements and the page cache before the baseline.
    await park(engine, WARMUP_RUNS, `${prefix}-warm`);
    const gcAvailable = await fullGc();
    if (!gcAvailable) note('C: global.gc is not available (run node with --expose-gc); RSS figures include garbage');
    const base = await memory();

    const first = await park(engine, RUNS, `${prefix}-a`);
    const after = await memory();
    note(`C: first ${RUNS} parked in ${round(first.parkMs, 0)} ms; memory ${JSON.stringify(after)}`);

    const second = await park(engine, RUNS, `${prefix}-b`);
    const after2 = await memory();
    note(`C: second ${RUNS} parked in ${round(second.parkMs, 0)} ms; memory ${JSON.stringify(after2)}`);

    const waitingRuns = (await engine.listRuns({ workflow: parked.name, status: 'waiting', limit: 3 * RUNS })).length;
    if (waitingRuns < 2 * RUNS + WARMUP_RUNS)
      throw new Error(`C: only ${waitingRuns}/${2 * RUNS + WARMUP_RUNS} runs are waiting`);

    const growth = after.rss - base.rss;
    emit({
      scenario: 'C',
      name: 'parked-runs-memory',
      runs: RUNS,
      rssGrowthMb: round(growth, 1),
      heapUsedGrowthMb: round(after.heapUsed - base.heapUsed, 1),
      heapTotalGrowthMb: round(after.heapTotal - base.heapTotal, 1),
      youngGenMb: { before: round(base.youngGen, 1), after: round(after.youngGen, 1) },
      baseRssMb: round(base.rss, 1),
      rssAfterMb: round(after.rss, 1),
      rssBeforeGcMb: round(first.peakRss, 1),
      parkMs: round(first.parkMs, 0),
      parkedPerSec: round(RUNS / (first.parkMs / 1000), 0),
      startsMs: round(first.startsMs, 0),
      secondBatchRssGrowthMb: round(after2.rss - after.rss, 1),
      secondBatchHeapUsedGrowthMb: round(after2.heapUsed - after.heapUsed, 1),
      secondBatchParkMs: round(second.parkMs, 0),
      gc: gcAvailable,
      target: `<=${TARGET_MB} MB RSS growth`,
      met: growth <= TARGET_MB,
    });
  } finally {
    await engine.close();
  }
}
