/**
 * One of E's engine processes: `WAYMARK_BENCH_STORE=<postgres url> node --import tsx bench/e-child.ts
 * <workflow> <workerId> <concurrency>`, spawned with an IPC channel. Waits for 'go', opens a worker engine,
 * reports completed runs as it goes; on 'stop' closes the engine and sends its step latencies.
 */
import { Engine } from '../src/index.js';
import { firstStepAt, scaleOutWorkflow, stepLatencies } from './scenarios/e-workflow.js';

export type ParentMessage = { type: 'go' } | { type: 'stop' };
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'progress'; completed: number }
  | {
      type: 'done';
      workerId: string;
      completed: number;
      steps: number;
      firstStepAt: number | undefined;
      lastCompletedAt: number | undefined;
      openMs: number;
      latencies: number[];
    };

const store = process.env.WAYMARK_BENCH_STORE;
const [workflowName, workerId, concurrencyArg] = process.argv.slice(2);
if (!store || !workflowName || !workerId || !concurrencyArg || !process.send) {
  process.stderr.write(
    'usage: WAYMARK_BENCH_STORE=<url> e-child.ts <workflow> <workerId> <concurrency> (with an IPC channel)\n',
  );
  process.exit(2);
}
const send = (message: ChildMessage) => process.send!(message);
const workflow = scaleOutWorkflow(workflowName);
const epochNow = () => performance.timeOrigin + performance.now();

let engine: Engine | undefined;
let completed = 0;
let steps = 0;
let lastCompletedAt: number | undefined;
let openMs = 0;
let ticker: NodeJS.Timeout | undefined;

async function go(): Promise<void> {
  const t0 = performance.now();
  engine = await Engine.open({ store: store!, workflows: [workflow], workerId, concurrency: Number(concurrencyArg) });
  openMs = performance.now() - t0;
  engine.subscribe((change) => {
    steps += change.events.filter((e) => e === 'step_completed').length;
    if (change.status === 'completed') {
      completed++;
      lastCompletedAt = epochNow();
    }
  });
  ticker = setInterval(() => send({ type: 'progress', completed }), 50);
}

async function stop(): Promise<void> {
  if (ticker) clearInterval(ticker);
  await engine?.close();
  // Disconnect only once the (large) report is flushed, or it can be lost.
  const report: ChildMessage = {
    type: 'done',
    workerId: workerId!,
    completed,
    steps,
    firstStepAt: firstStepAt.at,
    lastCompletedAt,
    openMs,
    latencies: stepLatencies,
  };
  process.send!(report, undefined, {}, () => process.disconnect());
}

process.on('message', (message: ParentMessage) => {
  const action = message.type === 'go' ? go() : stop();
  action.catch((error) => {
    process.stderr.write(`e-child ${workerId}: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
});
send({ type: 'ready' });
