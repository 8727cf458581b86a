import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import {
  defineMigration,
  defineWorkflow,
  Engine,
  type DeployCheckReport,
  type StepOptions,
  type WorkflowContext,
} from '../../src/index.js';
import { forEachBackend, runUntil } from '../helpers.js';

type Shape = (ctx: WorkflowContext, charge?: StepOptions) => Promise<unknown>;

const v1Shape: Shape = async (ctx, charge) => {
  await ctx.step('validate', () => 'ok');
  await ctx.waitForSignal('approve');
  await ctx.step('charge', () => ({ amount: 42 }), charge);
  await ctx.waitForSignal('ship');
  return ctx.step('ship', () => 'shipped');
};

const order = (version: number, shape: Shape, charge?: StepOptions) =>
  defineWorkflow({ name: 'order', version, run: (ctx) => shape(ctx, charge) });

const v1 = order(1, v1Shape);
const v2 = order(2, async (ctx) => {
  const shipped = await v1Shape(ctx);
  await ctx.step('notify', () => 'sent');
  return shipped;
});

/** Candidates for version 3. */
const configOnly = order(3, async (ctx) => {
  await ctx.step('validate', () => 'validated with new rules');
  await ctx.waitForSignal('approve');
  await ctx.step('charge', () => ({ amount: 42, currency: 'EUR' }));
  await ctx.waitForSignal('ship');
  return ctx.step('ship', () => 'shipped by the new carrier');
});
const additive = order(3, async (ctx) => {
  const shipped = await v1Shape(ctx);
  await ctx.step('audit', () => 'logged');
  return shipped;
});
const reordered = order(3, async (ctx) => {
  await ctx.step('validate', () => 'ok');
  await ctx.step('charge', () => ({ amount: 42 }));
  await ctx.waitForSignal('approve');
  await ctx.waitForSignal('ship');
  return ctx.step('ship', () => 'shipped');
});
const noValidate = order(3, async (ctx) => {
  await ctx.waitForSignal('approve');
  await ctx.step('charge', () => ({ amount: 42 }));
  await ctx.waitForSignal('ship');
  return ctx.step('ship', () => 'shipped');
});
const stricterSchema = order(3, v1Shape, { output: z.object({ amount: z.string() }) });

const verdicts = (report: DeployCheckReport) =>
  Object.fromEntries(report.workflows[0]!.inFlight.map((r) => [r.runId, r.verdict]));

forEachBackend((backend) => {
  test(
    'deploy check: exact per-run verdicts and change classes for config-only, ' +
      'additive and three kinds of breaking change',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [v1, v2] });
      try {
        // Runs parked at different steps, across v1 and v2, and one completed v1 run.
        const atApprove = await engine.start('order', null, { id: 'v1-at-approve', version: 1 });
        const atShip = await engine.start('order', null, { id: 'v1-at-ship', version: 1 });
        const v2AtShip = await engine.start('order', null, { id: 'v2-at-ship', version: 2 });
        const done = await engine.start('order', null, { id: 'v1-done', version: 1 });
        for (const run of [atShip, v2AtShip, done]) await engine.signal(run.id, 'approve');
        await engine.signal(done.id, 'ship');
        await engine.result(done.id, { timeoutMs: 5_000 });
        await runUntil(engine, atApprove.id, (r) => r.status === 'waiting');
        for (const run of [atShip, v2AtShip])
          await runUntil(engine, run.id, (r) => r.status === 'waiting' && r.waitingFor?.name === 'ship');

        const check = (candidate: typeof v1, migrations = [] as ReturnType<typeof defineMigration>[]) =>
          engine.deployCheck([candidate], { migrations });

        const config = await check(configOnly);
        assert.deepEqual(
          [config.safe, config.workflows[0]!.classification, config.workflows[0]!.candidate.registered],
          [true, 'config_only', 'new'],
        );
        assert.deepEqual(verdicts(config), {
          'v1-at-approve': 'compatible',
          'v1-at-ship': 'compatible',
          'v2-at-ship': 'compatible',
        });
        assert.equal(config.workflows[0]!.sampled.length, 1);

        const added = await check(additive);
        assert.deepEqual([added.safe, added.workflows[0]!.classification], [true, 'additive']);
        assert.match(added.workflows[0]!.reasons.join('\n'), /completed run v1-done would go on past its recorded end/);

        const reorder = await check(reordered);
        assert.deepEqual([reorder.safe, reorder.workflows[0]!.classification], [false, 'breaking']);
        assert.deepEqual(verdicts(reorder), {
          'v1-at-approve': 'incompatible',
          'v1-at-ship': 'incompatible',
          'v2-at-ship': 'incompatible',
        });
        const divergence = reorder.workflows[0]!.inFlight.find((r) => r.runId === 'v1-at-approve')!.replay;
        assert.deepEqual(!divergence.ok && divergence.reason === 'divergence' && divergence.divergence, {
          seq: 1,
          expected: { kind: 'signal', name: 'approve' },
          got: { kind: 'step', name: 'charge' },
        });

        const removed = await check(noValidate);
        assert.deepEqual(verdicts(removed), {
          'v1-at-approve': 'incompatible',
          'v1-at-ship': 'incompatible',
          'v2-at-ship': 'incompatible',
        });
        const dropValidate = defineMigration({ workflow: 'order', from: 1, to: 3, steps: { drop: ['validate'] } });
        const rescued = await check(noValidate, [dropValidate]);
        assert.deepEqual(verdicts(rescued), {
          'v1-at-approve': 'compatible_with_migration',
          'v1-at-ship': 'compatible_with_migration',
          'v2-at-ship': 'incompatible',
        });
        assert.equal(rescued.safe, false, 'one v2 run still has no way onto the candidate');

        const schema = await check(stricterSchema);
        assert.deepEqual(verdicts(schema), {
          'v1-at-approve': 'compatible',
          'v1-at-ship': 'schema_mismatch',
          'v2-at-ship': 'schema_mismatch',
        });
        assert.deepEqual([schema.safe, schema.workflows[0]!.classification], [false, 'breaking']);
        assert.match(
          schema.workflows[0]!.reasons.join('\n'),
          /recorded output of step 'charge' \(seq 2\) fails v3's output schema: amount:/,
        );

        const unchanged = await engine.deployCheck([v1]);
        assert.deepEqual(
          [unchanged.safe, unchanged.workflows[0]!.classification, unchanged.checkedRuns],
          [true, 'unchanged', 0],
        );
        assert.equal((await engine.getRun(atShip.id)).status, 'waiting', 'checks execute and change nothing');
      } finally {
        await engine.close();
      }
    },
  );

  test("a step's declared output schema is enforced on every attempt (E_INVALID_OUTPUT, retried)", async () => {
    let attempts = 0;
    const typed = defineWorkflow({
      name: 'typed',
      version: 1,
      run: (ctx) =>
        ctx.step('score', () => (++attempts === 1 ? { score: 'high' } : { score: 0.9 }), {
          output: z.object({ score: z.number() }),
          retry: { maxAttempts: 2, initialDelayMs: 1 },
        }),
    });
    const engine = await Engine.open({ store: backend.store(), workflows: [typed] });
    try {
      const run = await engine.start('typed', null);
      assert.deepEqual(await engine.result(run.id, { timeoutMs: 5_000 }), { score: 0.9 });
      const failure = (await engine.history(run.id)).find((e) => e.type === 'step_failed');
      assert.equal((failure?.data as { error: { code: string } } | undefined)?.error.code, 'E_INVALID_OUTPUT');
    } finally {
      await engine.close();
    }
  });
});
