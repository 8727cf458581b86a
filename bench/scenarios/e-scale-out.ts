import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../src/index.js';
import type { ChildMessage, ParentMessage } from '../e-child.js';
import { emit, note, percentile, round, startRuns, type ScenarioContext } from '../lib.js';
import { E_STEPS, scaleOutWorkflow } from './e-workflow.js';

const RUNS = 2_000;
const PROCESS_COUNTS = [1, 2, 3];
/** Runs each engine process executes at once (the engine default). */
const CONCURRENCY = 100;
const TIMEOUT_MS = 300_000;

type Done = Extract<ChildMessage, { type: 'done' }>;

interface Worker {
  child: ChildProcess;
  completed: number;
  ready: Promise<void>;
  done: Promise<Done>;
}

const epochNow = () => performance.timeOrigin + performance.now();

/** Forks one engine process; it opens its engine only when told 'go'. */
function spawnWorker(store: string, workflow: string, workerId: string, onProgress: () => void): Worker {
  const script = fileURLToPath(new URL('../e-child.ts', import.meta.url));
  const child = fork(script, [workflow, workerId, String(CONCURRENCY)], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, WAYMARK_BENCH_STORE: store },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const worker = { child, completed: 0 } as Worker;
  // 'exit' can overtake the last IPC message: give it a moment before calling the child lost.
  const exited = new Promise<never>((_, reject) =>
    child.on('exit', (code) =>
      setTimeout(() => reject(new Error(`E: ${workerId} exited with code ${code} before reporting`)), 1_000),
    ),
  );
  exited.catch(() => {});
  worker.ready = Promise.race([
    exited,
    new Promise<void>((resolve) => child.on('message', (m: ChildMessage) => m.type === 'ready' && resolve())),
  ]);
  worker.done = Promise.race([
    exited,
    new Promise<Done>((resolve) => child.on('message', (m: ChildMessage) => m.type === 'done' && resolve(m))),
  ]);
  // Awaited later; until then a lost child must not become an unhandled rejection (the schema would not be dropped).
  worker.ready.catch(() => {});
  worker.done.catch(() => {});
  child.on('message', (m: ChildMessage) => {
    if (m.type === 'progress') {
      worker.completed = m.completed;
      onProgress();
    }
  });
  return worker;
}

/** Queues RUNS runs with a client engine, then has `processes` engine processes drain them; one result line. */
async function drainWith(store: string, processes: number, tag: string): Promise<void> {
  const workflow = scaleOutWorkflow(`bench-e-p${processes}`);
  const client = await Engine.open({ store, workflows: [workflow], worker: false });
  try {
    const q0 = performance.now();
    await startRuns(client, workflow.name, RUNS, `e-${tag}-p${processes}`);
    const queueMs = performance.now() - q0;
    note(`E[${processes}]: queued ${RUNS} runs in ${round(queueMs, 0)} ms; starting ${processes} engine process(es)`);

    let allDone: () => void = () => {};
    const drained = new Promise<void>((resolve) => (allDone = resolve));
    const workers: Worker[] = [];
    const progress = () => {
      if (workers.reduce((n, w) => n + w.completed, 0) >= RUNS) allDone();
    };
    for (let k = 0; k < processes; k++)
      workers.push(spawnWorker(store, workflow.name, `bench-e-${tag}-p${processes}-w${k + 1}`, progress));
    try {
      await Promise.all(workers.map((w) => w.ready));
      const goAt = epochNow();
      for (const w of workers) w.child.send({ type: 'go' } satisfies ParentMessage);
      const ticker = setInterval(
        () => note(`E[${processes}]: ${workers.map((w) => w.completed).join('+')}/${RUNS} runs completed`),
        2_000,
      );
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>(
        (_, reject) =>
          (timer = setTimeout(
            () => reject(new Error(`E[${processes}]: not drained after ${TIMEOUT_MS} ms`)),
            TIMEOUT_MS,
          )),
      );
      const failed = Promise.all(workers.map((w) => w.done)).then(() => {
        throw new Error(`E[${processes}]: engine processes stopped before the runs drained`);
      });
      await Promise.race([drained, timeout, failed]).finally(() => {
        clearInterval(ticker);
        clearTimeout(timer);
      });
      for (const w of workers) w.child.send({ type: 'stop' } satisfies ParentMessage);
      const reports = await Promise.all(workers.map((w) => w.done));
      await report(client, workflow.name, processes, goAt, queueMs, reports);
    } finally {
      for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    }
  } finally {
    await client.close();
  }
}

async function report(
  client: Engine,
  workflow: string,
  processes: number,
  goAt: number,
  queueMs: number,
  reports: Done[],
): Promise<void> {
  const summary = (await client.versions()).find((v) => v.workflow === workflow);
  const completedRuns = summary?.runs.completed ?? 0;
  const allCompleted = completedRuns === RUNS && summary?.inFlight === 0;
  if (!allCompleted) throw new Error(`E[${processes}]: runs by status ${JSON.stringify(summary?.runs)}`);

  const steps = RUNS * E_STEPS;
  const lastAt = Math.max(...reports.map((r) => r.lastCompletedAt ?? 0));
  const firstAt = Math.min(...reports.map((r) => r.firstStepAt ?? Infinity));
  const wallMs = lastAt - goAt;
  const execMs = lastAt - firstAt;
  const latencies = reports.flatMap((r) => r.latencies);
  emit({
    scenario: 'E',
    name: 'scale-out',
    processes,
    runs: RUNS,
    steps,
    concurrencyPerProcess: CONCURRENCY,
    stepsPerSec: round(steps / (wallMs / 1000), 0),
    execStepsPerSec: round(steps / (execMs / 1000), 0),
    p50StepMs: round(percentile(latencies, 50), 2),
    p99StepMs: round(percentile(latencies, 99), 2),
    maxStepMs: round(Math.max(...latencies), 2),
    latencySamples: latencies.length,
    wallMs: round(wallMs, 0),
    execMs: round(execMs, 0),
    queueStartsMs: round(queueMs, 0),
    openMs: reports.map((r) => round(r.openMs, 0)),
    runsByProcess: reports.map((r) => r.completed),
    stepsByProcess: reports.map((r) => r.steps),
    completedRuns,
    allCompleted,
    target: 'none (report steps/s and p99 step latency per process count)',
    met: allCompleted,
  });
}

/**
 * E: scale-out on one PostgreSQL schema: 2,000 runs x 10 tiny steps queued by a client engine, then drained by
 * 1, 2 and 3 engine processes (each its own workerId). Wall time is from 'go' to the last run completed;
 * step latency is measured inside the workflow (a step's start to the next step's start).
 */
export async function scenarioE({ store, kind }: ScenarioContext): Promise<void> {
  if (kind !== 'postgres') throw new Error('E runs on PostgreSQL only');
  const tag = randomUUID().slice(0, 6);
  for (const processes of PROCESS_COUNTS) await drainWith(store, processes, tag);
}
