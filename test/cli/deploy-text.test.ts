import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classText, inFlightLines } from '../../src/cli/commands/deploy.js';
import { Engine } from '../../src/index.js';
import { orderV1, workflows } from '../fixtures/versioned-workflows.js';
import { runUntil, tempDb } from '../helpers.js';

test("deploy check text: a version's own in-flight runs are counted under it, also with unchanged code", async () => {
  const db = tempDb();
  const worker = await Engine.open({ store: `sqlite:${db}`, workflows: [orderV1], pollIntervalMs: 20 });
  try {
    for (const id of ['d-1', 'd-2']) await worker.start('versioned-order', { id }, { id, version: 1 });
    for (const id of ['d-1', 'd-2']) await runUntil(worker, id, (r) => r.status === 'waiting');
    const report = await worker.deployCheck(workflows);
    const v1 = report.workflows.find((w) => w.candidate.version === 1)!;
    assert.equal(v1.candidate.registered, 'same');
    assert.deepEqual(inFlightLines(v1), ['  in flight on v1: 2 (same code: they go on as they are)']);
    const v2 = report.workflows.find((w) => w.candidate.version === 2)!;
    assert.equal(inFlightLines(v2)[0], '  in flight on v2: none');
    assert.match(inFlightLines(v2)[1]!, /in flight on any version, replayed against v2: compatible 2/);
  } finally {
    await worker.close();
  }
});

test('deploy check text: "breaking" caused only by completed runs says so; in-flight breakage says not safe', () => {
  const base = {
    workflow: 'w',
    candidate: { version: 2, fingerprint: 'f', registered: 'new' as const },
    classification: 'breaking' as const,
    reasons: [],
    sampled: [],
    counts: { compatible: 1, compatible_with_migration: 0, incompatible: 0, schema_mismatch: 0 },
    versionInFlight: 0,
  };
  const ok = { ok: true, frontier: 'end' } as never;
  const completedOnly = {
    ...base,
    safe: true,
    inFlight: [{ runId: 'r', version: 1, status: 'waiting', verdict: 'compatible', replay: ok }],
  };
  assert.match(classText(completedOnly as never), /^breaking for completed runs only .*no run in flight is at risk/);
  const broken = { ...base, safe: false, inFlight: [{ ...completedOnly.inFlight[0]!, verdict: 'incompatible' }] };
  assert.equal(classText(broken as never), 'breaking, not safe');
  assert.equal(classText({ ...completedOnly, classification: 'additive' } as never), 'additive');
});
