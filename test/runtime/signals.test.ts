import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine } from '../../src/index.js';
import { forEachBackend, rejectsWith, runUntil } from '../helpers.js';

const approval = defineWorkflow({
  name: 'approval',
  version: 1,
  async run(ctx, input: { timeoutMs?: number }) {
    await ctx.step('prepare', () => 'ready');
    const first = await ctx.waitForSignal<{ n: number }>('approve', { timeoutMs: input.timeoutMs });
    const second = await ctx.waitForSignal<{ n: number }>('approve', { timeoutMs: input.timeoutMs });
    return { first, second };
  },
});

forEachBackend((backend) => {
  test('a signal sent before the run waits for it is kept and delivered, in order of sending', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [approval] });
    try {
      const run = await engine.start('approval', {}, { id: 'early' });
      await engine.signal(run.id, 'approve', { n: 1 });
      await engine.signal(run.id, 'approve', { n: 2 });
      assert.deepEqual(await engine.result(run.id, { timeoutMs: 5_000 }), { first: { n: 1 }, second: { n: 2 } });
      const received = (await engine.history(run.id)).filter((e) => e.type === 'signal_received');
      assert.deepEqual(
        received.map((e) => (e.data as { payload: unknown }).payload),
        [{ n: 1 }, { n: 2 }],
      );
    } finally {
      await engine.close();
    }
  });

  test('a run parked on a signal is waiting with no lease, and a later signal wakes it', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [approval] });
    try {
      const run = await engine.start('approval', {});
      const parked = await runUntil(engine, run.id, (r) => r.status === 'waiting');
      assert.deepEqual(parked.waitingFor, { kind: 'signal', seq: 1, name: 'approve', signals: ['approve'] });
      await engine.signal(run.id, 'unrelated', { ignored: true });
      await engine.signal(run.id, 'approve', { n: 1 });
      await runUntil(engine, run.id, (r) => r.status === 'waiting' && r.waitingFor?.seq === 2);
      await engine.signal(run.id, 'approve', { n: 2 });
      assert.deepEqual(await engine.result(run.id, { timeoutMs: 5_000 }), { first: { n: 1 }, second: { n: 2 } });
    } finally {
      await engine.close();
    }
  });

  test('a signal wait times out with null, durably recorded', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [approval] });
    try {
      const run = await engine.start('approval', { timeoutMs: 100 });
      assert.deepEqual(await engine.result(run.id, { timeoutMs: 5_000 }), { first: null, second: null });
      const types = (await engine.history(run.id)).map((e) => e.type);
      assert.equal(types.filter((t) => t === 'signal_timed_out').length, 2);
    } finally {
      await engine.close();
    }
  });

  test(
    'signals to missing or finished runs, ' + 'bad names and unserializable payloads are refused and stored nowhere',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [approval] });
      try {
        await rejectsWith(engine.signal('missing', 'approve', {}), 'E_RUN_NOT_FOUND');
        const run = await engine.start('approval', { timeoutMs: 1 });
        await engine.result(run.id, { timeoutMs: 5_000 });
        const finished = await rejectsWith(engine.signal(run.id, 'approve', {}), 'E_INVALID_INPUT');
        assert.match(finished.message, /is completed: it takes no more signals/);
        const live = await engine.start('approval', {});
        await rejectsWith(engine.signal(live.id, '', {}), 'E_INVALID_INPUT');
        await rejectsWith(engine.signal(live.id, 'approve', { fn: () => 1 }), 'E_NOT_SERIALIZABLE');
        await runUntil(engine, live.id, (r) => r.status === 'waiting');
        await engine.signal(live.id, 'approve', { n: 1 });
        await engine.signal(live.id, 'approve', { n: 2 });
        // Only the two valid signals ever reached the run.
        assert.deepEqual(await engine.result(live.id, { timeoutMs: 5_000 }), { first: { n: 1 }, second: { n: 2 } });
      } finally {
        await engine.close();
      }
    },
  );

  test('a signal sent from another engine (a client) wakes a run parked in this one', async () => {
    const db = backend.store();
    const worker = await Engine.open({ store: db, workflows: [approval], pollIntervalMs: 50 });
    const client = await Engine.open({ store: db, worker: false });
    try {
      const run = await client.start('approval', {});
      await runUntil(worker, run.id, (r) => r.status === 'waiting');
      await client.signal(run.id, 'approve', { n: 1 });
      await client.signal(run.id, 'approve', { n: 2 });
      assert.deepEqual(await client.result(run.id, { timeoutMs: 5_000 }), { first: { n: 1 }, second: { n: 2 } });
    } finally {
      await client.close();
      await worker.close();
    }
  });
});
