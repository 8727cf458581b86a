import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine } from '../../src/index.js';
import { forEachBackend, rejectsWith, runUntil } from '../helpers.js';

const checkout = defineWorkflow({
  name: 'checkout',
  version: 1,
  async run(ctx, input: { amount: number }) {
    const order = await ctx.step('create-order', () => ({ orderId: 'o-1' }));
    const payment = await ctx.task<{ paid: boolean }>(
      'charge_card',
      { ...order, amount: input.amount },
      { ref: 'charge', maxAttempts: 3, responseTimeoutMs: 60_000 },
    );
    const receipt = await ctx.step('receipt', () => `receipt for ${order.orderId}`);
    return { payment, receipt };
  },
});

const impatient = defineWorkflow({
  name: 'impatient',
  version: 1,
  run: (ctx) => ctx.task('slow_thing', null, { maxAttempts: 2, responseTimeoutMs: 1 }),
});

/** A task with an overall time limit that fails the run when exceeded (like a TaskDef's TIME_OUT_WF). */
const bounded = defineWorkflow({
  name: 'bounded',
  version: 1,
  run: (ctx) =>
    ctx.task('bounded_work', null, { maxAttempts: 3, timeoutMs: 30, responseTimeoutMs: 60_000, retryTimedOut: false }),
});

/** Two tasks at once: each report may land while the run is re-executing after the other one. */
const pair = defineWorkflow({
  name: 'pair',
  version: 1,
  run: async (ctx) =>
    (await Promise.all([ctx.task<number>('left', null), ctx.task<number>('right', null)])).reduce((a, b) => a + b, 0),
});

