import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tempDb } from '../helpers.js';
import { cli, cliJson } from './cli-process.js';

test('demo starts the example runs, waits for them and prints their table and a history', async () => {
  const db = tempDb();
  const demo = await cli(['demo', '--db', db]);
  assert.equal(demo.code, 0, demo.stderr);
  assert.equal(demo.stderr, '');

  const rows = demo.stdout.split('\n').filter((line) => line.startsWith('demo-'));
  assert.equal(rows.length, 5, demo.stdout);
  assert.equal(rows.filter((line) => /\scompleted\s/.test(line)).length, 4, demo.stdout);
  assert.match(rows.find((line) => line.includes('-order-invalid'))!, /\sfailed\s.*invalid amount: 0/);
  assert.match(demo.stdout, /^RUN\s+WORKFLOW\s+VERSION\s+STATUS/m);
  // The history of the approved order: a failed then completed charge, a timer, the early signal.
  for (const event of ['step_failed', 'step_completed', 'timer_fired', 'signal_received', 'run_completed']) {
    assert.match(demo.stdout, new RegExp(`\\s${event}\\s`), `history shows ${event}`);
  }

  const runs = await cliJson<{ id: string; status: string; workflow: string }[]>(['runs', 'list', '--db', db]);
  assert.equal(runs.length, 5);
  assert.deepEqual(runs.map((r) => r.status).sort(), ['completed', 'completed', 'completed', 'completed', 'failed']);
  assert.deepEqual([...new Set(runs.map((r) => r.workflow))].sort(), ['onboarding', 'order', 'report']);

  const versions = await cliJson<
    { workflow: string; version: number; runs: Record<string, number>; inFlight: number; servedBy: string[] }[]
  >(['versions', '--db', db]);
  const order = versions.find((v) => v.workflow === 'order' && v.version === 2)!;
  assert.deepEqual(order.runs, { completed: 2, failed: 1 });
  assert.equal(order.inFlight, 0);
  assert.deepEqual(order.servedBy, [], 'the demo engine closed: no live worker remains');
  const text = await cli(['versions', '--db', db]);
  assert.match(
    text.stdout,
    /^order\s+v2\s+active\s+0\s+-\s+-\s+-\s+-\s+\(no live worker\)\s+0\s+-\s+completed 2, failed 1$/m,
  );
});
