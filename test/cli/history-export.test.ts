import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine, WaymarkError } from '../../src/index.js';
import { assertReplays, replayHistories, type ExportedHistory } from '../../src/testing/index.js';
import { orderV1, orderV2, orderV3 } from '../fixtures/versioned-workflows.js';
import { runUntil, tempDb } from '../helpers.js';
import { cli } from './cli-process.js';

test(
  'history export + waymark/testing: ' + 'committed real histories fail CI when new code no longer replays them',
  async () => {
    const db = tempDb();
    const worker = await Engine.open({ store: `sqlite:${db}`, workflows: [orderV1] });
    try {
      const run = await worker.start('versioned-order', { id: 'h-1' }, { id: 'h-1' });
      await runUntil(worker, run.id, (r) => r.status === 'waiting');
      const exported = await cli(['history', 'export', 'h-1', '--db', db]);
      assert.equal(exported.code, 0, exported.stderr);
      const history = JSON.parse(exported.stdout) as ExportedHistory;
      assert.deepEqual(
        [history.run.id, history.run.version, history.events.map((e) => e.type)],
        ['h-1', 1, ['run_started', 'step_completed', 'signal_waiting']],
      );

      await assertReplays(orderV1, [history]);
      await assertReplays(orderV2, [history]);
      await assert.rejects(
        assertReplays(orderV3, [history]),
        (e: unknown) =>
          e instanceof WaymarkError && e.code === 'E_NONDETERMINISM' && /h-1: v3 diverges/.test(e.message),
      );
      const [result] = await replayHistories(orderV2, [history]);
      assert.deepEqual(result!.verdict.ok && result!.verdict.oldBranches, ['early-check']);
      assert.equal((await cli(['history', 'export', 'nope', '--db', db])).code, 1);
    } finally {
      await worker.close();
    }
  },
);
