/**
 * The chaos suite (issue 12): a workload of random shapes (test/fixtures/random-workflows.ts) and of runs
 * queued on a few target locks (test/fixtures/chaos-workflows.ts), executed by worker processes that are
 * SIGKILLed over and over, whose PostgreSQL server restarts, or whose database connections are terminated.
 * After each: every run completes with its expected output, no committed step attempt executes again, and
 * no lock key is held by two runs at once (test/fixtures/chaos-checks.ts). Each scenario prints one summary
 * line with its counts.
 *
 * Seeded: the seed (`# seed <n>`) picks the shapes, the victims, the moments and the take-backs; replay
 * one with WAYMARK_CHAOS_SEED=<n> (Default: random). WAYMARK_PROPERTY_SCALE multiplies the storms' kills and
 * workloads (Default: 1: 8 kills of 1 SQLite worker, 10 kills among 3 PostgreSQL workers, 32 shapes and 18 locked
 * runs each). The restart uses a private cluster (test/pg-private.ts)
 * and the terminations only the worker's own connections (its `application_name`): the shared server the
 * other test files use is never disturbed.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import pg from 'pg';
import { Engine, type HistoryEvent } from '../../src/index.js';
import { backends, forEachBackend, TEST_PG_URL, tempDir, tempPgStore, type Backend } from '../helpers.js';
import { privateClusterUnavailable, startPrivateCluster } from '../pg-private.js';
import {
  committedProblems,
  lockProblems,
  verifyWorkload,
  type ChaosLine,
  type ChaosVerdict,
  type Execution,
} from '../fixtures/chaos-checks.js';
import { storeFacts } from '../fixtures/chaos-facts.js';
import { WorkloadDriver } from '../fixtures/chaos-drive.js';
import { Fleet, type FleetWorker } from '../fixtures/chaos-fleet.js';
import {
  chaosWorkerId,
  chaosWorkload,
  workloadEnv,
  type Workload,
  type WorkloadSize,
} from '../fixtures/chaos-workflows.js';

const SEED =
  process.env.WAYMARK_CHAOS_SEED === undefined
    ? Math.floor(Math.random() * 0x7fffffff)
    : Number(process.env.WAYMARK_CHAOS_SEED);
const skipPg = backends.some((b) => b.name === 'postgres') ? false : 'PostgreSQL is not among WAYMARK_TEST_STORES';
/** How long a worker's lease lasts without renewal, in ms: killed workers' runs not taken back wait this long. */
const LEASE_MS = 2_000;
/** Longest the workload may take to come to rest once the chaos is over. */
const AT_REST_MS = 60_000;

/** A seeded source of numbers in [0, 1) (mulberry32): the same seed makes the same choices. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The workload, its ledger, a client engine serving its definitions, a fleet of chaos workers on
 * `workerStore` (Default: `store`) and `drive()`, which starts the runs and drives them; all of it is
 * stopped after the test, whatever happened.
 */
async function setUp(t: TestContext, store: string, size: WorkloadSize, spares: number, workerStore = store) {
  const workload = chaosWorkload(SEED, size);
  const ledgerPath = join(tempDir(), 'ledger.jsonl');
  const client = await Engine.open({
    store,
    worker: false,
    workflows: workload.definitions,
    poolSize: 2,
    rolloutCheckMs: 0,
    logger: { warn: () => {} },
  });
  const fleet = new Fleet(
    { STORE: workerStore, LEDGER: ledgerPath, LEASE_MS: String(LEASE_MS), ...workloadEnv(SEED, size) },
    spares,
  );
  let driver: WorkloadDriver | undefined;
  t.after(async () => {
    await driver?.stop();
    await fleet.destroy();
    await client.close();
  });
  const drive = async () => (driver = await WorkloadDriver.start(client, workload));
  return { workload, ledgerPath, client, fleet, drive };
}

/**
 * Lets the chaos end: waits for the runs to come to rest (failing with what the store holds about those that
 * do not, and which workers are up), stops driving and the workers (each must exit cleanly), then checks everything.
 */
