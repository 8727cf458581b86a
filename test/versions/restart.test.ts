import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine } from '../../src/index.js';
import { forEachBackend, rejectsWith, runUntil } from '../helpers.js';

const executed: string[] = [];
const pipeline = (version: number) =>
  defineWorkflow({
    name: 'pipeline',
    version,
    async run(ctx, input: { source: string }) {
      const raw = await ctx.step('extract', () => {
        executed.push(`v${version} extract`);
        return `rows from ${input.source}`;
      });
      const clean = await ctx.step('transform', () => {
        executed.push(`v${version} transform`);
        return raw.toUpperCase();
      });
      await ctx.waitForSignal('go', { timeoutMs: input.source === 'wait' ? 60_000 : 0 });
      return { version, clean };
    },
  });

forEachBackend((backend) => {
  test(
    'restart runs a finished run again with the same id on ' +
      'the same or the latest version, keeping the earlier history',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [pipeline(1), pipeline(2)] });
      try {
        const run = await engine.start('pipeline', { source: 'crm' }, { id: 'p-1', version: 1 });
        await engine.result(run.id, { timeoutMs: 5_000 });
        const first = await engine.history(run.id);
        executed.length = 0;
        const again = await engine.restart(run.id, { reason: 'upstream fixed' });
        assert.deepEqual(
          [again.id, again.version, again.status, again.epoch, again.output],
          ['p-1', 1, 'running', 1, undefined],
        );
        assert.deepEqual(await engine.result(run.id, { timeoutMs: 5_000 }), { version: 1, clean: 'ROWS FROM CRM' });
        assert.deepEqual(executed, ['v1 extract', 'v1 transform'], 'everything ran again');
        assert.deepEqual((await engine.history(run.id)).slice(0, first.length), first, 'the earlier attempt is kept');

        const latest = await engine.restart(run.id, { version: 'latest' });
        assert.equal(latest.version, 2);
        assert.deepEqual(await engine.result(run.id, { timeoutMs: 5_000 }), { version: 2, clean: 'ROWS FROM CRM' });
        await rejectsWith(engine.restart(run.id, { version: 7 }), 'E_UNKNOWN_VERSION');
      } finally {
        await engine.close();
      }
    },
  );

  test(
    'rerunFrom re-executes from a step and keeps the checkpoints before it; ' +
      'unfinished runs and unknown steps are refused',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [pipeline(1)] });
      try {
        const run = await engine.start('pipeline', { source: 'erp' }, { id: 'p-2' });
        await engine.result(run.id, { timeoutMs: 5_000 });
        executed.length = 0;
        await engine.rerunFrom(run.id, 'transform', { reason: 'bad transform' });
        assert.deepEqual(await engine.result(run.id, { timeoutMs: 5_000 }), { version: 1, clean: 'ROWS FROM ERP' });
        assert.deepEqual(executed, ['v1 transform'], 'extract was kept, not re-executed');
        await rejectsWith(engine.rerunFrom(run.id, 'load'), 'E_INVALID_INPUT');

        const waiting = await engine.start('pipeline', { source: 'wait' });
        await runUntil(engine, waiting.id, (r) => r.status === 'waiting');
        const refused = await rejectsWith(engine.restart(waiting.id), 'E_RUN_STATE');
        assert.match(refused.message, /only finished runs run again/);
        await rejectsWith(engine.rerunFrom(waiting.id, 'transform'), 'E_RUN_STATE');
      } finally {
        await engine.close();
      }
    },
  );
});
