/**
 * Property-based replay tests. Random workflow shapes (test/fixtures/random-workflows.ts: sequences and
 * Promise.all / race / allSettled groups nested to depth 3 over steps, some retried or failing for good,
 * sleeps, signal waits, remote tasks, patch gates and recorded values) must, whatever the timing, engine
 * restarts and SIGKILLs: complete with the output their shape determines and never park; leave a history
 * their own code replays to the end; be compatible with an identical candidate in a deploy check, in
 * flight and finished; and never execute a committed step again.
 *
 * Reproducing a failure: every property prints its seed (`# seed <n>`), and a failure ends with
 * `Replay it with WAYMARK_PROPERTY_SEED=<n> WAYMARK_PROPERTY_PATH=<path>`. The seed alone replays the same
 * cases (timing aside); with the path, and `--test-name-pattern` naming the failing test, fast-check runs only
 * the shrunk counterexample:
 *   WAYMARK_PROPERTY_SEED=<n> WAYMARK_PROPERTY_PATH=<path> WAYMARK_TEST_STORES=sqlite \
 *     node --import tsx --test --test-name-pattern='one engine' test/runtime/replay.property.test.ts
 * (Default seed: random.) WAYMARK_PROPERTY_SCALE multiplies the number of cases (Default: 1, which keeps the suite
 * quick: 20 in-process shapes, 5 engine switches and 1 SIGKILL case of 20 runs per store; 5 runs 100, 25 and 5);
 * WAYMARK_PROPERTY_SHAPES=sequential generates shapes without parallel groups, to tell a fault of
 * concurrent branches from another one.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { Engine, type DeployCheckReport, type EngineOptions, type RunCheck } from '../../src/index.js';
import { forEachBackend, tempDir } from '../helpers.js';
import { killHard, startFixture, type Fixture, type FixtureMessage } from '../processes.js';
import {
  commitsOf,
  crashRunId,
  EngineSlot,
  historySummary,
  problemsOf,
  sendSignals,
  TaskWorker,
  waitAtRest,
} from '../fixtures/random-driver.js';
import {
  isParallel,
  ledger,
  readLedger,
  shapeArbitrary,
  shapesOf,
  signalPlan,
  workflowOf,
  type Shape,
} from '../fixtures/random-workflows.js';

const SEED =
  process.env.WAYMARK_PROPERTY_SEED === undefined
    ? Math.floor(Math.random() * 0x7fffffff)
    : Number(process.env.WAYMARK_PROPERTY_SEED);
const PATH = process.env.WAYMARK_PROPERTY_PATH;
const SCALE = Number(process.env.WAYMARK_PROPERTY_SCALE ?? 1);
const SHAPES = { parallel: process.env.WAYMARK_PROPERTY_SHAPES !== 'sequential' };
/** Runs (one per shape) in each crash case's worker processes. */
const CRASH_RUNS = 20;
/** Longest a driven run may take to come to rest. */
const AT_REST_MS = 30_000;

/** Runs a property with the file's seed; a failure says how to replay it. */
async function check<T>(
  t: TestContext,
  property: fc.IAsyncProperty<T>,
  numRuns: number,
  options: { endOnFailure?: boolean } = {},
): Promise<void> {
  t.diagnostic(`seed ${SEED}`);
  try {
    await fc.assert(property, {
      seed: SEED,
      path: PATH,
      numRuns: Math.max(1, Math.round(numRuns * SCALE)),
      endOnFailure: options.endOnFailure ?? false,
      includeErrorInReport: true,
    });
  } catch (error) {
    const path = /path: "([^"]*)"/.exec(String((error as Error).message))?.[1];
    (error as Error).message +=
      `\nReplay it with WAYMARK_PROPERTY_SEED=${SEED}${path ? ` WAYMARK_PROPERTY_PATH=${path}` : ''}`;
    throw error;
  }
}

/** A case's values; a failing case shrinks at most `maxShrinks` times (each try is a real run). */
const cases = <T>(arbitrary: fc.Arbitrary<T>, maxShrinks: number) => fc.limitShrink(arbitrary, maxShrinks);

/** The deploy check's verdict on one run, in flight or among the sampled completed ones. */
function verdictOf(report: DeployCheckReport, runId: string): RunCheck | undefined {
  const workflow = report.workflows[0];
  return [...(workflow?.inFlight ?? []), ...(workflow?.sampled ?? [])].find((r) => r.runId === runId);
}

/** Asserts the identical candidate (the same code as the next version) replays the run. */
async function assertCompatible(
  engine: Engine,
  shape: Shape,
  runId: string,
  when: string,
  toEnd: boolean,
): Promise<void> {
  const verdict = verdictOf(await engine.deployCheck([workflowOf(shape, 2)]), runId);
  assert.ok(verdict, `the deploy check ${when} saw run ${runId}`);
  assert.equal(verdict.verdict, 'compatible', `identical candidate ${when}: ${JSON.stringify(verdict.replay)}`);
  if (toEnd)
    assert.deepEqual(
      verdict.replay.ok && verdict.replay.frontier,
      'end',
      `identical candidate ${when} replays to the end`,
    );
}

