import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine, type EngineOptions } from '../../src/index.js';
import { openEngineOnStore } from '../../src/engine.js';
import { openStore } from '../../src/store/open.js';
import { forEachBackend, rejectsWith } from '../helpers.js';

const once = defineWorkflow({
  name: 'once',
  version: 1,
  async run(ctx) {
    return ctx.step('only', async () => 'done');
  },
});

forEachBackend((backend) => {
  test('Engine.open takes a store location only: an opened store object is E_INVALID_INPUT', async () => {
    const store = await openStore(backend.store());
    try {
      const error = await rejectsWith(
        Engine.open({ store: store as unknown as EngineOptions['store'], workflows: [once] }),
        'E_INVALID_INPUT',
      );
      assert.match(error.message, /store must be a location string, got object/);
      assert.deepEqual(await store.listWorkflowVersions(), [], 'nothing was registered');
    } finally {
      await store.close();
    }
  });

  test('an engine on a store the caller opened executes runs and leaves that store open when it closes', async () => {
    const store = await openStore(backend.store());
    try {
      const engine = await openEngineOnStore(store, { workflows: [once], pollIntervalMs: 50 });
      const run = await engine.start('once', null);
      assert.equal(await engine.result(run.id, { timeoutMs: 10_000 }), 'done');
      await engine.close();
      assert.equal((await store.getRun(run.id))?.status, 'completed', 'the store is still open after the engine');
    } finally {
      await store.close();
    }
  });
});
