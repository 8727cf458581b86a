import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine, NonRetryableError, WaymarkError } from '../../src/index.js';
import { forEachBackend, rejectsWith, runUntil } from '../helpers.js';

/** Side effects and compensations, in the order they happened, per run. */
const journal = new Map<string, string[]>();
const note = (runId: string, entry: string): void => void journal.set(runId, [...(journal.get(runId) ?? []), entry]);

const saga = defineWorkflow({
  name: 'saga',
  version: 1,
  steps: {
    reserve: {
      effect: 'reversible',
      compensate: (_o, { idempotencyKey }) => note(idempotencyKey.split(':')[0]!, 'undo reserve'),
    },
  },
  async run(ctx, input: { failAt?: string; escalate?: boolean; wait?: boolean }) {
    const step = (name: string) => () => {
      note(ctx.runId, name);
      if (input.failAt === name) throw new NonRetryableError(`${name} refused`);
      return `${name} done`;
    };
    await ctx.step('reserve', step('reserve'));
    await ctx.step('notify', step('notify'), { effect: 'irreversible' });
    await ctx.step('charge', step('charge'), {
      effect: 'reversible',
      compensate: () => note(ctx.runId, 'undo charge'),
    });
    await ctx.step('validate', step('validate'));
    if (input.wait) await ctx.waitForSignal('go');
    return ctx.step('ship', step('ship'), {
      onFailure: input.escalate ? 'escalate' : 'compensate',
      effect: 'reversible',
      compensate: () => note(ctx.runId, 'undo ship'),
    });
  },
});

let compensationFailures = 0;
const fragile = defineWorkflow({
  name: 'fragile',
  version: 1,
  async run(ctx) {
    await ctx.step('a', () => note(ctx.runId, 'a'), {
      effect: 'reversible',
      compensate: () => note(ctx.runId, 'undo a'),
    });
    await ctx.step('b', () => note(ctx.runId, 'b'), {
      effect: 'reversible',
      retry: { maxAttempts: 2, initialDelayMs: 1 },
      compensate: () => {
        if (compensationFailures-- > 0) throw new Error('undo b refused');
        note(ctx.runId, 'undo b');
      },
    });
    await ctx.step(
      'c',
      () => {
        throw new NonRetryableError('c refused');
      },
      { onFailure: 'compensate' },
    );
  },
});

let releaseSlowStep: (() => void) | undefined;
const unsure = defineWorkflow({
  name: 'unsure',
  version: 1,
  async run(ctx) {
    await ctx.step('prepare', () => 'ok');
    return ctx.step(
      'transfer',
      async () => {
        note(ctx.runId, 'transfer');
        await new Promise<void>((resolve) => (releaseSlowStep = resolve));
        return 'transferred';
      },
      { effect: 'irreversible' },
    );
  },
});