/** Engine options the in-process properties share: quick polls, warnings kept for failure messages. */
function engineOptions(
  store: string,
  warnings: string[],
): Pick<EngineOptions, 'store' | 'pollIntervalMs' | 'rolloutCheckMs' | 'poolSize' | 'logger'> {
  return {
    store,
    pollIntervalMs: 50,
    rolloutCheckMs: 0,
    poolSize: 4,
    logger: { warn: (facts, message) => void warnings.push(`${message} ${JSON.stringify(facts)}`) },
  };
}

/** What is wrong with a run that is over (see problemsOf), and its history to show with it. */
async function runProblems(
  engine: Engine,
  shape: Shape,
  runId: string,
  strictLedger: boolean,
): Promise<{ problems: string[]; history: string }> {
  const run = await engine.getRun(runId);
  const events = await engine.history(runId);
  return {
    problems: await problemsOf(shape, run, events, readLedger(ledger.path), strictLedger),
    history: historySummary(events),
  };
}

/**
 * Whether the engine warned that it abandoned an execution of the run (a refused or failed commit): the run
 * then resumes from its last checkpoint and may execute an uncommitted attempt again in the same generation.
 */
const abandoned = (warnings: string[], runId: string) =>
  warnings.some((w) => w.includes(`"runId":"${runId}"`) && /commit failed|checkpoint refused/.test(w));

/** Asserts a run that is over is what its shape says, with its history in the message. */
async function assertRunMatches(
  engine: Engine,
  shape: Shape,
  runId: string,
  strictLedger: boolean,
  context: string[],
): Promise<void> {
  const { problems, history } = await runProblems(engine, shape, runId, strictLedger);
  assert.deepEqual(problems, [], `run ${runId}:\n${history}\n${context.join('\n')}`);
}

/** Resolves with the worker's 'done' report, or its progress report once it has made `afterCommits` commits. */
function progressOrDone(worker: Fixture, afterCommits: number | undefined): Promise<FixtureMessage> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: FixtureMessage) => {
      if (
        m.type === 'done' ||
        (afterCommits !== undefined && m.type === 'progress' && (m.commits as number) >= afterCommits)
      )
        settle(() => resolve(m));
    };
    const onExit = (how: number | string | null) =>
      settle(() => reject(new Error(`random-worker exited (${how}) before it was done`)));
    const settle = (then: () => void) => {
      worker.child.off('message', onMessage);
      worker.child.off('exit', onExit);
      then();
    };
    worker.child.on('message', onMessage);
    worker.child.on('exit', onExit);
  });
}

