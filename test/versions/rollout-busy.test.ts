import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRetryable } from '../../src/core/errors.js';
import { defineWorkflow, Engine } from '../../src/index.js';
import { claim, loadRollouts, saveOver } from '../../src/versions/rollout.js';
import { openStore } from '../../src/store/open.js';
import { forEachBackend, rejectsWith } from '../helpers.js';

const quick1 = defineWorkflow({ name: 'quick', version: 1, run: async () => 'v1' });
const quick2 = defineWorkflow({ name: 'quick', version: 2, run: async () => 'v2' });

forEachBackend((backend) => {
  test('a rollout another process holds refuses an operator with E_ROLLOUT_BUSY; asking again succeeds', async () => {
    const store = backend.store();
    const engine = await Engine.open({ store, workflows: [quick1, quick2], rolloutCheckMs: 0 });
    const other = await openStore(store); // another process's connection
    try {
      await engine.startRollout('quick', { from: 1, to: 2, percent: 10, step: 10, everyMs: 0 });
      const [started] = await loadRollouts(other);
      const held = await claim(other, started!, 'other-process');
      assert.ok(held, 'the other process holds the rollout');

      const refused = await rejectsWith(engine.changeRollout('quick', 'promote'), 'E_ROLLOUT_BUSY');
      assert.match(refused.message, /is being changed by other-process/);
      assert.equal(isRetryable(refused.code), true);
      assert.equal((await engine.rollouts())[0]!.status, 'running', 'nothing changed');

      await saveOver(other, held!, { ...held!, claim: undefined }); // the other process lets go
      const promoted = await engine.changeRollout('quick', 'promote');
      assert.deepEqual([promoted.status, promoted.percent], ['promoted', 100]);
    } finally {
      await other.close();
      await engine.close();
    }
  });
});