forEachBackend((backend) => {
  test(
    'a reversible step needs compensate: ' + 'refused when the workflow is defined, and at the call for inline options',
    async () => {
      assert.throws(
        () => defineWorkflow({ name: 'bad', version: 1, steps: { pay: { effect: 'reversible' } }, run: async () => 1 }),
        (e: unknown) =>
          e instanceof WaymarkError &&
          e.code === 'E_INVALID_INPUT' &&
          /step 'pay': a reversible step needs a compensate function/.test(e.message),
      );
      assert.throws(
        () =>
          defineWorkflow({
            name: 'bad',
            version: 1,
            stepDefaults: { onFailure: 'retry' as never },
            run: async () => 1,
          }),
        /onFailure must be/,
      );
      const inline = defineWorkflow({
        name: 'inline',
        version: 1,
        run: (ctx) => ctx.step('pay', () => 1, { effect: 'reversible' }),
      });
      const engine = await Engine.open({ store: backend.store(), workflows: [inline] });
      try {
        const run = await engine.start('inline', null);
        const error = await rejectsWith(engine.result(run.id, { timeoutMs: 5_000 }), 'E_RUN_FAILED');
        assert.match(error.message, /a reversible step needs a compensate function/);
        assert.equal(
          (await engine.history(run.id)).filter((e) => e.type.startsWith('step_')).length,
          0,
          'the step never ran',
        );
      } finally {
        await engine.close();
      }
    },
  );

  test(
    "onFailure 'compensate' unwinds completed reversible steps in reverse order, " +
      'each once, and reports the irreversible',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [saga] });
      try {
        const run = await engine.start('saga', { failAt: 'ship' });
        const ended = await runUntil(engine, run.id, (r) => r.status === 'compensated');
        assert.deepEqual(journal.get(run.id), [
          'reserve',
          'notify',
          'charge',
          'validate',
          'ship',
          'undo charge',
          'undo reserve',
        ]);
        assert.equal(ended.error?.code, 'E_STEP_FAILED');
        const history = await engine.history(run.id);
        assert.deepEqual(
          history.filter((e) => e.type === 'compensation_completed').map((e) => e.name),
          ['charge', 'reserve'],
        );
        assert.deepEqual(history.at(-1)?.data, { undone: ['charge', 'reserve'], notUndone: ['notify'] });
        await rejectsWith(engine.result(run.id), 'E_RUN_FAILED');
        const described = await engine.describe(run.id);
        assert.deepEqual(
          described.effects.map((e) => [e.step, e.effect, e.state]),
          [
            ['reserve', 'reversible', 'undone'],
            ['notify', 'irreversible', 'kept'],
            ['charge', 'reversible', 'undone'],
          ],
        );
        assert.deepEqual(described.actions, []);
      } finally {
        await engine.close();
      }
    },
  );

  test(
    "onFailure 'escalate' parks the run; retryStep runs the step again; " + "skipStep records the operator's output",
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [saga] });
      try {
        const retried = await engine.start('saga', { failAt: 'ship', escalate: true });
        const parked = await runUntil(engine, retried.id, (r) => r.status === 'needs_attention');
        assert.equal(
          (parked.attention?.details as { reason: string; step: string } | undefined)?.reason,
          'step_failed',
        );
        assert.deepEqual((await engine.describe(retried.id)).actions, [
          'retry_step',
          'skip_step',
          'compensate',
          'cancel',
        ]);
        // Still failing: retrying parks it again, with one more attempt recorded.
        const { applied } = await engine.retryStep(retried.id, { actor: 'ada', reason: 'transient?' });
        assert.equal(applied, true);
        await runUntil(
          engine,
          retried.id,
          (r) =>
            r.status === 'needs_attention' &&
            (r.attention?.details as { attempts: number } | undefined)?.attempts === 2,
        );
        await engine.skipStep(retried.id, { actor: 'ada', reason: 'shipped by hand', output: 'shipped manually' });
        assert.equal(await engine.result(retried.id, { timeoutMs: 5_000 }), 'shipped manually');
        const actions = (await engine.history(retried.id))
          .filter((e) => e.type === 'operator_action')
          .map((e) => e.data);
        assert.deepEqual(actions, [
          { action: 'retry_step', actor: 'ada', reason: 'transient?', step: 'ship' },
          { action: 'skip_step', actor: 'ada', reason: 'shipped by hand', step: 'ship' },
        ]);
        assert.equal(
          journal.get(retried.id)!.filter((e) => e === 'reserve').length,
          1,
          'nothing before the parked step ran again',
        );
      } finally {
        await engine.close();
      }
    },
  );

  test('operator actions refuse runs in the wrong state and change nothing', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [saga] });
    try {
      const waiting = await engine.start('saga', { wait: true });
      await runUntil(engine, waiting.id, (r) => r.status === 'waiting');
      const before = (await engine.history(waiting.id)).length;
      for (const action of [
        () => engine.retryStep(waiting.id),
        () => engine.skipStep(waiting.id, { output: 1 }),
        () => engine.resume(waiting.id),
      ]) {
        const error = await rejectsWith(action(), 'E_RUN_STATE');
        assert.match(error.message, /it is waiting/);
      }
      assert.equal((await engine.history(waiting.id)).length, before);
      await rejectsWith(engine.cancel('nope'), 'E_RUN_NOT_FOUND');
      await engine.cancel(waiting.id, { actor: 'ops', reason: 'customer left' });
      const cancelled = await engine.getRun(waiting.id);
      assert.equal(cancelled.status, 'cancelled');
      const again = await rejectsWith(engine.cancel(waiting.id), 'E_RUN_STATE');
      assert.match(again.message, /already cancelled/);
      await rejectsWith(engine.compensate(waiting.id), 'E_RUN_STATE');
      await rejectsWith(engine.result(waiting.id), 'E_RUN_CANCELLED');
    } finally {
      await engine.close();
    }
  });

  test('an operator compensates a waiting run: its reversible steps are undone and it ends compensated', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [saga] });
    try {
      const run = await engine.start('saga', { wait: true });
      await runUntil(engine, run.id, (r) => r.status === 'waiting');
      await engine.compensate(run.id, { actor: 'ops', reason: 'order withdrawn' });
      await runUntil(engine, run.id, (r) => r.status === 'compensated');
      assert.deepEqual(journal.get(run.id)!.slice(4), ['undo charge', 'undo reserve']);
      const started = (await engine.history(run.id)).find((e) => e.type === 'compensation_started');
      assert.deepEqual(started?.data, { reason: 'operator', actor: 'ops', why: 'order withdrawn' });
    } finally {
      await engine.close();
    }
  });

  test('a compensation that exhausts its retries parks the run; retrying it finishes the unwinding', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [fragile] });
    try {
      compensationFailures = 2; // both attempts of the first try fail
      const run = await engine.start('fragile', null);
      const parked = await runUntil(engine, run.id, (r) => r.status === 'needs_attention');
      assert.deepEqual(parked.attention?.details && { ...(parked.attention.details as object), error: undefined }, {
        reason: 'compensation_failed',
        step: 'b',
        seq: 1,
        attempts: 2,
        error: undefined,
        done: [],
        pending: ['b', 'a'],
      });
      const described = await engine.describe(run.id);
      assert.deepEqual(described.pending, ["compensate 'b'", "compensate 'a'"]);
      await engine.retryStep(run.id, { reason: 'downstream is back' });
      await runUntil(engine, run.id, (r) => r.status === 'compensated');
      assert.deepEqual(journal.get(run.id), ['a', 'b', 'undo b', 'undo a']);
    } finally {
      await engine.close();
    }
  });

  test(
    'a non-idempotent step whose outcome is unknown after ' + 'a stop is not run again: the run parks unknown_outcome',
    async () => {
      const store = backend.store();
      const first = await Engine.open({ store, workflows: [unsure], workerId: 'w1' });
      const run = await first.start('unsure', null);
      await runUntil(first, run.id, () => journal.get(run.id)?.includes('transfer') === true);
      await first.close(); // the transfer is in flight: its outcome is never recorded
      releaseSlowStep?.();
      const second = await Engine.open({ store, workflows: [unsure], workerId: 'w2' });
      try {
        const parked = await runUntil(second, run.id, (r) => r.status === 'needs_attention');
        assert.equal(parked.attention?.code, 'E_UNKNOWN_OUTCOME');
        const details = parked.attention?.details as {
          reason: string;
          step: string;
          attempt: number;
          workerId: string;
          startedAt: number;
        };
        assert.deepEqual(
          [details.reason, details.step, details.attempt, details.workerId],
          ['unknown_outcome', 'transfer', 1, 'w1'],
        );
        assert.equal(typeof details.startedAt, 'number');
        assert.deepEqual(journal.get(run.id), ['transfer'], 'the transfer did not run again');
        await second.skipStep(run.id, {
          actor: 'ops',
          reason: 'bank confirms the transfer',
          output: 'transferred (confirmed)',
        });
        assert.equal(await second.result(run.id, { timeoutMs: 5_000 }), 'transferred (confirmed)');
      } finally {
        await second.close();
      }
    },
  );

  test(
    "target locks: 'reject' refuses a second start naming the holder; " + 'the key is free again when the holder ends',
    async () => {
      const locked = defineWorkflow({
        name: 'locked',
        version: 1,
        lock: {
          key: (input: { cluster?: string }) => {
            if (!input.cluster) throw new Error('cluster is required');
            return `cluster:${input.cluster}`;
          },
        },
        run: async (ctx) => ctx.waitForSignal('done'),
      });
      const engine = await Engine.open({ store: backend.store(), workflows: [locked] });
      try {
        const holder = await engine.start('locked', { cluster: 'eu' }, { id: 'holder' });
        const error = await rejectsWith(engine.start('locked', { cluster: 'eu' }, { id: 'second' }), 'E_LOCK_HELD');
        assert.match(error.message, /target 'cluster:eu' is locked by run 'holder'/);
        await rejectsWith(engine.getRun('second'), 'E_RUN_NOT_FOUND');
        assert.equal((await engine.start('locked', { cluster: 'us' })).lockKey, 'cluster:us', 'another key is free');
        assert.equal(
          (await engine.start('locked', { cluster: 'eu' }, { id: 'holder' })).id,
          'holder',
          'the holder itself restarts idempotently',
        );
        await engine.signal(holder.id, 'done', 1);
        await engine.result(holder.id, { timeoutMs: 5_000 });
        const next = await engine.start('locked', { cluster: 'eu' }, { id: 'third' });
        assert.equal(next.status, 'running');
        await rejectsWith(engine.start('locked', { bad: true } as never), 'E_INVALID_INPUT');
      } finally {
        await engine.close();
      }
    },
  );

  test('target locks: of many concurrent starts for one key through two engines, exactly one holds it', async () => {
    const exclusive = defineWorkflow({
      name: 'exclusive',
      version: 1,
      lock: { key: () => 'db:primary' },
      run: async (ctx) => ctx.waitForSignal('done'),
    });
    const store = backend.store();
    const engines = [
      await Engine.open({ store, workflows: [exclusive] }),
      await Engine.open({ store, workflows: [exclusive] }),
    ];
    try {
      const attempts = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => engines[i % 2]!.start('exclusive', null, { id: `x-${i}` })),
      );
      const won = attempts.filter((a) => a.status === 'fulfilled');
      const lost = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
      assert.equal(won.length, 1);
      assert.ok(lost.every((a) => a.reason instanceof WaymarkError && a.reason.code === 'E_LOCK_HELD'));
      assert.equal((await engines[0]!.listRuns({ workflow: 'exclusive' })).length, 1, 'refused starts wrote nothing');
    } finally {
      await Promise.all(engines.map((e) => e.close()));
    }
  });

  test("target locks: 'queue' runs many concurrent starts for one key one at a time, in start order", async () => {
    let inside = 0;
    let most = 0;
    const order: number[] = [];
    const queued = defineWorkflow({
      name: 'queued',
      version: 1,
      lock: { key: () => 'cluster:prod', onConflict: 'queue' },
      async run(ctx, input: { n: number }) {
        await ctx.step('enter', () => {
          inside++;
          most = Math.max(most, inside);
          order.push(input.n);
        });
        await ctx.sleep(5);
        await ctx.step('leave', () => void inside--);
        return input.n;
      },
    });
    const engine = await Engine.open({ store: backend.store(), workflows: [queued], pollIntervalMs: 50 });
    try {
      const runs = [];
      for (let n = 0; n < 12; n++) runs.push(await engine.start('queued', { n }, { id: `q-${n}` }));
      assert.deepEqual(
        runs.map((r) => r.status),
        ['running', ...Array(11).fill('waiting')],
      );
      assert.deepEqual(runs[1]!.waitingFor, { kind: 'lock', name: 'cluster:prod' });
      for (const run of runs) await engine.result(run.id, { timeoutMs: 20_000 });
      assert.equal(most, 1, 'never two holders at once');
      assert.deepEqual(order, [...Array(12).keys()], 'FIFO');
    } finally {
      await engine.close();
    }
  });

  test('target locks: starts queued in one batch (one millisecond) get the lock in start order', async () => {
    const order: number[] = [];
    const queued = defineWorkflow({
      name: 'queued-batch',
      version: 1,
      lock: { key: () => 'cluster:batch', onConflict: 'queue' },
      async run(ctx, input: { n: number }) {
        await ctx.step('enter', () => void order.push(input.n));
        return input.n;
      },
    });
    const engine = await Engine.open({ store: backend.store(), workflows: [queued], pollIntervalMs: 50 });
    try {
      // One batch of starts: their creation times share a millisecond, and ids sort otherwise ('b-10' < 'b-2').
      const runs = await Promise.all(
        [...Array(15).keys()].map((n) => engine.start('queued-batch', { n }, { id: `b-${n}` })),
      );
      assert.equal(runs.filter((r) => r.status === 'waiting').length, 14);
      for (const run of runs) await engine.result(run.id, { timeoutMs: 20_000 });
      assert.deepEqual(order, [...Array(15).keys()], 'FIFO');
    } finally {
      await engine.close();
    }
  });

  test('a run that outlives maxLifetimeMs follows onExpire: fail, compensate, or escalate then resume', async () => {
    const make = (onExpire: 'fail' | 'compensate' | 'escalate') =>
      defineWorkflow({
        name: `lifetime-${onExpire}`,
        version: 1,
        maxLifetimeMs: 150,
        onExpire,
        async run(ctx) {
          await ctx.step('book', () => note(ctx.runId, 'book'), {
            effect: 'reversible',
            compensate: () => note(ctx.runId, 'unbook'),
          });
          const answer = await ctx.waitForSignal('answer');
          return answer ?? 'no answer';
        },
      });
    const engine = await Engine.open({
      store: backend.store(),
      workflows: [make('fail'), make('compensate'), make('escalate')],
      pollIntervalMs: 50,
    });
    try {
      const failed = await engine.start('lifetime-fail', null);
      const error = await rejectsWith(engine.result(failed.id, { timeoutMs: 5_000 }), 'E_RUN_FAILED');
      assert.match(error.message, /outlived its lifetime/);
      assert.equal((await engine.getRun(failed.id)).error?.code, 'E_RUN_EXPIRED');

      const compensated = await engine.start('lifetime-compensate', null);
      await runUntil(engine, compensated.id, (r) => r.status === 'compensated');
      assert.deepEqual(journal.get(compensated.id), ['book', 'unbook']);

      const escalated = await engine.start('lifetime-escalate', null, { maxLifetimeMs: 100 });
      const lifetime = escalated.expiresAt!.getTime() - escalated.createdAt.getTime();
      assert.ok(Math.abs(lifetime - 100) < 50, `per-start lifetime (${lifetime} ms)`);
      await runUntil(engine, escalated.id, (r) => r.status === 'needs_attention');
      await engine.signal(escalated.id, 'answer', 'late but welcome');
      await engine.resume(escalated.id, { reason: 'give it more time' });
      assert.equal(await engine.result(escalated.id, { timeoutMs: 5_000 }), 'late but welcome');
    } finally {
      await engine.close();
    }
  });
});