forEachBackend((backend) => {
  test(
    'random shapes on one engine: the expected output, a history that replays to the end, ' +
      'an identical candidate compatible in flight and after',
    async (t) => {
      ledger.path = join(tempDir(), 'ledger.jsonl');
      ledger.generation = 0;
      const warnings: string[] = [];
      const engine = await Engine.open({ ...engineOptions(backend.store(), warnings), workerId: `in-process-g0` });
      const slot = new EngineSlot();
      slot.set(engine);
      const errors: unknown[] = [];
      const tasks = new TaskWorker(slot, 'task-worker', errors);
      let count = 0;
      try {
        const property = fc.asyncProperty(
          cases(fc.tuple(shapeArbitrary(SHAPES), fc.integer({ min: 0, max: 12 })), 40),
          async ([shape, checkAfter]) => {
            const workflow = workflowOf(shape, 1);
            await engine.definitions.register([workflow]);
            const runId = `run-${++count}`;
            errors.length = 0;
            warnings.length = 0;
            const checkpoint = commitsOf(engine, [runId], checkAfter, AT_REST_MS);
            await engine.start(workflow.name, null, { id: runId });
            const signals = sendSignals(slot, runId, signalPlan(shape), errors);
            try {
              await checkpoint;
              await assertCompatible(engine, shape, runId, `after ${checkAfter} commits`, false);
              await waitAtRest(engine, runId, AT_REST_MS);
              await assertRunMatches(engine, shape, runId, !abandoned(warnings, runId), warnings);
              await assertCompatible(engine, shape, runId, 'once completed', true);
            } finally {
              await signals.stop();
            }
            assert.deepEqual(errors.map(String), [], 'the task worker and signals met no errors');
          },
        );
        await check(t, property, 20);
      } finally {
        await tasks.stop();
        await engine.close();
      }
    },
  );

  test(
    'random shapes across an engine closed at a random point and another opened on the same store: ' +
      'the same outputs and replays, nothing executed twice',
    async (t) => {
      const store = backend.store();
      ledger.path = join(tempDir(), 'ledger.jsonl');
      const warnings: string[] = [];
      const observer = await Engine.open({ ...engineOptions(store, warnings), worker: false });
      const slot = new EngineSlot();
      const errors: unknown[] = [];
      const tasks = new TaskWorker(slot, 'task-worker', errors);
      let count = 0;
      try {
        const arbitrary = fc.tuple(
          fc.array(shapeArbitrary(SHAPES), { minLength: 1, maxLength: 3 }),
          fc.integer({ min: 1, max: 25 }),
        );
        const property = fc.asyncProperty(cases(arbitrary, 20), async ([caseShapes, stopAfter]) => {
          const workflows = caseShapes.map((shape) => workflowOf(shape, 1));
          const caseId = `case-${++count}`;
          const runIds = caseShapes.map((_, i) => `${caseId}-run-${i}`);
          ledger.generation = 0;
          errors.length = 0;
          warnings.length = 0;
          const first = await Engine.open({ ...engineOptions(store, warnings), workflows, workerId: `${caseId}-g0` });
          slot.set(first);
          let signals: { stop(): Promise<void> }[] = [];
          let second: Engine | undefined;
          try {
            const stopPoint = commitsOf(first, runIds, stopAfter, AT_REST_MS);
            await Promise.all(workflows.map((workflow, i) => first.start(workflow.name, null, { id: runIds[i] })));
            signals = caseShapes.map((shape, i) => sendSignals(slot, runIds[i]!, signalPlan(shape), errors));
            await stopPoint;
            await slot.release();
            await first.close();
            for (let i = 0; i < runIds.length; i++)
              await assertCompatible(
                observer,
                caseShapes[i]!,
                runIds[i]!,
                `with the engine stopped after ${stopAfter} commits`,
                false,
              );
            ledger.generation = 1;
            second = await Engine.open({ ...engineOptions(store, warnings), workflows, workerId: `${caseId}-g1` });
            slot.set(second);
            for (let i = 0; i < runIds.length; i++) {
              await waitAtRest(second, runIds[i]!, AT_REST_MS);
              await assertRunMatches(second, caseShapes[i]!, runIds[i]!, !abandoned(warnings, runIds[i]!), [
                `stopped after ${stopAfter} commits`,
                ...warnings,
              ]);
            }
          } finally {
            await Promise.all(signals.map((s) => s.stop()));
            await slot.release();
            await first.close();
            await second?.close();
          }
          assert.deepEqual(errors.map(String), [], 'the task worker and signals met no errors');
        });
        await check(t, property, 5);
      } finally {
        await tasks.stop();
        await observer.close();
      }
    },
  );

  test(
    `random shapes across SIGKILLed worker processes (${CRASH_RUNS} runs each): ` +
      `every run completes as its shape says, replays, and no committed step executes again`,
    async (t) => {
      const kill = fc.record({ afterCommits: fc.integer({ min: 1, max: 80 }), takeBack: fc.boolean() });
      const property = fc.asyncProperty(
        fc.integer({ min: 1, max: 0x7fffffff }),
        fc.array(kill, { minLength: 1, maxLength: 3 }),
        async (seed, kills) => {
          const store = backend.store();
          ledger.path = join(tempDir(), 'ledger.jsonl');
          const killedAfter: number[] = [];
          let done: FixtureMessage | undefined;
          for (let generation = 0; !done; generation++) {
            const worker = startFixture('random-worker.ts', {
              STORE: store,
              SEED: String(seed),
              RUNS: String(CRASH_RUNS),
              GENERATION: String(generation),
              LEDGER: ledger.path,
              TAKE_BACK: kills[generation - 1]?.takeBack ? '1' : '0',
              SHAPES: SHAPES.parallel ? 'random' : 'sequential',
            });
            const report = await progressOrDone(worker, kills[generation]?.afterCommits);
            if (report.type === 'done') {
              done = report;
              await worker.exited;
            } else {
              await killHard(worker);
              killedAfter.push(report.commits as number);
            }
          }
          t.diagnostic(
            `crash case seed ${seed}: killed after ${JSON.stringify(killedAfter)} commits, ` +
              `done in generation ${killedAfter.length}`,
          );
          const context = [`killed after ${JSON.stringify(killedAfter)} commits`, ...(done.warnings as string[])];
          assert.deepEqual(done.errors, [], 'the task worker and signals met no errors');
          const client = await Engine.open({ store, worker: false, poolSize: 2 });
          try {
            const runShapes = shapesOf(seed, CRASH_RUNS, SHAPES);
            const failing: string[] = [];
            let firstHistory = '';
            for (let i = 0; i < runShapes.length; i++) {
              const { problems, history } = await runProblems(client, runShapes[i]!, crashRunId(i), false);
              if (problems.length && !firstHistory)
                firstHistory = `${crashRunId(i)}: ${JSON.stringify(runShapes[i])}\n${history}`;
              if (problems.length)
                failing.push(
                  `${crashRunId(i)}${isParallel(runShapes[i]!) ? '' : ' (sequential)'}: ${problems.join('; ')}`,
                );
            }
            const parallel = runShapes.filter(isParallel).length;
            assert.deepEqual(
              failing,
              [],
              `${failing.length} of ${CRASH_RUNS} runs are wrong (${parallel} of the ${CRASH_RUNS} ` +
                `shapes have parallel groups); the first:\n${firstHistory}\n${context.join('\n')}`,
            );
          } finally {
            await client.close();
          }
        },
      );
      await check(t, property, 1, { endOnFailure: true });
    },
  );
});
