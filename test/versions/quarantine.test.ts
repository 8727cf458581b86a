import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine } from '../../src/index.js';
import { forEachBackend, nextChange, rejectsWith, runUntil } from '../helpers.js';

let releaseFirst: () => void = () => {};
let secondRuns = 0;

/** A first step the test holds open, then a second one counted. */
const held = defineWorkflow({
  name: 'held',
  version: 1,
  async run(ctx) {
    await ctx.step('first', () => new Promise<string>((resolve) => (releaseFirst = () => resolve('done'))));
    await ctx.step('second', () => ++secondRuns);
    return 'finished';
  },
});
const waiter = defineWorkflow({
  name: 'waiter',
  version: 1,
  async run(ctx) {
    await ctx.waitForSignal('go');
    return ctx.step('after', () => 'ran');
  },
});
const other = defineWorkflow({ name: 'other', version: 1, run: async (ctx) => ctx.step('x', () => 'x') });

/** Resolves once the run's history has `step` completed, re-checking after each change the engine commits. */
async function historyShows(engine: Engine, runId: string, step: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await engine.history(runId)).some((e) => e.type === 'step_completed' && e.name === step)) {
    if (Date.now() > deadline) throw new Error(`step '${step}' of ${runId} never completed`);
    await nextChange(engine, runId);
  }
}

forEachBackend((backend) => {
  test(
    'a quarantined version: a hot run stops before its next step, ' +
      'woken runs are not claimed, activate resumes them',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [held, waiter, other], rolloutCheckMs: 0 });
      try {
        secondRuns = 0;
        const hot = await engine.start('held', null);
        await runUntil(engine, hot.id, () => true);
        const parked = await engine.start('waiter', null);
        await runUntil(engine, parked.id, (r) => r.status === 'waiting');

        await engine.quarantine('held', 1);
        await engine.quarantine('waiter', 1);
        releaseFirst();
        await engine.signal(parked.id, 'go');
        // Another workflow's run, started later, completes: the claim loop went past the quarantined runs.
        const probe = await engine.start('other', null);
        assert.equal(await engine.result(probe.id, { timeoutMs: 10_000 }), 'x');
        await historyShows(engine, hot.id, 'first');

        const hotHistory = (await engine.history(hot.id)).filter((e) => e.type === 'step_completed').map((e) => e.name);
        assert.deepEqual(hotHistory, ['first'], 'the hot run checkpointed its step and stopped before the next');
        assert.equal(secondRuns, 0);
        assert.equal((await engine.getRun(parked.id)).status, 'waiting', 'the signalled run was not executed');
        assert.ok(!(await engine.history(parked.id)).some((e) => e.type === 'signal_received'));
        const summary = (await engine.versions()).find((v) => v.workflow === 'held')!;
        assert.deepEqual([summary.status, summary.inFlight], ['quarantined', 1]);
        await rejectsWith(engine.start('held', null), 'E_VERSION_UNAVAILABLE');
        await rejectsWith(engine.start('held', null, { version: 1, force: true }), 'E_VERSION_UNAVAILABLE');

        await engine.activate('held', 1);
        await engine.activate('waiter', 1);
        assert.equal(await engine.result(hot.id, { timeoutMs: 10_000 }), 'finished');
        assert.equal(await engine.result(parked.id, { timeoutMs: 10_000 }), 'ran');
        assert.equal(secondRuns, 1, 'each step ran once');
      } finally {
        await engine.close();
      }
    },
  );

  test(
    'pause: a waiting run is paused at once, ' + 'an executing one at its next operation; resume lets each go on',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [held, waiter, other], rolloutCheckMs: 0 });
      try {
        secondRuns = 0;
        const parked = await engine.start('waiter', null);
        await runUntil(engine, parked.id, (r) => r.status === 'waiting');
        const paused = await engine.pause(parked.id, { actor: 'ops', reason: 'investigating' });
        assert.deepEqual([paused.applied, paused.run.status], [true, 'paused']);
        await engine.signal(parked.id, 'go');
        const probe = await engine.start('other', null);
        assert.equal(await engine.result(probe.id, { timeoutMs: 10_000 }), 'x');
        assert.equal((await engine.getRun(parked.id)).status, 'paused', 'a signal does not wake a paused run');
        await rejectsWith(engine.pause(parked.id), 'E_RUN_STATE');

        const hot = await engine.start('held', null);
        await runUntil(engine, hot.id, () => true);
        const handed = await engine.pause(hot.id, { actor: 'ops', reason: 'hold on' });
        assert.equal(handed.applied, false, 'handed to the worker executing it');
        releaseFirst();
        await runUntil(engine, hot.id, (r) => r.status === 'paused');
        assert.equal(secondRuns, 0, 'stopped before its next step');

        await engine.resume(parked.id, { actor: 'ops', reason: 'fine' });
        await engine.resume(hot.id, { actor: 'ops', reason: 'fine' });
        assert.equal(await engine.result(parked.id, { timeoutMs: 10_000 }), 'ran');
        assert.equal(await engine.result(hot.id, { timeoutMs: 10_000 }), 'finished');
        assert.equal(secondRuns, 1);
        const actions = (await engine.history(hot.id))
          .filter((e) => e.type === 'operator_action')
          .map((e) => (e.data as { action: string }).action);
        assert.deepEqual(actions, ['pause', 'resume']);
      } finally {
        await engine.close();
      }
    },
  );

  test('the last worker serving a version with runs in flight does not leave silently', async () => {
    const store = backend.store();
    const a = await Engine.open({ store, workflows: [waiter], workerId: 'a', rolloutCheckMs: 0 });
    const run = await a.start('waiter', null);
    await runUntil(a, run.id, (r) => r.status === 'waiting');
    const refused = await rejectsWith(a.close({ refuseStranding: true }), 'E_WOULD_STRAND');
    assert.deepEqual(refused.details, [{ workflow: 'waiter', version: 1, inFlight: 1 }]);
    await a.signal(run.id, 'go');
    assert.equal(await a.result(run.id, { timeoutMs: 10_000 }), 'ran', 'the refused engine is still open and working');
    const second = await a.start('waiter', null);
    await runUntil(a, second.id, (r) => r.status === 'waiting');
    const b = await Engine.open({ store, workflows: [waiter], workerId: 'b', rolloutCheckMs: 0 });
    await a.close({ refuseStranding: true }); // another live worker serves it now
    await b.signal(second.id, 'go');
    assert.equal(await b.result(second.id, { timeoutMs: 10_000 }), 'ran');
    await b.close();
  });
});