forEachBackend((backend) => {
  test(
    'ctx.task: a remote worker polls the task, ' + 'reports its output, and the run goes on from its checkpoint',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [checkout], rolloutCheckMs: 0 });
      try {
        const run = await engine.start('checkout', { amount: 42 });
        await runUntil(engine, run.id, (r) => r.status === 'waiting');
        assert.deepEqual((await engine.getRun(run.id)).waitingFor, {
          kind: 'task',
          name: 'charge_card',
          seq: 1,
          tasks: ['charge_card'],
        });
        assert.equal(await engine.tasks.queueSize('charge_card'), 1);
        assert.deepEqual(await engine.tasks.poll('other_type', 'w1', 5), []);
        const [task] = await engine.tasks.poll('charge_card', 'worker-1', 5);
        assert.deepEqual(
          [task!.status, task!.refName, task!.attempt, task!.workerId, task!.pollCount, task!.input],
          ['IN_PROGRESS', 'charge', 1, 'worker-1', 1, { orderId: 'o-1', amount: 42 }],
        );
        assert.deepEqual(await engine.tasks.poll('charge_card', 'worker-2', 5), [], 'handed out once');
        await engine.tasks.report(task!.taskId, { status: 'IN_PROGRESS', logs: ['talking to the bank'] });
        await engine.tasks.report(task!.taskId, { status: 'COMPLETED', output: { paid: true }, workerId: 'worker-1' });
        assert.deepEqual(await engine.result(run.id, { timeoutMs: 10_000 }), {
          payment: { paid: true },
          receipt: 'receipt for o-1',
        });
        const events = (await engine.history(run.id)).map((e) => e.type);
        assert.deepEqual(events, [
          'run_started',
          'step_completed',
          'task_scheduled',
          'task_completed',
          'step_completed',
          'run_completed',
        ]);
        const [done] = await engine.tasks.ofRun(run.id);
        assert.deepEqual(
          [done!.status, done!.output, done!.logs.map((l) => l.log)],
          ['COMPLETED', { paid: true }, ['talking to the bank']],
        );
        const again = await engine.tasks.report(task!.taskId, { status: 'FAILED', reason: 'late' });
        assert.equal(again.status, 'COMPLETED', 'a report on a finished task changes nothing');
      } finally {
        await engine.close();
      }
    },
  );

  test(
    'ctx.task retries: FAILED schedules a new attempt, ' +
      'FAILED_WITH_TERMINAL_ERROR ends them, the run fails with E_TASK_FAILED',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [checkout], rolloutCheckMs: 0 });
      try {
        const run = await engine.start('checkout', { amount: 1 });
        await runUntil(engine, run.id, (r) => r.status === 'waiting');
        const [first] = await engine.tasks.poll('charge_card', 'w', 1);
        await engine.tasks.report(first!.taskId, { status: 'FAILED', reason: 'card declined, try again' });
        await runUntil(engine, run.id, (r) => r.status === 'waiting' && r.updatedAt.getTime() > first!.updatedAt);
        const [second] = await waitForTask(engine, 'charge_card');
        assert.equal(second!.attempt, 2);
        assert.notEqual(second!.taskId, first!.taskId);
        await engine.tasks.report(second!.taskId, { status: 'FAILED_WITH_TERMINAL_ERROR', reason: 'card stolen' });
        const failed = await runUntil(engine, run.id, (r) => r.status === 'failed');
        assert.equal(failed.error!.code, 'E_TASK_FAILED');
        assert.match(failed.error!.message, /task 'charge' \(charge_card\) failed after 2 attempts: card stolen/);
        assert.deepEqual(
          (await engine.tasks.ofRun(run.id)).map((t) => [t.attempt, t.status]),
          [
            [1, 'FAILED'],
            [2, 'FAILED_WITH_TERMINAL_ERROR'],
          ],
        );
      } finally {
        await engine.close();
      }
    },
  );

  test(
    'a worker that never reports loses the task after its response timeout; ' + 'the next attempt is handed out',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [impatient], rolloutCheckMs: 0 });
      try {
        const run = await engine.start('impatient', null);
        await runUntil(engine, run.id, (r) => r.status === 'waiting');
        const [lost] = await engine.tasks.poll('slow_thing', 'vanishing-worker', 1);
        await new Promise((resolve) => setTimeout(resolve, 5)); // the 1 ms response timeout passes
        assert.equal(await engine.tasks.timeOut(), 1);
        assert.equal((await engine.tasks.get(lost!.taskId)).status, 'TIMED_OUT');
        const [retry] = await waitForTask(engine, 'slow_thing');
        assert.equal(retry!.attempt, 2);
        await engine.tasks.report(retry!.taskId, { status: 'COMPLETED', output: 'finally' });
        assert.equal(await engine.result(run.id, { timeoutMs: 10_000 }), 'finally');
      } finally {
        await engine.close();
      }
    },
  );

  test(
    'poll limits: no more than concurrentExecLimit in progress, ' + 'no more than the rate per window handed out',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [checkout], rolloutCheckMs: 0 });
      try {
        const runs = await Promise.all([1, 2, 3].map((amount) => engine.start('checkout', { amount })));
        for (const run of runs) await runUntil(engine, run.id, (r) => r.status === 'waiting');
        const [first, ...none] = await engine.tasks.poll('charge_card', 'w', 5, { concurrentExecLimit: 1 });
        assert.equal(none.length, 0, 'one in progress at most');
        assert.deepEqual(await engine.tasks.poll('charge_card', 'w', 5, { concurrentExecLimit: 1 }), []);
        await engine.tasks.report(first!.taskId, { status: 'COMPLETED', output: { paid: true } });
        const [second] = await engine.tasks.poll('charge_card', 'w', 5, {
          concurrentExecLimit: 1,
          ratePerWindow: 2,
          rateWindowMs: 60_000,
        });
        assert.ok(second, 'the slot came free');
        await engine.tasks.report(second!.taskId, { status: 'COMPLETED', output: { paid: true } });
        assert.deepEqual(
          await engine.tasks.poll('charge_card', 'w', 5, { ratePerWindow: 2, rateWindowMs: 60_000 }),
          [],
          'two were handed out this minute',
        );
        assert.equal((await engine.tasks.poll('charge_card', 'w', 5)).length, 1, 'without limits the last one goes');
      } finally {
        await engine.close();
      }
    },
  );

  test(
    'an attempt that runs over its time limit times out even while ' +
      'its worker reports progress; without retryTimedOut the task fails',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [bounded], rolloutCheckMs: 0 });
      try {
        const run = await engine.start('bounded', null);
        await runUntil(engine, run.id, (r) => r.status === 'waiting');
        const [task] = await engine.tasks.poll('bounded_work', 'w', 1);
        assert.equal(task!.timeoutMs, 30);
        // progress does not lift the limit
        await engine.tasks.report(task!.taskId, { status: 'IN_PROGRESS', extendLease: true });
        await new Promise((resolve) => setTimeout(resolve, 40)); // the 30 ms limit passes
        assert.equal(await engine.tasks.timeOut(), 1);
        const failed = await runUntil(engine, run.id, (r) => r.status === 'failed');
        assert.match(failed.error!.message, /failed after 1 attempt: took longer than its time limit \(30 ms\)/);
      } finally {
        await engine.close();
      }
    },
  );

  test('reports racing with the run suspending on its other task are never lost: every run finishes', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [pair], rolloutCheckMs: 0 });
    try {
      const runs = await Promise.all(Array.from({ length: 40 }, () => engine.start('pair', null)));
      let reported = 0;
      const worker = async (type: string) => {
        while (reported < 80) {
          const tasks = await engine.tasks.poll(type, `w-${type}`, 10);
          await Promise.all(tasks.map((t) => engine.tasks.report(t.taskId, { status: 'COMPLETED', output: 1 })));
          reported += tasks.length;
          if (tasks.length === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      };
      await Promise.all([worker('left'), worker('right')]);
      for (const run of runs) assert.equal(await engine.result(run.id, { timeoutMs: 10_000 }), 2);
    } finally {
      await engine.close();
    }
  });

  test(
    'callbackAfter hands the task out again later; ' +
      'cancelling the run cancels its open task; bad reports change nothing',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [checkout], rolloutCheckMs: 0 });
      try {
        const run = await engine.start('checkout', { amount: 5 });
        await runUntil(engine, run.id, (r) => r.status === 'waiting');
        const [task] = await engine.tasks.poll('charge_card', 'w', 1);
        await engine.tasks.report(task!.taskId, { status: 'IN_PROGRESS', callbackAfterMs: 60_000 });
        assert.equal((await engine.tasks.get(task!.taskId)).status, 'SCHEDULED');
        assert.deepEqual(await engine.tasks.poll('charge_card', 'w', 1), [], 'not before the callback delay');
        await rejectsWith(engine.tasks.report('no-such-task', { status: 'COMPLETED' }), 'E_TASK_NOT_FOUND');
        await rejectsWith(engine.tasks.report(task!.taskId, { status: 'DONE' as never }), 'E_INVALID_INPUT');
        await rejectsWith(
          engine.tasks.report(task!.taskId, { status: 'COMPLETED', output: { bad: () => 1 } as never }),
          'E_NOT_SERIALIZABLE',
        );
        assert.equal((await engine.tasks.get(task!.taskId)).status, 'SCHEDULED', 'refused reports wrote nothing');
        await engine.cancel(run.id, { actor: 'test', reason: 'customer left' });
        assert.equal((await engine.tasks.get(task!.taskId)).status, 'CANCELED');
        assert.equal(await engine.tasks.queueSize('charge_card'), 0);
      } finally {
        await engine.close();
      }
    },
  );
});

/** Polls until a task of `type` is handed out (a retry becomes visible once its run has recorded the failure). */
async function waitForTask(engine: Engine, type: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const tasks = await engine.tasks.poll(type, 'w', 1);
    if (tasks.length || Date.now() > deadline) return tasks;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
