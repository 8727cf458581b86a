import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine, type HistoryEvent, type Json } from '../../src/index.js';
import { compileWorkflowDef, declarativeSupport, type DeclarativeSupport } from '../../src/declarative/compile.js';
import { parseWorkflowDef } from '../../src/declarative/definitions.js';
import type { DeclarativeOptions } from '../../src/declarative/limits.js';
import type { SandboxPool } from '../../src/declarative/sandbox-pool.js';
import { startServer } from '../../src/server/server.js';
import { forEachBackend, rejectsWith, runUntil, type Backend } from '../helpers.js';

const inline = (ref: string, expression: string, inputs: Record<string, Json> = {}) => ({
  name: ref,
  taskReferenceName: ref,
  type: 'INLINE',
  inputParameters: { evaluatorType: 'javascript', expression, ...inputs },
});
const loop = (ref: string, loopCondition: string, loopOver: unknown[]) => ({
  name: ref,
  taskReferenceName: ref,
  type: 'DO_WHILE',
  loopCondition,
  loopOver,
});
/** An expression that spins for `ms` of wall-clock time, then yields `value`. */
const spin = (ms: number, value: string) => `var t = Date.now(); while (Date.now() - t < ${ms}) {} ${value}`;

/** A code workflow that needs the event loop: a durable timer, then a step. */
const ticker = defineWorkflow({
  name: 'ticker',
  version: 1,
  async run(ctx) {
    await ctx.sleep(20);
    return ctx.step('tick', () => 'ticked');
  },
});

async function openEngine(
  backend: Backend,
  options: DeclarativeOptions,
  store = backend.store(),
): Promise<{ engine: Engine; support: DeclarativeSupport; store: string }> {
  const support = await declarativeSupport(options);
  const engine = await Engine.open({ store, workflows: [ticker], compile: support.compile, rolloutCheckMs: 0 });
  support.bind(engine);
  return { engine, support, store };
}

const register = (engine: Engine, support: DeclarativeSupport, ...defs: unknown[]) =>
  engine.definitions.register(defs.map((def) => compileWorkflowDef(parseWorkflowDef(def), support.env)));
const completedSteps = (history: HistoryEvent[]) => history.filter((e) => e.type === 'step_completed');
const sandboxMsOf = (event: HistoryEvent) => (event.data as { output?: { sandboxMs?: number } }).output?.sandboxMs ?? 0;

