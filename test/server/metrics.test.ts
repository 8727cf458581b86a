/**
 * GET /metrics after real runs, on every store: counters by workflow, version and trigger, and gauges that are the
 * exact numbers `engine.versions()` gives (read from the store when scraped).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, type Run } from '../../src/index.js';
import { forEachBackend, runUntil } from '../helpers.js';
import { samples, sampleValue } from '../metrics-text.js';
import { withApi } from './api.js';
import { fragile, hold } from './fixtures/server-workflows.js';

const greetV1 = defineWorkflow({
  name: 'greet',
  version: 1,
  async run(ctx, input: { name: string }) {
    return ctx.step('hello', () => `hello ${input.name}`);
  },
});

const greetV2 = defineWorkflow({
  name: 'greet',
  version: 2,
  async run(ctx, input: { name: string }) {
    const hello = await ctx.step('hello', () => `hello ${input.name}`);
    return ctx.step('bye', () => `${hello}, bye`);
  },
});

const remote = defineWorkflow({
  name: 'remote',
  version: 1,
  async run(ctx) {
    return ctx.task('pay', { amount: 3 });
  },
});

const workflows = [greetV1, greetV2, hold, fragile, remote];

forEachBackend((backend) => {
  test('GET /metrics counts runs and steps per version, and its gauges match engine.versions()', async () => {
    await withApi(backend.store(), { workflows, taskHoldMs: 0 }, async ({ engine, app, call }) => {
      const start = async (workflow: string, input: unknown, version?: number): Promise<Run> => {
        const answer = await call('POST', '/v1/runs', { workflow, input, ...(version ? { version } : {}) });
        assert.equal(answer.status, 201, JSON.stringify(answer.body));
        return answer.body;
      };
      const done = await Promise.all([
        start('greet', { name: 'a' }, 1),
        start('greet', { name: 'b' }, 1),
        start('greet', { name: 'c' }, 2),
      ]);
      for (const run of done) await engine.result(run.id, { timeoutMs: 10_000 });
      const waiting = [await start('hold', { label: 'x' }), await start('hold', { label: 'y' })];
      const parked = await start('fragile', {});
      const paying = await start('remote', {});
      for (const run of [...waiting, paying]) await runUntil(engine, run.id, (r) => r.status === 'waiting');
      await runUntil(engine, parked.id, (r) => r.status === 'needs_attention');
      assert.equal((await call('GET', '/api/tasks/poll/nothing?workerid=w')).status, 204, 'an empty poll');

      const answer = await app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(answer.statusCode, 200);
      assert.match(String(answer.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      const text = answer.body;
      assert.match(text, /^# HELP waymark_/m);
      const all = samples(text);
      const started = (workflow: string, version: string) =>
        sampleValue(all, 'waymark_runs_started_total', { workflow, version, trigger: 'http' });
      assert.deepEqual([started('greet', '1'), started('greet', '2'), started('hold', '1')], [2, 1, 2]);
      const finished = (workflow: string, version: string, outcome: string) =>
        sampleValue(all, 'waymark_runs_finished_total', { workflow, version, outcome });
      assert.equal(finished('greet', '1', 'completed'), 2);
      assert.equal(finished('greet', '2', 'completed'), 1);
      assert.equal(finished('fragile', '1', 'parked'), 1);
      assert.equal(
        sampleValue(all, 'waymark_run_duration_seconds_count', {
          workflow: 'greet',
          version: '1',
          outcome: 'completed',
        }),
        2,
      );
      const attempts = (version: string, step: string, outcome: string) =>
        sampleValue(all, 'waymark_step_attempts_total', { workflow: 'greet', version, step, outcome });
      assert.deepEqual([attempts('1', 'hello', 'completed'), attempts('2', 'bye', 'completed')], [2, 1]);
      assert.equal(
        sampleValue(all, 'waymark_step_attempts_total', { workflow: 'fragile', step: 'flaky', outcome: 'failed' }),
        1,
      );
      assert.ok((sampleValue(all, 'waymark_store_commit_batch_size_sum', { store: backend.name }) ?? 0) >= 6);
      assert.equal(sampleValue(all, 'waymark_task_poll_total', { task_type: 'nothing', result: 'empty' }), 1);
      assert.equal(sampleValue(all, 'waymark_task_queue_depth', { task_type: 'pay' }), 1);
      assert.ok((sampleValue(all, 'waymark_task_queue_oldest_seconds', { task_type: 'pay' }) ?? -1) >= 0);
      assert.equal(sampleValue(all, 'waymark_store_up'), 1);

      const versions = await engine.versions();
      assert.equal(versions.length, 5);
      for (const v of versions) {
        const labels = { workflow: v.workflow, version: String(v.version) };
        for (const status of ['running', 'waiting', 'compensating', 'needs_attention', 'paused'] as const)
          assert.equal(
            sampleValue(all, 'waymark_runs_in_flight', { ...labels, status }),
            v.runs[status] ?? 0,
            `${v.workflow} v${v.version} ${status}`,
          );
        assert.equal(sampleValue(all, 'waymark_version_info', { ...labels, status: v.status }), 1);
        assert.equal(sampleValue(all, 'waymark_runs_stranded', labels), v.stranded);
        assert.equal(sampleValue(all, 'waymark_version_workers', labels), v.servedBy.length);
      }
      assert.equal(sampleValue(all, 'waymark_runs_in_flight', { workflow: 'hold', status: 'waiting' }), 2);
      assert.equal(sampleValue(all, 'waymark_runs_in_flight', { workflow: 'fragile', status: 'needs_attention' }), 1);
      assert.ok(!all.some((s) => 'run' in s.labels || 'run_id' in s.labels), 'no label is per run');

      const polled = await call('GET', '/api/tasks/poll/pay?workerid=w');
      assert.equal(polled.status, 200);
      const after = samples(await engine.metrics.text());
      assert.equal(sampleValue(after, 'waymark_task_poll_total', { task_type: 'pay', result: 'tasks' }), 1);
      assert.equal(sampleValue(after, 'waymark_task_schedule_to_start_seconds_count', { task_type: 'pay' }), 1);
    });
  });
});
