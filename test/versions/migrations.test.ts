import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineMigration, defineWorkflow, Engine, type HistoryEvent } from '../../src/index.js';
import { forEachBackend, rejectsWith, runUntil } from '../helpers.js';

const researchV1 = defineWorkflow({
  name: 'research',
  version: 1,
  async run(ctx, input: { topic: string }) {
    const fetched = await ctx.step('fetch', () => ({ raw_text: `notes on ${input.topic}` }));
    const summary = await ctx.step('summarize', () => `summary of ${fetched.raw_text}`);
    await ctx.waitForSignal('review');
    return ctx.step('publish', () => ({ summary, model: 'v1' }));
  },
});

let enrichCalls = 0;
const researchV2 = defineWorkflow({
  name: 'research',
  version: 2,
  async run(ctx, input: { topic: string; model: string }) {
    const fetched = await ctx.step('fetch', () => ({ raw_text: `notes on ${input.topic}` }));
    const enriched = await ctx.step('enrich', () => {
      enrichCalls++;
      return { enriched_text: `${fetched.raw_text} (enriched)`, sources: ['kb'] };
    });
    const summary = await ctx.step('summarize', () => `summary of ${enriched.enriched_text}`);
    await ctx.waitForSignal('review');
    return ctx.step('publish', () => ({ summary, model: input.model, sources: enriched.sources }));
  },
});

const addEnrich = defineMigration({
  workflow: 'research',
  from: 1,
  to: 2,
  steps: {
    insert: [
      { after: 'fetch', name: 'enrich', output: (h) => ({ enriched_text: h.output('fetch').raw_text, sources: [] }) },
    ],
  },
  input: (i) => ({ ...i, model: i.model ?? 'default' }),
  validate: (h) => h.output('enrich').enriched_text !== undefined,
});

async function parkedV1(engine: Engine, id: string) {
  const run = await engine.start('research', { topic: 'tides' }, { id, version: 1 });
  await runUntil(engine, run.id, (r) => r.status === 'waiting');
  return run;
}

forEachBackend((backend) => {
  test(
    'a typed migration: dry run, apply (new epoch, ' + 'previous kept), rollback, and the migrated run finishing on v2',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [researchV1, researchV2] });
      try {
        const run = await parkedV1(engine, 'r-1');
        const before = await engine.history(run.id);

        const dry = await engine.upgrade(run.id, { to: 2, migration: addEnrich, dryRun: true });
        assert.deepEqual([dry.applied, dry.verdict.ok], [false, true]);
        assert.deepEqual(
          dry.history.filter((e) => e.type === 'step_completed').map((e) => [e.seq, e.name]),
          [
            [0, 'fetch'],
            [1, 'enrich'],
            [2, 'summarize'],
          ],
        );
        assert.deepEqual(await engine.history(run.id), before, 'a dry run writes nothing');

        const applied = await engine.upgrade(run.id, {
          to: 2,
          migration: addEnrich,
          actor: 'ml-ops',
          reason: 'new pipeline',
        });
        assert.deepEqual(
          [applied.applied, applied.run.version, applied.run.epoch, applied.run.input],
          [true, 2, 1, { topic: 'tides', model: 'default' }],
        );
        const all = await engine.history(run.id);
        assert.deepEqual(all.slice(0, before.length), before, 'the previous epoch is kept as it was');
        const marker = all.find((e) => e.type === 'run_migrated');
        assert.deepEqual(marker?.data, {
          from: 1,
          to: 2,
          actor: 'ml-ops',
          reason: 'new pipeline',
          migration: 'research v1->v2',
          fromEpoch: 0,
          fromWaitSeq: 2,
        });
        const waitingAt = (history: HistoryEvent[], epoch: number) =>
          history.find((e) => (e.epoch ?? 0) === epoch && e.type === 'signal_waiting')?.seq;
        assert.equal(
          (await engine.getRun(run.id)).waitingFor?.seq,
          waitingAt(all, 1),
          'the run shows its wait at its seq in the new epoch',
        );

        const back = await engine.rollbackMigration(run.id, { actor: 'ml-ops', reason: 'not yet' });
        assert.deepEqual([back.version, back.epoch, back.input], [1, 0, { topic: 'tides' }]);
        assert.equal(back.waitingFor?.seq, waitingAt(all, 0), 'and at its old seq once rolled back');
        await engine.upgrade(run.id, { to: 2, migration: addEnrich });
        await engine.signal(run.id, 'review');
        const output = await engine.result(run.id, { timeoutMs: 5_000 });
        assert.deepEqual(output, { summary: 'summary of notes on tides', model: 'default', sources: [] });
        assert.equal(enrichCalls, 0, 'the inserted step was not executed: its migrated output was used');
        const rolledLate = await rejectsWith(engine.rollbackMigration(run.id), 'E_RUN_STATE');
        assert.match(rolledLate.message, /completed/);
      } finally {
        await engine.close();
      }
    },
  );

  test('a migration whose validate fails, or that does not fit, is refused and leaves the run untouched', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [researchV1, researchV2] });
    try {
      const run = await parkedV1(engine, 'r-2');
      const before = await engine.history(run.id);
      const strict = defineMigration({ ...addEnrich, name: 'strict', validate: () => false });
      const refused = await rejectsWith(engine.upgrade(run.id, { to: 2, migration: strict }), 'E_MIGRATION_REFUSED');
      assert.match(refused.message, /validate returned false/);
      const noEnrich = defineMigration({ workflow: 'research', from: 1, to: 2, name: 'missing-step' });
      const diverges = await rejectsWith(engine.upgrade(run.id, { to: 2, migration: noEnrich }), 'E_NONDETERMINISM');
      assert.match(diverges.message, /history has step 'summarize' at seq 1 but the code asked for step 'enrich'/);
      const throwing = defineMigration({
        ...addEnrich,
        name: 'throws',
        input: () => {
          throw new Error('no model');
        },
      });
      await rejectsWith(engine.upgrade(run.id, { to: 2, migration: throwing }), 'E_MIGRATION_REFUSED');
      const after = await engine.getRun(run.id);
      assert.deepEqual([after.version, after.epoch, after.status], [1, 0, 'waiting']);
      assert.deepEqual(await engine.history(run.id), before);
      await rejectsWith(engine.rollbackMigration(run.id), 'E_RUN_STATE');
    } finally {
      await engine.close();
    }
  });

  test('migrateAll migrates in-flight runs one by one, reports refusals, and is safe to run again', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [researchV1, researchV2] });
    try {
      for (let i = 0; i < 4; i++) await parkedV1(engine, `batch-${i}`);
      const half = await engine.migrateAll({ migration: addEnrich, percent: 50 });
      assert.equal(half.migrated.length, 2);
      const rest = await engine.migrateAll({ migration: addEnrich });
      assert.deepEqual([rest.migrated.length, rest.refused.length, rest.failed.length], [2, 0, 0]);
      assert.deepEqual(
        new Set([...half.migrated, ...rest.migrated]),
        new Set(['batch-0', 'batch-1', 'batch-2', 'batch-3']),
      );
      const again = await engine.migrateAll({ migration: addEnrich });
      assert.deepEqual(again, { migrated: [], refused: [], failed: [], warnings: [] });
      const summary = (await engine.versions())
        .filter((v) => v.workflow === 'research')
        .map((v) => [v.version, v.inFlight]);
      assert.deepEqual(summary, [
        [1, 0],
        [2, 4],
      ]);
    } finally {
      await engine.close();
    }
  });
});