/** Resolves once `predicate` holds, checking at every turn of the event loop for up to 10 s. */
async function eventually(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('bad limits are E_INVALID_INPUT before anything starts', async () => {
  for (const options of [
    { expressionBudgetMs: 0 },
    { maxLoopIterations: 1.5 },
    { maxSubWorkflowDepth: -1 },
    { sandboxThreads: 0 },
    { http: { allow: ['http://x'] } },
  ] as DeclarativeOptions[]) {
    await rejectsWith(declarativeSupport(options), 'E_INVALID_INPUT');
  }
});

forEachBackend((backend) => {
  test(
    'a spinning loop condition evaluates off the event loop: ' +
      '/health answers and other runs finish timers, steps and expressions meanwhile',
    async () => {
      const { engine, support } = await openEngine(backend, {
        expressionTimeoutMs: 60_000,
        expressionBudgetMs: 60_000,
      });
      const pool = support.env.sandbox as SandboxPool;
      const server = await startServer({ engine, port: 0, declarative: support });
      try {
        await register(
          engine,
          support,
          { name: 'spinner', version: 1, tasks: [loop('spin', 'for (;;) {}', [inline('body', '1')])] },
          { name: 'quick', version: 1, tasks: [inline('sum', '$.a + $.b', { a: 1, b: 2 })] },
        );
        const spinning = await engine.start('spinner', null);
        // The loop body's evaluation has ended (its step is recorded) and the condition's spins.
        while (!completedSteps(await engine.history(spinning.id)).some((e) => e.name === 'body__1'))
          await new Promise((resolve) => setTimeout(resolve, 5));
        await eventually(() => pool.running === 1, 'the spinning evaluation');
        const finishedBefore = pool.finished;

        const health = await fetch(`${server.url}/health`);
        assert.deepEqual([health.status, await health.json()], [200, { status: 'ok' }]);
        const tick = await engine.start('ticker', null);
        assert.equal(await engine.result(tick.id, { timeoutMs: 10_000 }), 'ticked', 'a timer fired and a step ran');
        const quick = await engine.start('quick', null);
        assert.deepEqual(
          await engine.result(quick.id, { timeoutMs: 10_000 }),
          { result: 3 },
          'another run evaluated an expression on the other thread',
        );

        assert.equal(pool.running, 1, 'the spinning evaluation was still going all along');
        assert.equal(pool.finished, finishedBefore + 1, 'only the quick run evaluation ended meanwhile');
        const outcomes = (await engine.history(spinning.id)).filter(
          (e) => e.name === 'spin__1' && (e.type === 'step_completed' || e.type === 'step_failed'),
        );
        assert.deepEqual(outcomes, [], 'the condition step has no outcome yet');
      } finally {
        await server.close();
        await engine.close();
      }
      assert.equal(pool.running, 0, 'closing the engine stopped the evaluation');
    },
  );

  test("a run's expressions share one time budget, counted again from the history after a restart", async () => {
    const budgetMs = 1_500;
    const def = {
      name: 'budgeted',
      version: 1,
      tasks: [
        loop('first', spin(200, '$.first.iteration < 3'), [inline('a', '1')]),
        { name: 'gate', taskReferenceName: 'gate', inputParameters: {} },
        loop('second', spin(200, 'true'), [inline('b', '1')]),
      ],
    };
    let { engine, support, store } = await openEngine(backend, { expressionBudgetMs: budgetMs });
    let runId: string;
    try {
      await register(engine, support, def);
      runId = (await engine.start('budgeted', null)).id;
      await runUntil(engine, runId, (r) => r.status === 'waiting' && (r.waitingFor?.tasks?.length ?? 0) === 1);
    } finally {
      await engine.close();
    }
    ({ engine, support } = await openEngine(backend, { expressionBudgetMs: budgetMs }, store));
    try {
      const [gate] = await engine.tasks.poll('gate', 'test-worker', 1);
      await engine.tasks.report(gate!.taskId, { status: 'COMPLETED', output: {} });
      const failed = await runUntil(engine, runId, (r) => r.status === 'failed');
      const details = failed.error!.details as { error: { code: string; message: string } };
      assert.equal(details.error.code, 'E_LIMIT_EXCEEDED');
      assert.match(details.error.message, /1500 ms of sandbox time \(limit: expressionBudgetMs\)/);

      const steps = completedSteps(await engine.history(runId));
      const firstMs = steps.filter((e) => /^first__/.test(e.name!)).map(sandboxMsOf);
      assert.equal(firstMs.length, 3);
      assert.ok(
        firstMs.every((ms) => ms >= 200),
        `each spin is recorded with its time: ${firstMs}`,
      );
      const totalMs = steps.map(sandboxMsOf).reduce((a, b) => a + b, 0);
      assert.ok(totalMs <= budgetMs + 50, `the run used ${totalMs} ms of sandbox time in all, over its budget`);
    } finally {
      await engine.close();
    }
  });

  test('DO_WHILE iterations are budgeted across nesting: nested loops stop at the run-wide limit', async () => {
    const { engine, support } = await openEngine(backend, { maxLoopIterations: 30 });
    try {
      const def = {
        name: 'nested',
        version: 1,
        tasks: [
          loop('outer', '$.outer.iteration < 40', [loop('inner', '$.inner.iteration < 40', [inline('tick', '1')])]),
        ],
      };
      await register(engine, support, def);
      const run = await engine.start('nested', null);
      const failed = await runUntil(engine, run.id, (r) => r.status === 'failed', 30_000);
      assert.equal(failed.error!.code, 'E_LIMIT_EXCEEDED');
      assert.match(failed.error!.message, /30 DO_WHILE iterations.*\(limit: maxLoopIterations\)/);
      const ticks = completedSteps(await engine.history(run.id)).filter((e) => e.name!.startsWith('tick__'));
      assert.equal(ticks.length, 29, 'one outer and 29 inner iterations: 30 in all');
    } finally {
      await engine.close();
    }
  });

  test(
    'a SUB_WORKFLOW that starts itself stops at the depth limit, ' +
      'and a run starts no more sub-workflows than its limit',
    async () => {
      const { engine, support } = await openEngine(backend, { maxSubWorkflowDepth: 3, maxSubWorkflows: 2 });
      try {
        const self = {
          name: 'recursive',
          version: 1,
          tasks: [
            {
              name: 'recursive',
              taskReferenceName: 'self',
              type: 'SUB_WORKFLOW',
              subWorkflowParam: { name: 'recursive' },
            },
          ],
        };
        const leaf = { name: 'leaf', version: 1, tasks: [inline('one', '1')] };
        const fanOut = {
          name: 'fan_out',
          version: 1,
          tasks: [
            loop('each', '$.each.iteration < 5', [
              { name: 'leaf', taskReferenceName: 'child', type: 'SUB_WORKFLOW', subWorkflowParam: { name: 'leaf' } },
            ]),
          ],
        };
        await register(engine, support, self, leaf, fanOut);

        const root = await engine.start('recursive', null, { id: 'root' });
        const failed = await runUntil(engine, root.id, (r) => r.status === 'failed', 30_000);
        assert.equal(failed.error!.code, 'E_TASK_FAILED');
        assert.match(
          failed.error!.message,
          /more than the sub-workflow depth limit of 3 \(E_LIMIT_EXCEEDED, limit: maxSubWorkflowDepth\)/,
        );
        const chain = ['root', 'root.self', 'root.self.self', 'root.self.self.self'];
        for (const id of chain) assert.equal((await engine.getRun(id)).status, 'failed', id);
        await rejectsWith(engine.getRun('root.self.self.self.self'), 'E_RUN_NOT_FOUND');
        assert.equal((await engine.listRuns({ workflow: 'recursive' })).length, chain.length);

        const wide = await engine.start('fan_out', null);
        const stopped = await runUntil(engine, wide.id, (r) => r.status === 'failed', 30_000);
        assert.equal(stopped.error!.code, 'E_LIMIT_EXCEEDED');
        assert.match(stopped.error!.message, /sub-workflow number 3, more than 2 \(limit: maxSubWorkflows\)/);
        assert.equal((await engine.listRuns({ workflow: 'leaf' })).length, 2);
      } finally {
        await engine.close();
      }
    },
  );
});