async function settle(
  store: string,
  workload: Workload,
  ledgerPath: string,
  client: Engine,
  fleet: Fleet,
  driver: WorkloadDriver,
): Promise<ChaosVerdict> {
  try {
    await driver.allAtRest(AT_REST_MS);
  } catch (error) {
    const left = (await client.listRuns({ status: ['running', 'waiting', 'compensating'], limit: 1_000 })).map(
      (run) => run.id,
    );
    const workers = [...fleet.live.values()].map(
      (w) =>
        `${w.workerId} (pid ${w.fixture.child.pid}, ` +
        `exit ${w.fixture.child.exitCode ?? w.fixture.child.signalCode ?? 'none'}, ${w.commits} commits)`,
    );
    throw new Error(
      `${(error as Error).message}\nlive workers: ` +
        `${workers.join(', ')}\n${await storeFacts(store, left)}\n(seed ${SEED})`,
    );
  }
  const errors = await driver.stop();
  const exits = await fleet.stop();
  assert.deepEqual(errors, [], 'the task worker and the signals met no errors');
  assert.ok(
    Object.values(exits).every((code) => code === 0),
    `every live worker closed cleanly: ${JSON.stringify(exits)}`,
  );
  assert.deepEqual(fleet.unexpectedWarnings(), [], 'no execution failed unexpectedly');
  const verdict = await verifyWorkload(client, workload, ledgerPath, (runId) => fleet.abandoned(runId));
  assert.deepEqual(
    verdict.problems.slice(0, 20),
    [],
    `${verdict.problems.length} problems (seed ${SEED}; replay with WAYMARK_CHAOS_SEED=${SEED})`,
  );
  return verdict;
}

/** The counts every summary line ends with. */
const counted = (v: ChaosVerdict, driver: WorkloadDriver) =>
  `${v.executions} step executions, ${v.uncommitted} re-executions ` +
  `allowed because uncommitted, 0 committed steps executed again, ` +
  `${v.lockHoldings} lock holdings without overlap, ${driver.slot.retries} driver calls retried`;

/** Resolves with true once `worker` committed `count` times, false if it exits first or the workload comes to rest. */
async function reachedMidLoad(worker: FleetWorker, count: number, driver: WorkloadDriver): Promise<boolean> {
  const reached = await worker.committed(count);
  return reached && (await driver.unfinished()) > 0;
}

/**
 * SIGKILLs a random live worker every few hundred ms (once it has committed since it started), `kills`
 * times or until the runs are done, restarting each as the next generation (half of them taking the dead
 * one's runs back at once, the others leaving them to lease expiry) while the others go on.
 */
async function storm(fleet: Fleet, slots: string[], driver: WorkloadDriver, kills: number, rng: () => number) {
  const counts = { kills: 0, takeBacks: 0 };
  const launching = new Map<string, Promise<unknown>>();
  const launches: Promise<unknown>[] = []; // all of them, awaited at the end: a failed launch fails the test
  while (counts.kills < kills && (await driver.unfinished()) > 0) {
    await delay(150 + Math.floor(rng() * 350));
    if (fleet.live.size === 0) await Promise.race([...launching.values(), Promise.all(launches)]);
    const live = slots.filter((slot) => fleet.live.has(slot));
    const working = live.filter((slot) => fleet.live.get(slot)!.commits > 0);
    const candidates = working.length > 0 ? working : live;
    const slot = candidates[Math.floor(rng() * candidates.length)]!;
    const takeBack = rng() < 0.5;
    await Promise.race([fleet.live.get(slot)!.committed(1), delay(2_000)]);
    const dead = await fleet.kill(slot);
    counts.kills++;
    if (takeBack) counts.takeBacks++;
    const launch = fleet.launch(slot, takeBack ? [dead] : []);
    launches.push(launch);
    launching.set(slot, launch);
    launch.then(
      () => launching.delete(slot),
      () => launching.delete(slot),
    );
  }
  await Promise.all(launches);
  return counts;
}

