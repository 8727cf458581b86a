import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine, NonRetryableError } from '../../src/index.js';
import { forEachBackend, rejectsWith, runUntil } from '../helpers.js';

const calls: { key: string; attempt: number; at: number }[] = [];
const flaky = defineWorkflow({
  name: 'flaky',
  version: 1,
  async run(ctx, input: { failTimes: number; fatal?: boolean; maxAttempts?: number; delay?: number }) {
    return ctx.step(
      'charge',
      ({ idempotencyKey, attempt }) => {
        calls.push({ key: idempotencyKey, attempt, at: Date.now() });
        if (input.fatal) throw new NonRetryableError('card declined');
        if (attempt <= input.failTimes) throw new Error(`transient ${attempt}`);
        return { charged: true, attempt };
      },
      {
        retry: {
          maxAttempts: input.maxAttempts ?? 4,
          initialDelayMs: input.delay ?? 20,
          backoff: 'exponential',
          jitter: 0,
        },
      },
    );
  },
});

forEachBackend((backend) => {
  test('failed attempts are retried with backoff under the same idempotency key, each failure recorded', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [flaky] });
    try {
      calls.length = 0;
      const run = await engine.start('flaky', { failTimes: 2 });
      assert.deepEqual(await engine.result(run.id, { timeoutMs: 5_000 }), { charged: true, attempt: 3 });
      assert.deepEqual(
        calls.map((c) => c.attempt),
        [1, 2, 3],
      );
      assert.equal(new Set(calls.map((c) => c.key)).size, 1);
      const failures = (await engine.history(run.id)).filter((e) => e.type === 'step_failed');
      assert.equal(failures.length, 2);
      const [first, second] = failures.map((e) => (e.data as { retryAt: number }).retryAt);
      assert.ok(first! - calls[0]!.at >= 20, 'first delay is the initial delay');
      assert.ok(second! - calls[1]!.at >= 40, 'second delay doubled');
      assert.ok(calls[1]!.at >= first! && calls[2]!.at >= second!, 'no attempt ran before its retry time');
    } finally {
      await engine.close();
    }
  });

  test('a run waiting out a retry delay is `waiting` on the step', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [flaky] });
    try {
      const run = await engine.start('flaky', { failTimes: 1, delay: 400 });
      const waiting = await runUntil(engine, run.id, (r) => r.status === 'waiting');
      assert.equal(waiting.waitingFor?.kind, 'retry');
      assert.equal(waiting.waitingFor?.name, 'charge');
      assert.deepEqual(await engine.result(run.id, { timeoutMs: 5_000 }), { charged: true, attempt: 2 });
    } finally {
      await engine.close();
    }
  });

  test('NonRetryableError skips the remaining attempts and fails the run with the step error', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [flaky] });
    try {
      calls.length = 0;
      const run = await engine.start('flaky', { failTimes: 0, fatal: true });
      const error = await rejectsWith(engine.result(run.id, { timeoutMs: 5_000 }), 'E_RUN_FAILED');
      assert.match(error.message, /step 'charge' failed after 1 attempt: card declined/);
      assert.equal(calls.length, 1);
      const failed = await engine.getRun(run.id);
      assert.equal(failed.error?.code, 'E_STEP_FAILED');
      assert.deepEqual((failed.error?.details as { attempts: number } | undefined)?.attempts, 1);
    } finally {
      await engine.close();
    }
  });

  test('after the last attempt the run fails with the step error', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [flaky] });
    try {
      calls.length = 0;
      const run = await engine.start('flaky', { failTimes: 10, maxAttempts: 3, delay: 5 });
      const error = await rejectsWith(engine.result(run.id, { timeoutMs: 5_000 }), 'E_RUN_FAILED');
      assert.match(error.message, /failed after 3 attempts: transient 3/);
      assert.deepEqual(
        calls.map((c) => c.attempt),
        [1, 2, 3],
      );
    } finally {
      await engine.close();
    }
  });

  test('a workflow can catch a failed step and go on; replay gives it the same failure', async () => {
    const db = backend.store();
    const tolerant = defineWorkflow({
      name: 'tolerant',
      version: 1,
      async run(ctx) {
        let fallback = 'none';
        try {
          await ctx.step('risky', () => {
            throw new NonRetryableError('nope');
          });
        } catch (error) {
          fallback = (error as Error).message;
        }
        await ctx.waitForSignal('continue');
        return fallback;
      },
    });
    const first = await Engine.open({ store: db, workflows: [tolerant] });
    const run = await first.start('tolerant', null);
    await runUntil(first, run.id, (r) => r.status === 'waiting');
    await first.close();
    const second = await Engine.open({ store: db, workflows: [tolerant] });
    try {
      await second.signal(run.id, 'continue');
      assert.equal(await second.result(run.id, { timeoutMs: 5_000 }), "step 'risky' failed after 1 attempt: nope");
    } finally {
      await second.close();
    }
  });

  test('a step attempt that exceeds timeoutMs fails with E_STEP_TIMEOUT and is retried', async () => {
    let attempts = 0;
    const slow = defineWorkflow({
      name: 'slow',
      version: 1,
      async run(ctx) {
        return ctx.step(
          'call',
          async ({ attempt, signal }) => {
            attempts++;
            if (attempt === 1) await new Promise((resolve) => signal.addEventListener('abort', resolve));
            return attempt;
          },
          { timeoutMs: 50, retry: { maxAttempts: 2, initialDelayMs: 1 } },
        );
      },
    });
    const engine = await Engine.open({ store: backend.store(), workflows: [slow] });
    try {
      const run = await engine.start('slow', null);
      assert.equal(await engine.result(run.id, { timeoutMs: 5_000 }), 2);
      assert.equal(attempts, 2);
      const failure = (await engine.history(run.id)).find((e) => e.type === 'step_failed');
      assert.equal((failure?.data as { error: { code: string } } | undefined)?.error.code, 'E_STEP_TIMEOUT');
    } finally {
      await engine.close();
    }
  });
});
