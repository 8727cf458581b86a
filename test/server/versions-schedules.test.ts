/** /v1/versions names the schedules that start each version; a drain answer names the pinned ones still feeding it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { workflows } from '../fixtures/versioned-workflows.js';
import { tempDb } from '../helpers.js';
import { withApi } from './api.js';

const WORKFLOW = 'versioned-order';

test('GET /v1/versions names the schedules per version; a drain names the pinned ones still feeding it', async () => {
  await withApi(`sqlite:${tempDb()}`, { workflows, scheduleCheckMs: 0 }, async ({ call }) => {
    const create = async (body: Record<string, unknown>) => {
      const created = await call('POST', '/v1/schedules', { workflow: WORKFLOW, interval: '1h', ...body });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    };
    await create({ id: 'pinned', version: 2 });
    await create({ id: 'routed' });
    await create({ id: 'resting', version: 2, paused: true });
    const schedulesOf = async () => {
      const { versions } = (await call('GET', '/v1/versions')).body as {
        versions: { workflow: string; version: number; schedules: string[] }[];
      };
      return versions.filter((v) => v.workflow === WORKFLOW).map((v) => [v.version, v.schedules]);
    };
    assert.deepEqual(await schedulesOf(), [
      [1, []],
      [2, ['pinned']],
      [3, ['routed']],
    ]);

    const drained = await call('POST', `/v1/workflows/${WORKFLOW}/versions/2/drain`);
    assert.equal(drained.status, 200);
    assert.deepEqual(drained.body.schedules, ['pinned'], 'a paused schedule feeds nothing');
    assert.match(drained.body.warning, /pinned to versioned-order v2 still feed it: pinned; they keep starting runs/);
    const fired = await call('POST', '/v1/schedules/pinned/trigger', {});
    assert.equal(fired.body.decision, 'started');
    const run = await call('GET', `/v1/runs/${encodeURIComponent(fired.body.runId)}`);
    assert.deepEqual([run.status, run.body.version], [200, 2], 'the pinned schedule still starts its draining version');

    const routedDrain = await call('POST', `/v1/workflows/${WORKFLOW}/versions/3/drain`);
    assert.deepEqual([routedDrain.body.schedules, routedDrain.body.warning], [[], undefined]);
    assert.deepEqual(await schedulesOf(), [
      [1, ['routed']],
      [2, ['pinned']],
      [3, []],
    ]);
  });
});
