import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine } from '../../src/index.js';
import { heldThenStep } from '../fixtures/hold-workflows.js';
import { forEachBackend } from '../helpers.js';
import { killHard, startFixture } from '../processes.js';

forEachBackend((backend) => {
  test(
    'a run resumed in memory from a held task wait, ' +
      'whose worker then dies, is claimed again once its lease expires',
    async () => {
      const store = backend.store();
      const runId = 'held-crash';
      const worker = startFixture('hold-worker.ts', { STORE: store, RUN_ID: runId, HOLD_HANG: '1' });
      await worker.next('in-step'); // the report was handed over in memory and the run went on to its step
      await killHard(worker);
      const engine = await Engine.open({
        store,
        workflows: [heldThenStep],
        workerId: 'hold-recovery',
        pollIntervalMs: 100,
        rolloutCheckMs: 0,
      });
      try {
        assert.deepEqual(await engine.result(runId, { timeoutMs: 15_000 }), { reported: 7, stepped: 'stepped' });
      } finally {
        await engine.close();
      }
    },
  );
});
