/**
 * D's victim: `WAYMARK_BENCH_STORE=<store> node --import tsx bench/d-child.ts <workerId> <runs> <idPrefix> <sleepMs>
 * <stepMs>`. Starts the runs and reports progress as JSON lines on stdout until the parent SIGKILLs it.
 */
import { Engine } from '../src/index.js';
import { firstStep, recovery } from './scenarios/d-workflow.js';

const store = process.env.WAYMARK_BENCH_STORE;
const [workerId, runsArg, idPrefix, sleepArg, stepArg] = process.argv.slice(2);
if (!store || !workerId || !runsArg || !idPrefix || !sleepArg || !stepArg) {
  process.stderr.write(
    'usage: WAYMARK_BENCH_STORE=<store> d-child.ts <workerId> <runs> <idPrefix> <sleepMs> <stepMs>\n',
  );
  process.exit(2);
}
const runs = Number(runsArg);
const report = (facts: Record<string, number>) => process.stdout.write(`${JSON.stringify(facts)}\n`);

const engine = await Engine.open({ store, workflows: [recovery], workerId });
let parked = 0;
let steps = 0;
engine.subscribe((change) => {
  steps += change.events.filter((e) => e === 'step_completed').length;
  if (change.status === 'waiting') parked++;
});
setInterval(() => report({ parked, steps, workStarted: firstStep.workStarted }), 20);
let started = 0;
let next = 0;
async function lane() {
  while (next < runs) {
    const i = next++;
    await engine.start(
      recovery.name,
      { i, sleepMs: Number(sleepArg), stepMs: Number(stepArg) },
      { id: `${idPrefix}-${i}` },
    );
    started++;
  }
}
await Promise.all(Array.from({ length: 100 }, lane));
report({ started, parked, steps });
// Keep executing until killed.
