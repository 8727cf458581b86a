import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine, type EngineOptions } from '../../src/index.js';
import { forEachBackend, rejectsWith, runUntil } from '../helpers.js';
import {
  ADDITIVE_SQL,
  BREAKING_SQL,
  migrateAsNewer,
  NEWEST,
  newerFile,
  newerMigrations,
  query,
  schemaRows,
  schemaShape,
} from './upgrade-fixtures.js';

/**
 * Rolling upgrades of Waymark itself: a newer Waymark (this build's migrations plus the next one) migrates the store
 * while engines of this build share it. After an additive one they keep executing runs, with one warning;
 * after a breaking one an engine of this build refuses to open and changes nothing.
 */
const greet = defineWorkflow({
  name: 'greet',
  version: 1,
  async run(ctx, input: { name: string }) {
    const hello = await ctx.step('hello', async () => `hello ${input.name}`);
    const mark = await ctx.waitForSignal<string>('go');
    const loud = await ctx.step('shout', async () => `${hello.toUpperCase()}${mark}`);
    return { loud };
  },
});

const NOTES = newerFile(1, 'notes');
const CORRELATION_KEY = newerFile(2, 'correlation_key');

/** An engine of this build (its migrations end at NEWEST) whose warnings are collected in `warnings`. */
async function openEngine(store: string, warnings: string[], options: Partial<EngineOptions> = {}): Promise<Engine> {
  return Engine.open({
    store,
    workflows: [greet],
    pollIntervalMs: 20,
    logger: { warn: (_facts, message) => warnings.push(message) },
    ...options,
  });
}

/** Starts a run and waits until it waits for its signal, its first step checkpointed. */
async function startWaiting(engine: Engine, id: string): Promise<void> {
  await engine.start('greet', { name: id }, { id });
  await runUntil(engine, id, (r) => r.status === 'waiting');
}

/** Signals a waiting run and waits until it completes; asserts each step was checkpointed before it went on. */
async function finish(engine: Engine, id: string): Promise<void> {
  await engine.signal(id, 'go', '!');
  const run = await runUntil(engine, id, (r) => r.status === 'completed');
  assert.deepEqual(run.output, { loud: `HELLO ${id.toUpperCase()}!` });
  const events = (await engine.history(id)).map((e) => [e.type, e.seq, e.name]);
  assert.deepEqual(
    events.filter(([type]) => type === 'step_completed' || type === 'signal_received'),
    [
      ['step_completed', 0, 'hello'],
      ['signal_received', 1, 'go'],
      ['step_completed', 2, 'shout'],
    ],
  );
}

async function runToCompletion(engine: Engine, id: string): Promise<void> {
  await startWaiting(engine, id);
  await finish(engine, id);
}

/** A message as it reads on SQLite: on PostgreSQL it names the schema (`database schema 't_1_x' is ...`). */
const withoutSchemaName = (message: string) => message.replace(/^database schema '[a-z0-9_]+'/, 'database schema');

forEachBackend((backend) => {
  test('additive newer migration: running engines of this build go on, restarted ones warn once', async () => {
    const store = backend.store();
    const oldWarnings: string[] = [];
    const running = await openEngine(store, oldWarnings);
    try {
      await runToCompletion(running, 'before-upgrade');
      await startWaiting(running, 'across-upgrade');
      const folder = newerMigrations(backend.name, { [NOTES]: ADDITIVE_SQL });
      assert.deepEqual(await migrateAsNewer(store, folder), [], 'additive migrations need no warning');
      assert.deepEqual((await schemaRows(store)).at(-1), { version: NEWEST + 1, name: NOTES, kind: 'additive' });

      await finish(running, 'across-upgrade');
      await runToCompletion(running, 'during-upgrade');
      assert.deepEqual(oldWarnings, [], 'the running engine was not told anything');

      const warnings: string[] = [];
      const restarted = await openEngine(store, warnings, { workerId: 'old-release-restarted' });
      try {
        assert.deepEqual(warnings.map(withoutSchemaName), [
          `database schema is version ${NEWEST + 1} but this Waymark knows up to ${NEWEST}: the newer migration ` +
            `${NEWEST + 1} (${NOTES}) is additive, so it keeps working; upgrade it to finish the rollout`,
        ]);
        await runToCompletion(restarted, 'after-upgrade');
      } finally {
        await restarted.close();
      }
    } finally {
      await running.close();
    }
    assert.deepEqual(
      (await schemaRows(store)).map((r) => r.version),
      Array.from({ length: NEWEST + 1 }, (_, i) => i + 1),
      'the older engines applied nothing and removed nothing',
    );
    assert.deepEqual(await query(store, 'SELECT CAST(COUNT(*) AS integer) AS n FROM run_labels'), [{ n: 0 }]);
  });

  test('breaking newer migration: an engine of this build refuses to open naming it, changing nothing', async () => {
    const store = backend.store();
    await (await openEngine(store, [])).close();
    const folder = newerMigrations(backend.name, {
      [NOTES]: ADDITIVE_SQL,
      [CORRELATION_KEY]: BREAKING_SQL,
    });
    assert.deepEqual(
      (await migrateAsNewer(store, folder)).map((w) => w.message),
      [
        `applied breaking migration ${CORRELATION_KEY} (runs.correlation_id is renamed correlation_key) ` +
          `over schema version ${NEWEST}: processes of an older Waymark refuse to start against it, and any ` +
          'still running must be stopped',
      ],
      'the newer Waymark says what it did',
    );
    const rowsBefore = await schemaRows(store);
    const shapeBefore = await schemaShape(store);
    const versionsBefore = await query(store, 'SELECT * FROM workflow_versions');
    assert.deepEqual(
      rowsBefore.slice(-2).map((r) => [r.version, r.kind]),
      [
        [NEWEST + 1, 'additive'],
        [NEWEST + 2, 'breaking'],
      ],
    );

    const warnings: string[] = [];
    const error = await rejectsWith(openEngine(store, warnings, { workerId: 'old-release' }), 'E_SCHEMA_TOO_NEW');
    assert.equal(
      withoutSchemaName(error.message),
      `database schema is version ${NEWEST + 2} but this Waymark knows up to ${NEWEST}, and newer migration ` +
        `${NEWEST + 2} (${CORRELATION_KEY}) is breaking (runs.correlation_id is renamed correlation_key): ` +
        'this Waymark ' +
        'cannot run against it. Upgrade this process to the newer Waymark; a breaking migration needs every ' +
        'process of an older Waymark stopped (finish the rollout)',
    );
    assert.deepEqual((error.details as { breaking: unknown }).breaking, {
      version: NEWEST + 2,
      name: CORRELATION_KEY,
      kind: 'breaking',
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(await schemaRows(store), rowsBefore);
    assert.deepEqual(await schemaShape(store), shapeBefore);
    assert.deepEqual(await query(store, 'SELECT * FROM workflow_versions'), versionsBefore);
    assert.deepEqual(await query(store, 'SELECT worker_id FROM workers'), [], 'the refused engine never announced');
    assert.deepEqual(await migrateAsNewer(store, folder), [], 'the newer Waymark opens it as before');
  });
});
