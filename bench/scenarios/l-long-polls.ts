import { fork } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { defineWorkflow, Engine } from '../../src/index.js';
import { buildServer } from '../../src/server/server.js';
import type { LoadReport } from '../l-child.js';
import { emit, note, percentile, round, type ScenarioContext } from '../lib.js';

const POLLS = 5_000;
const TIMEOUT_MS = 20_000;
/** Runs started while the second wave of polls waits: each schedules one task. */
const TASKS = 2_000;

const oneTask = defineWorkflow({
  name: 'bench-l-task',
  version: 1,
  async run(ctx) {
    return ctx.task('bench_l_work', {});
  },
});

/** Forks the load process against the server and waits for its report. */
function load(url: string, taskType: string): Promise<LoadReport> {
  const script = fileURLToPath(new URL('../l-child.ts', import.meta.url));
  const child = fork(script, [url, String(POLLS), String(TIMEOUT_MS), taskType], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.on('message', (m: LoadReport) => resolve(m));
    child.on('exit', (code) => code !== 0 && reject(new Error(`L: the load process exited with code ${code}`)));
  });
}

/** Forks the independent /health probe; `stop()` ends it and resolves with its answers' times in ms. */
function probeHealth(url: string): { stop: () => Promise<number[]>; kill: () => void } {
  const script = fileURLToPath(new URL('../health-probe.ts', import.meta.url));
  const child = fork(script, [url], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const report = new Promise<number[]>((resolve, reject) => {
    child.on('message', (m: { healthMs: number[] }) => resolve(m.healthMs));
    child.on('exit', (code) => code !== 0 && reject(new Error(`L: the health probe exited with code ${code}`)));
  });
  return {
    stop: () => {
      child.send('stop');
      return report;
    },
    kill: () => {
      if (child.exitCode === null) child.kill();
    },
  };
}

/**
 * L: 5,000 concurrent batch long polls of 20 s over loopback (a separate load process, one connection each)
 * against one server. First wave: no task ever comes (every poll must be answered at its timeout); second
 * wave: 2,000 runs each schedule one task while the polls wait (each task must reach exactly one poll).
 * Meanwhile GET /health is asked every 100 ms, by the load process and by an independent probe process. Figures: when
 * polls were answered past their timeout,
 * /health latency, and the store polls the waiting cost.
 */
export async function scenarioL({ store }: ScenarioContext): Promise<void> {
  const engine = await Engine.open({ store, workflows: [oneTask], concurrency: 500, rolloutCheckMs: 0 });
  // Server-side times (from the request read to the answer sent) tell the server's delays from the load process's.
  const served: { poll: number[]; busyEmpty: number[]; health: number[] } = { poll: [], busyEmpty: [], health: [] };
  const app = buildServer({ engine });
  app.addHook('onResponse', async (request, reply) => {
    if (request.url.startsWith('/api/tasks/poll/batch/bench_l_idle')) served.poll.push(reply.elapsedTime - TIMEOUT_MS);
    else if (request.url.startsWith('/api/tasks/poll/batch/bench_l_work') && reply.elapsedTime >= TIMEOUT_MS)
      served.busyEmpty.push(reply.elapsedTime - TIMEOUT_MS);
    else if (request.url === '/health') served.health.push(reply.elapsedTime);
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0, backlog: 4096 });
  const server = { url, close: () => app.close() };
  let storePolls = 0;
  const poll = engine.tasks.poll;
  engine.tasks.poll = (...args) => {
    storePolls++;
    return poll.apply(engine.tasks, args);
  };
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const probe = probeHealth(url);
  try {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    loopDelay.enable();
    const idle = await load(server.url, 'bench_l_idle');
    loopDelay.disable();
    const cpu = process.cpuUsage(cpu0);
    const idleSeconds = (performance.now() - t0) / 1000;
    const idlePolls = storePolls;
    note(`L: idle wave answered in ${round(idleSeconds, 1)} s with ${idlePolls} store polls`);

    const waves = load(server.url, 'bench_l_work');
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // the polls are waiting by then
    const started = performance.now();
    for (let i = 0; i < TASKS; i += 100)
      await Promise.all(Array.from({ length: 100 }, () => engine.start(oneTask.name, {})));
    const busy = await waves;
    const probed = await probe.stop();
    const handedOut = busy.answers.filter((a) => a.tasks === 1);
    note(
      `L: ${handedOut.length} tasks handed out to waiting polls; ` +
        `the wave ended ${round((performance.now() - started) / 1000, 1)} s after the first start`,
    );

    const overshoot = idle.answers.map((a) => a.ms - TIMEOUT_MS);
    const empty = busy.answers.filter((a) => a.tasks === 0).map((a) => a.ms - TIMEOUT_MS);
    const health = [...idle.healthMs, ...busy.healthMs];
    emit({
      scenario: 'L',
      name: 'long-polls',
      target: 'polls answered within their timeout + 1 s; /health within 100 ms',
      met:
        Math.max(...overshoot, ...empty) <= 1_000 &&
        percentile(probed, 100) <= 100 &&
        idle.answers.every((a) => a.tasks === 0) &&
        handedOut.length === TASKS,
      polls: POLLS,
      timeoutMs: TIMEOUT_MS,
      errors: [...idle.answers, ...busy.answers].filter((a) => a.tasks < 0).length,
      idleAnsweredPastTimeoutP50Ms: round(percentile(overshoot, 50), 0),
      idleAnsweredPastTimeoutMaxMs: round(percentile(overshoot, 100), 0),
      idleConnectP50Ms: round(
        percentile(
          idle.answers.map((a) => a.connectMs),
          50,
        ),
        0,
      ),
      idleConnectMaxMs: round(
        percentile(
          idle.answers.map((a) => a.connectMs),
          100,
        ),
        0,
      ),
      idleStorePollsPerSec: round(idlePolls / idleSeconds, 1),
      idleServerCpuSec: round((cpu.user + cpu.system) / 1e6, 2),
      idleServerLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6, 1),
      idleServerLoopDelayMaxMs: round(loopDelay.max / 1e6, 1),
      tasksHandedOut: handedOut.length,
      taskWaitP50Ms: round(
        percentile(
          handedOut.map((a) => a.ms),
          50,
        ),
        0,
      ),
      emptyAnsweredPastTimeoutMaxMs: empty.length ? round(percentile(empty, 100), 0) : null,
      servedEmptyPastTimeoutMaxMs: served.busyEmpty.length ? round(percentile(served.busyEmpty, 100), 0) : null,
      servedPastTimeoutP50Ms: round(percentile(served.poll, 50), 0),
      servedPastTimeoutMaxMs: round(percentile(served.poll, 100), 0),
      servedHealthP99Ms: round(percentile(served.health, 99), 1),
      servedHealthMaxMs: round(percentile(served.health, 100), 1),
      probeHealthP50Ms: round(percentile(probed, 50), 1),
      probeHealthP99Ms: round(percentile(probed, 99), 1),
      probeHealthMaxMs: round(percentile(probed, 100), 1),
      healthP50Ms: round(percentile(health, 50), 1),
      healthP99Ms: round(percentile(health, 99), 1),
      healthMaxMs: round(percentile(health, 100), 1),
    });
  } finally {
    probe.kill();
    engine.tasks.poll = poll;
    await server.close();
    await engine.close();
  }
}