test(
  'the chaos checks see a committed attempt executed again, ' +
    'one missing from the ledger, a double execution by its committer and a lock held twice',
  () => {
    const audit = (attempt: number, generation: number) => ({
      attempt,
      workerId: chaosWorkerId(generation),
      startedAt: 0,
      durationMs: 0,
    });
    const completed = (attempt: number, generation: number): HistoryEvent => ({
      pos: 0,
      type: 'step_completed',
      seq: 0,
      name: 's',
      at: 0,
      data: audit(attempt, generation),
    });
    const retried = (attempt: number, generation: number): HistoryEvent => ({
      pos: 0,
      type: 'step_failed',
      seq: 0,
      name: 's',
      at: 0,
      data: {
        ...audit(attempt, generation),
        effect: 'none',
        error: { name: 'Error', message: 'first attempt' },
        retryAt: 1,
      },
    });
    const ran = (...executions: [attempt: number, generation: number][]): Execution[] =>
      executions.map(([attempt, gen], pos) => ({ run: 'r', step: 's', attempt, gen, pos }));
    const count = (events: HistoryEvent[], executions: Execution[], strict = true) =>
      committedProblems(events, executions, strict).problems.length;

    assert.deepEqual(
      committedProblems([completed(1, 1)], ran([1, 0], [1, 1]), true),
      { problems: [], matched: 1 },
      'an attempt lost to a kill ran again in the next generation',
    );
    assert.equal(count([completed(1, 1)], ran([1, 1], [1, 2])), 1, 'a later generation ran a completed step again');
    assert.equal(
      count([completed(1, 2)], ran([1, 2], [1, 1])),
      1,
      'an older live generation ran a completed step again',
    );
    assert.equal(
      count([retried(1, 0), completed(2, 0)], ran([1, 0], [2, 0])),
      0,
      'a committed failed attempt is followed by its retry',
    );
    assert.equal(
      count([retried(1, 0), completed(2, 1)], ran([1, 0], [1, 1], [2, 1])),
      1,
      'a committed failed attempt ran again',
    );
    assert.equal(count([completed(1, 0)], ran([1, 0], [1, 0])), 1, 'the committing generation ran the attempt twice');
    assert.equal(
      count([completed(1, 0)], ran([1, 0], [1, 0]), false),
      0,
      'allowed when it abandoned an execution of the run',
    );
    assert.equal(count([completed(1, 0)], []), 1, 'a committed attempt with no execution');

    const line = (run: string, key: string): ChaosLine => ({ run, step: 'l0', attempt: 1, gen: 0, key });
    assert.deepEqual(lockProblems([line('a', 'k'), line('a', 'k'), line('b', 'k'), line('c', 'j'), line('b', 'k')]), {
      problems: [],
      holdings: 3,
    });
    assert.equal(
      lockProblems([line('a', 'k'), line('b', 'k'), line('a', 'k')]).problems.length,
      1,
      'b began while a held k',
    );
  },
);

/** Multiplies the storms' kills and workloads (WAYMARK_PROPERTY_SCALE; Default: 1). */
const SCALE = Number(process.env.WAYMARK_PROPERTY_SCALE ?? 1);
const scaled = (n: number) => Math.max(1, Math.round(n * SCALE));
/** SQLite claims in one process by design: one worker at a time there; three share PostgreSQL. */
const STORM = {
  sqlite: { slots: ['solo'], kills: scaled(8), spares: 2 },
  postgres: { slots: ['a', 'b', 'c'], kills: scaled(10), spares: 3 },
} as const;

forEachBackend((backend: Backend) => {
  const plan = STORM[backend.name];
  const processes = `${plan.slots.length} worker process${plan.slots.length > 1 ? 'es' : ''}`;
  const name =
    `SIGKILL storm (${processes}, up to ${plan.kills} kills): ` +
    'every run completes as expected, no committed step runs again, no lock is held twice';
  test(name, { timeout: 150_000 }, async (t) => {
    t.diagnostic(`seed ${SEED}`);
    const size = { shapes: scaled(32), keys: 3, lockedPerKey: scaled(6) };
    const store = backend.store();
    const { workload, ledgerPath, client, fleet, drive } = await setUp(t, store, size, plan.spares);
    await Promise.all(plan.slots.map((slot) => fleet.launch(slot)));
    const driver = await drive();
    const counts = await storm(fleet, [...plan.slots], driver, plan.kills, random(SEED));
    const verdict = await settle(store, workload, ledgerPath, client, fleet, driver);
    t.diagnostic(
      `chaos storm ${backend.name}: seed ${SEED}, ${verdict.runs} runs (${size.shapes} shapes, ` +
        `${size.keys * size.lockedPerKey} locked on ${size.keys} keys), ` +
        `${counts.kills} SIGKILLs (${counts.takeBacks} taken back at once, ` +
        `the others after their lease) over ${fleet.generations} worker generations, ${counted(verdict, driver)}`,
    );
    assert.ok(
      counts.kills >= plan.kills / 2,
      `the workload outlived at least half the planned kills (${counts.kills} of ${plan.kills})`,
    );
    assert.equal(verdict.lockHoldings, size.keys * size.lockedPerKey, 'every locked run left lines under its key');
  });
});

