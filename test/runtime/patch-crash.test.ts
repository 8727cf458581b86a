import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../src/index.js';
import { forEachBackend, tempDir } from '../helpers.js';
import { killHard, startFixture, stopGracefully } from '../processes.js';

forEachBackend((backend) => {
  test('patched() across SIGKILLs: each run keeps the branch its history recorded, and no step runs twice', {
    timeout: 60_000,
  }, async () => {
    const store = backend.store();
    const ledger = join(tempDir(), 'ledger.txt');
    const common = { STORE: store, LEDGER: ledger };

    // An old run parks on code without the gate; the process dies.
    const old = startFixture('patch-worker.ts', { ...common, PATCHED: '0', START: 'old', WORKER_ID: 'w-old' });
    assert.equal((await old.next('parked')).runId, 'old');
    await killHard(old);

    // The patched code is deployed; a new run takes the gate; that process dies too.
    const patched = startFixture('patch-worker.ts', { ...common, PATCHED: '1', START: 'new', WORKER_ID: 'w-new' });
    assert.equal((await patched.next('parked')).runId, 'new');
    await killHard(patched);

    // A fresh process with the patched code finishes both runs after their approvals.
    const survivor = startFixture('patch-worker.ts', { ...common, PATCHED: '1', WORKER_ID: 'w-new' });
    await survivor.next('ready');
    const client = await Engine.open({ store, worker: false });
    try {
      for (const id of ['old', 'new']) await client.signal(id, 'approve');
      assert.equal(await client.result('old', { timeoutMs: 15_000 }), 'paid');
      assert.equal(await client.result('new', { timeoutMs: 15_000 }), 'paid');
      const lines = readFileSync(ledger, 'utf8').trim().split('\n').sort();
      assert.deepEqual(
        lines,
        ['pay new', 'pay old', 'prepare new', 'prepare old', 'risk-check new'].sort(),
        'old history kept the old branch; nothing ran twice',
      );
      const marker = (await client.history('new')).filter((e) => e.type === 'patch_marker');
      assert.equal(marker.length, 1);
      assert.equal(
        (await client.history('old')).some((e) => e.type === 'patch_marker'),
        false,
      );
    } finally {
      await client.close();
      assert.equal(await stopGracefully(survivor), 0);
    }
  });
});
