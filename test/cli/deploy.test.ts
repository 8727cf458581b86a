import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine, type DeployCheckReport } from '../../src/index.js';
import { orderV1 } from '../fixtures/versioned-workflows.js';
import { runUntil, tempDb } from '../helpers.js';
import { cli } from './cli-process.js';

test('deploy check exits 0 for a candidate every in-flight run replays, 1 for one that breaks them, and registers nothing', async () => {
  const db = tempDb();
  const worker = await Engine.open({ store: `sqlite:${db}`, workflows: [orderV1] });
  try {
    const run = await worker.start('versioned-order', { id: 'o-1' }, { id: 'o-1' });
    await runUntil(worker, run.id, (r) => r.status === 'waiting');

    const safe = await cli(['deploy', 'check', '--workflows', 'test/fixtures/deploy-candidates.ts', '--db', db]);
    assert.equal(safe.code, 0, safe.stderr);
    assert.match(safe.stdout, /^versioned-order v2 \(new version\): additive$/m);
    assert.match(safe.stdout, /keeps the old branch of patch gate\(s\) early-check/);
    assert.match(safe.stdout, /^SAFE: every in-flight run replays the candidate code/m);

    const breaking = await cli(['deploy', 'check', '--workflows', 'test/fixtures/versioned-workflows.ts', '--workflow', 'versioned-order', '--db', db, '--json']);
    assert.equal(breaking.code, 1, breaking.stderr);
    const report = JSON.parse(breaking.stdout) as DeployCheckReport;
    const byVersion = Object.fromEntries(report.workflows.map((w) => [w.candidate.version, [w.classification, w.inFlight.map((r) => r.verdict)]]));
    assert.deepEqual(byVersion, { 1: ['unchanged', []], 2: ['additive', ['compatible']], 3: ['breaking', ['incompatible']] });

    const versions = (await worker.versions()).filter((v) => v.workflow === 'versioned-order').map((v) => v.version);
    assert.deepEqual(versions, [1], 'a check registers no candidate version');
    const bad = await cli(['deploy', 'check', '--workflows', 'test/fixtures/deploy-candidates.ts', '--sample-completed', 'x', '--db', db]);
    assert.equal(bad.code, 2);
  } finally {
    await worker.close();
  }
});
