import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runUntil, tempDb } from '../helpers.js';
import { type Api, withApi } from './api.js';
import { workflows } from './fixtures/server-workflows.js';

/** The bulk job's state once it is finished (looked at every 20 ms: it runs in the server, with no event to await). */
async function finished(call: Api['call'], id: string): Promise<any> {
  for (let i = 0; i < 500; i++) {
    const job = await call('GET', `/v1/runs/bulk/${id}`);
    assert.equal(job.status, 200, JSON.stringify(job.body));
    if (job.body.state === 'finished') return job.body;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`bulk job ${id} did not finish`);
}

test('bulk cancel: a dry run counts and samples, changing nothing; the job cancels with actor and reason', async () => {
  await withApi(`sqlite:${tempDb()}`, { workflows }, async ({ engine, call }) => {
    for (const id of ['h1', 'h2', 'h3']) {
      await engine.start('hold', { label: id }, { id });
      await runUntil(engine, id, (r) => r.status === 'waiting');
    }
    await engine.start('fragile', undefined, { id: 'p1' });
    await runUntil(engine, 'p1', (r) => r.status === 'needs_attention');
    await engine.start('hold', { label: 'done' }, { id: 'h-done' });
    await runUntil(engine, 'h-done', (r) => r.status === 'waiting');
    await engine.signal('h-done', 'go');
    await runUntil(engine, 'h-done', (r) => r.status === 'completed');

    const preview = await call('POST', '/v1/runs/bulk', {
      filter: { workflow: 'hold', status: 'waiting' },
      action: 'cancel',
      dryRun: true,
      reason: 'cleanup',
    });
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    assert.equal(preview.body.matched, 3);
    assert.deepEqual(preview.body.sample.map((r: { id: string }) => r.id).sort(), ['h1', 'h2', 'h3']);
    assert.equal((await engine.getRun('h1')).status, 'waiting', 'a dry run changes nothing');

    const started = await call('POST', '/v1/runs/bulk', {
      filter: { workflow: 'hold' },
      action: 'cancel',
      actor: 'ops',
      reason: 'cleanup after the incident',
    });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.deepEqual(
      { ...started.body, id: typeof started.body.id },
      { id: 'string', action: 'cancel', total: 4, done: 0, failed: 0, skipped: 0, state: 'running' },
    );
    const job = await finished(call, started.body.id);
    assert.deepEqual(
      [job.total, job.done, job.failed, job.skipped, job.errors],
      [4, 3, 0, 1, []],
      'the completed run is skipped',
    );
    assert.ok(Date.parse(job.finishedAt) >= Date.parse(job.startedAt));
    for (const id of ['h1', 'h2', 'h3']) {
      const run = await runUntil(engine, id, (r) => r.status === 'cancelled');
      assert.equal(run.status, 'cancelled');
      const action = (await engine.history(id)).find((e) => e.type === 'operator_action');
      assert.ok(action, `${id} records the action`);
      assert.deepEqual(
        [action.data?.action, action.data?.actor, action.data?.reason],
        ['cancel', 'ops', 'cleanup after the incident'],
      );
    }
    assert.equal((await engine.getRun('p1')).status, 'needs_attention', 'another workflow is untouched');
    const listed = await call('GET', '/v1/runs/bulk');
    assert.deepEqual(
      listed.body.jobs.map((j: { id: string }) => j.id),
      [started.body.id],
    );
  });
});

test('bulk retry-step goes to the runs needing attention; bad requests are 400s, unknown jobs 404', async () => {
  await withApi(`sqlite:${tempDb()}`, { workflows }, async ({ engine, call }) => {
    await engine.start('fragile', undefined, { id: 'p1' });
    await runUntil(engine, 'p1', (r) => r.status === 'needs_attention');
    await engine.start('hold', { label: 'x' }, { id: 'h1' });
    await runUntil(engine, 'h1', (r) => r.status === 'waiting');
    const started = await call('POST', '/v1/runs/bulk', {
      filter: { attention: true },
      action: 'retry-step',
      reason: 'the service is back',
    });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const job = await finished(call, started.body.id);
    assert.deepEqual([job.total, job.done, job.failed, job.skipped], [1, 1, 0, 0]);
    const retried = (await engine.history('p1')).find((e) => e.type === 'operator_action');
    assert.deepEqual([retried?.data?.action, retried?.data?.reason], ['retry_step', 'the service is back']);

    const bad = [
      { filter: {}, action: 'upgrade', reason: 'x' },
      { filter: {}, action: 'cancel', to: 2, reason: 'x' },
      { filter: {}, action: 'delete', reason: 'x' },
      { filter: { startedAfter: 'yesterday' }, action: 'cancel', reason: 'x' },
      { filter: {}, action: 'cancel' },
    ];
    for (const body of bad) {
      const answer = await call('POST', '/v1/runs/bulk', body);
      assert.equal(answer.status, 400, JSON.stringify([body, answer.body]));
    }
    assert.equal((await engine.getRun('h1')).status, 'waiting', 'refused requests change nothing');
    const unknown = await call('GET', '/v1/runs/bulk/nope');
    assert.deepEqual([unknown.status, unknown.body.code], [404, 'E_JOB_NOT_FOUND']);
  });
});
