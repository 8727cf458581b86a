import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine, WaymarkError } from '../../src/index.js';
import { forEachBackend, rejectsWith, runUntil } from '../helpers.js';

let executions = 0;
const greet = defineWorkflow({
  name: 'greet',
  version: 1,
  async run(ctx, input: { who: string }) {
    const text = await ctx.step('compose', () => {
      executions++;
      return `hello ${input.who}`;
    });
    return { text, at: ctx.now(), rand: ctx.random(), id: ctx.uuid() };
  },
});
const greetV2 = defineWorkflow({
  name: 'greet',
  version: 2,
  run: async (_ctx, input: { who: string }) => `v2 ${input.who}`,
});
const explode = defineWorkflow({
  name: 'explode',
  version: 1,
  async run() {
    throw new Error('boom in workflow body');
  },
});

forEachBackend((backend) => {
  test('a run completes, and its history records every operation in order', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [greet, greetV2] });
    try {
      const run = await engine.start('greet', { who: 'ada' }, { version: 1 });
      assert.equal(run.version, 1);
      const output = await engine.result<{ text: string }>(run.id, { timeoutMs: 5_000 });
      assert.equal(output.text, 'hello ada');
      const finished = await engine.getRun(run.id);
      assert.equal(finished.status, 'completed');
      assert.deepEqual(finished.output, output);
      const types = (await engine.history(run.id)).map((e) => e.type);
      assert.deepEqual(types, [
        'run_started',
        'step_completed',
        'value_recorded',
        'value_recorded',
        'value_recorded',
        'run_completed',
      ]);
    } finally {
      await engine.close();
    }
  });

  test(
    'an unpinned start uses the highest version; ' + 'unknown workflows and versions are refused and write nothing',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [greet, greetV2] });
      try {
        const run = await engine.start('greet', { who: 'bob' });
        assert.equal(run.version, 2);
        assert.equal(await engine.result(run.id, { timeoutMs: 5_000 }), 'v2 bob');
        const unknown = await rejectsWith(engine.start('nope', {}), 'E_UNKNOWN_WORKFLOW');
        assert.match(unknown.message, /workflow 'nope' is not registered \(known: greet\)/);
        const badVersion = await rejectsWith(engine.start('greet', {}, { version: 7 }), 'E_UNKNOWN_VERSION');
        assert.match(badVersion.message, /registered: 1, 2/);
        assert.equal((await engine.listRuns()).length, 1);
      } finally {
        await engine.close();
      }
    },
  );

  test('starting with an existing run id returns that run and executes nothing again', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [greet] });
    try {
      const before = executions;
      const first = await engine.start('greet', { who: 'cy' }, { id: 'greet-cy' });
      await engine.result(first.id, { timeoutMs: 5_000 });
      const second = await engine.start('greet', { who: 'someone else' }, { id: 'greet-cy' });
      assert.equal(second.id, 'greet-cy');
      assert.equal(second.status, 'completed');
      assert.deepEqual(second.input, { who: 'cy' });
      assert.equal(executions - before, 1);
      assert.equal((await engine.listRuns({ workflow: 'greet' })).length, 1);
    } finally {
      await engine.close();
    }
  });

  test('an error thrown by the workflow body fails the run with that error', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [explode] });
    try {
      const run = await engine.start('explode', null);
      const error = await rejectsWith(engine.result(run.id, { timeoutMs: 5_000 }), 'E_RUN_FAILED');
      assert.match(error.message, /boom in workflow body/);
      const failed = await engine.getRun(run.id);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.error?.message, 'boom in workflow body');
    } finally {
      await engine.close();
    }
  });

  test('reading a missing run and waiting past a timeout give clear errors', async () => {
    const waits = defineWorkflow({ name: 'waits', version: 1, run: async (ctx) => ctx.waitForSignal('never') });
    const engine = await Engine.open({ store: backend.store(), workflows: [waits] });
    try {
      await rejectsWith(engine.getRun('missing'), 'E_RUN_NOT_FOUND');
      await rejectsWith(engine.history('missing'), 'E_RUN_NOT_FOUND');
      const run = await engine.start('waits', null);
      const timeout = await rejectsWith(engine.result(run.id, { timeoutMs: 200 }), 'E_TIMEOUT');
      assert.match(timeout.message, /status: (running|waiting)/);
    } finally {
      await engine.close();
    }
  });

  test('listRuns filters by workflow and status', async () => {
    const waits = defineWorkflow({ name: 'waits', version: 1, run: async (ctx) => ctx.waitForSignal('go') });
    const engine = await Engine.open({ store: backend.store(), workflows: [greet, waits] });
    try {
      const g = await engine.start('greet', { who: 'x' });
      await engine.result(g.id, { timeoutMs: 5_000 });
      const w = await engine.start('waits', null);
      await runUntil(engine, w.id, (r) => r.status === 'waiting');
      assert.deepEqual(
        (await engine.listRuns({ status: 'waiting' })).map((r) => r.id),
        [w.id],
      );
      assert.deepEqual(
        (await engine.listRuns({ workflow: 'greet', status: ['completed', 'failed'] })).map((r) => r.id),
        [g.id],
      );
      assert.equal((await engine.listRuns({ workflow: 'greet', status: 'waiting' })).length, 0);
    } finally {
      await engine.close();
    }
  });

  test('parallel steps run concurrently and each is checkpointed', async () => {
    const fanout = defineWorkflow({
      name: 'fanout',
      version: 1,
      async run(ctx) {
        return Promise.all(['a', 'b', 'c'].map((n) => ctx.step(n, async () => n.toUpperCase())));
      },
    });
    const engine = await Engine.open({ store: backend.store(), workflows: [fanout] });
    try {
      const run = await engine.start('fanout', null);
      assert.deepEqual(await engine.result(run.id, { timeoutMs: 5_000 }), ['A', 'B', 'C']);
      const steps = (await engine.history(run.id))
        .filter((e) => e.type === 'step_completed')
        .map((e) => [e.seq, e.name]);
      assert.deepEqual(steps.sort(), [
        [0, 'a'],
        [1, 'b'],
        [2, 'c'],
      ]);
    } finally {
      await engine.close();
    }
  });

  test('bad definitions and options fail at once', async () => {
    assert.throws(() => defineWorkflow({ name: 'bad name!', version: 1, run: async () => 1 }), WaymarkError);
    assert.throws(() => defineWorkflow({ name: 'x', version: 0, run: async () => 1 }), /positive integer/);
    assert.throws(
      () => defineWorkflow({ name: 'x', version: 1, run: 'nope' as never }),
      /run must be an async function/,
    );
    await rejectsWith(Engine.open({ store: 'sqlite::memory:', concurrency: 0 }), 'E_INVALID_INPUT');
    await rejectsWith(Engine.open({ store: 'mysql://x' }), 'E_INVALID_INPUT');
    const a = defineWorkflow({ name: 'x', version: 1, run: async () => 1 });
    const b = defineWorkflow({ name: 'x', version: 1, run: async () => 2 });
    await rejectsWith(Engine.open({ store: 'sqlite::memory:', workflows: [a, b] }), 'E_VERSION_CONFLICT');
  });
});