test('PostgreSQL restarted twice mid-load (a private cluster): ' +
  'every run completes as expected, no committed step runs again, the worker stays up', {
  skip: skipPg || privateClusterUnavailable,
  timeout: 120_000,
}, async (t) => {
  t.diagnostic(`seed ${SEED}`);
  const cluster = await startPrivateCluster();
  t.after(() => cluster.destroy());
  const size = { shapes: 36, keys: 3, lockedPerKey: 5 };
  const store = `${cluster.url}?schema=chaos`;
  const { workload, ledgerPath, client, fleet, drive } = await setUp(t, store, size, 1);
  const worker = await fleet.launch('solo');
  const driver = await drive();
  const rng = random(SEED);
  let restarts = 0;
  for (const atCommit of [20 + Math.floor(rng() * 30), 100 + Math.floor(rng() * 40)]) {
    assert.ok(
      await reachedMidLoad(worker, atCommit, driver),
      `the workload is still executing at the worker's commit ${atCommit}`,
    );
    await cluster.restart();
    restarts++;
  }
  assert.equal(worker.fixture.child.exitCode, null, 'the worker process is still running after the restarts');
  const verdict = await settle(store, workload, ledgerPath, client, fleet, driver);
  const outage = fleet.warnings.filter((w) => /failed/.test(w.message)).length;
  t.diagnostic(
    `chaos restart postgres: seed ${SEED}, ${verdict.runs} runs, ${restarts} server restarts (${outage} ` +
      `failure warnings from the worker, ${worker.commits} commits), ${counted(verdict, driver)}`,
  );
});

/** Terminates every connection to the shared server opened under `applicationName`; returns how many. */
async function terminateBackends(applicationName: string): Promise<number> {
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
      [applicationName],
    );
    return rows.length;
  } finally {
    await admin.end();
  }
}

test("the worker's PostgreSQL backends terminated 5 times mid-load: " +
  'every run completes as expected, no committed step runs again, the worker stays up', {
  skip: skipPg,
  timeout: 120_000,
}, async (t) => {
  t.diagnostic(`seed ${SEED}`);
  const applicationName = `waymark-chaos-${process.pid}`;
  const location = tempPgStore();
  const size = { shapes: 36, keys: 3, lockedPerKey: 5 };
  const { workload, ledgerPath, client, fleet, drive } = await setUp(
    t,
    location,
    size,
    1,
    `${location}&application_name=${applicationName}`,
  );
  const worker = await fleet.launch('solo');
  const driver = await drive();
  const rng = random(SEED);
  let terminations = 0;
  let backendsTerminated = 0;
  for (let i = 0, atCommit = 0; i < 5; i++) {
    atCommit += 15 + Math.floor(rng() * 25);
    assert.ok(
      await reachedMidLoad(worker, atCommit, driver),
      `the workload is still executing at the worker's commit ${atCommit}`,
    );
    backendsTerminated += await terminateBackends(applicationName);
    terminations++;
  }
  assert.ok(
    backendsTerminated >= terminations,
    `each termination found the worker's connections (${backendsTerminated} backends)`,
  );
  assert.equal(
    worker.fixture.child.exitCode,
    null,
    'the worker process is still running after its connections were terminated',
  );
  const verdict = await settle(location, workload, ledgerPath, client, fleet, driver);
  const outage = fleet.warnings.filter((w) => /failed/.test(w.message)).length;
  t.diagnostic(
    `chaos terminate postgres: seed ${SEED}, ${verdict.runs} runs, ` +
      `${terminations} terminations (${backendsTerminated} backends; ` +
      `${outage} failure warnings from the worker, ${worker.commits} commits), ${counted(verdict, driver)}`,
  );
});
