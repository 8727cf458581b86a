import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { fileURLToPath } from 'node:url';
import { Engine, type RunStatus } from '../../src/index.js';
import { awaitChanges, emit, note, round, type ScenarioContext } from '../lib.js';
import { schemaOf, withClient } from '../pg-schema.js';
import { firstStep, recovery } from './d-workflow.js';

const RUNS = 2_000;
/**
 * The child is killed once all runs are started, this many have committed their first step and parked in
 * their sleep, and KILL_AFTER_WORK_STARTED runs are inside their slow 'work' step (an unknown outcome).
 */
const KILL_AFTER_PARKED = 1_000;
const KILL_AFTER_WORK_STARTED = 50;
const SLEEP_MS = 1_500;
const STEP_MS = 200;
const TARGET_MS = 1_000;

/** Spawns the child, waits until the runs are in flight, SIGKILLs it; resolves with the kill time. */
async function crashChild(
  store: string,
  workerId: string,
  idPrefix: string,
): Promise<{ killedAt: number; progress: Record<string, number> }> {
  const script = fileURLToPath(new URL('../d-child.ts', import.meta.url));
  const args = ['--import', 'tsx', script, workerId, String(RUNS), idPrefix, String(SLEEP_MS), String(STEP_MS)];
  const env = { ...process.env, WAYMARK_BENCH_STORE: store };
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let started = 0;
  let last: Record<string, number> = {};
  try {
    for await (const line of createInterface({ input: child.stdout! })) {
      const facts = JSON.parse(line) as Record<string, number>;
      last = { ...last, ...facts };
      if (facts.started !== undefined) started = facts.started;
      if (
        started >= RUNS &&
        (last.parked ?? 0) >= KILL_AFTER_PARKED &&
        (last.workStarted ?? 0) >= KILL_AFTER_WORK_STARTED
      )
        break;
    }
  } finally {
    child.kill('SIGKILL');
  }
  const killedAt = performance.now();
  await exited;
  if (started < RUNS) throw new Error(`D: child exited after starting only ${started}/${RUNS} runs`);
  return { killedAt, progress: last };
}

/** Runs still leased by the dead worker (read straight from the store: leases are not part of the public API). */
async function leasedBy({ store, kind, dbPath }: ScenarioContext, workerId: string): Promise<number> {
  if (kind === 'postgres') {
    return withClient(store, async (client) => {
      const sql = `SELECT COUNT(*)::int AS n FROM "${schemaOf(store)}".runs WHERE lease_owner = $1`;
      return (await client.query<{ n: number }>(sql, [workerId])).rows[0]!.n;
    });
  }
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM runs WHERE lease_owner = ?').get(workerId) as { n: number }).n;
  } finally {
    db.close();
  }
}

async function countByStatus(store: string, idPrefix: string): Promise<Partial<Record<RunStatus, number>>> {
  const client = await Engine.open({ store, workflows: [recovery], worker: false });
  try {
    const runs = await client.listRuns({ workflow: recovery.name, limit: 100 * RUNS });
    const counts: Partial<Record<RunStatus, number>> = {};
    for (const run of runs) if (run.id.startsWith(idPrefix)) counts[run.status] = (counts[run.status] ?? 0) + 1;
    return counts;
  } finally {
    await client.close();
  }
}

/**
 * D: 2,000 runs in flight in a child process that is SIGKILLed; this process then opens an engine with
 * the child's workerId on the same store and measures the time to the first step executed after the
 * restart and until every run has completed.
 */
export async function scenarioD(context: ScenarioContext): Promise<void> {
  const { store } = context;
  const workerId = `bench-d-${randomUUID().slice(0, 8)}`;
  const idPrefix = `d-${randomUUID().slice(0, 8)}`;
  note(
    `D: child ${workerId} starts ${RUNS} runs; SIGKILL once ${KILL_AFTER_PARKED} have parked ` +
      `in a ${SLEEP_MS} ms sleep and ${KILL_AFTER_WORK_STARTED} are inside a ${STEP_MS} ms step`,
  );
  const { killedAt, progress } = await crashChild(store, workerId, idPrefix);
  const atKill = await countByStatus(store, idPrefix);
  const leasedAtKill = await leasedBy(context, workerId);
  note(
    `D: killed; child had seen ${JSON.stringify(progress)}; ` +
      `runs by status ${JSON.stringify(atKill)}; ${leasedAtKill} leased by the dead worker`,
  );
  const remaining = RUNS - (atKill.completed ?? 0);

  const t0 = performance.now();
  let firstCommitAt: number | undefined;
  const engine = await Engine.open({ store, workflows: [recovery], workerId });
  const openedAt = performance.now();
  try {
    engine.subscribe((change) => {
      if (firstCommitAt === undefined && change.events.includes('step_completed')) firstCommitAt = performance.now();
    });
    const all = awaitChanges(engine, remaining, (c) => c.status === 'completed', 120_000, 'D runs completed');
    const ticker = setInterval(() => note(`D: ${all.seen()}/${remaining} remaining runs completed`), 2_000);
    const doneAt = await all.done.finally(() => clearInterval(ticker));

    const after = await countByStatus(store, idPrefix);
    if ((after.completed ?? 0) !== RUNS) throw new Error(`D: not all runs completed: ${JSON.stringify(after)}`);
    if (firstStep.at === undefined || firstCommitAt === undefined) throw new Error('D: no step ran after the restart');

    const firstStepMs = firstCommitAt - t0;
    emit({
      scenario: 'D',
      name: 'crash-recovery',
      runs: RUNS,
      runsByStatusAtKill: atKill,
      leasedByDeadWorkerAtKill: leasedAtKill,
      openMs: round(openedAt - t0, 1),
      firstStepExecutedMs: round(firstStep.at - t0, 1),
      firstResumedStepMs: round(firstStepMs, 1),
      killToFirstResumedStepMs: round(firstCommitAt - killedAt, 1),
      allCompletedMs: round(doneAt - t0, 0),
      sleepMs: SLEEP_MS,
      stepMs: STEP_MS,
      allCompleted: true,
      target: `first resumed step <${TARGET_MS} ms; all complete`,
      met: firstStepMs < TARGET_MS,
    });
  } finally {
    await engine.close();
  }
}
