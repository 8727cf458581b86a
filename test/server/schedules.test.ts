/** /v1/schedules and Conductor's scheduler API over the same schedules, on a real SQLite store. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow } from '../../src/index.js';
import { tempDb } from '../helpers.js';
import { withApi } from './api.js';

const nightly = defineWorkflow({
  name: 'nightly',
  version: 1,
  async run(_ctx, input: { region: string }) {
    return { done: input.region };
  },
});
const T0 = Date.parse('2030-01-01T00:00:00Z');

test('/v1/schedules: create, read, change, pause, trigger, backfill, preview, delete; bad input is a 400', async () => {
  await withApi(`sqlite:${tempDb()}`, { workflows: [nightly] }, async ({ call }) => {
    const spec = { id: 'nightly', workflow: 'nightly', cron: '0 2 * * *', timezone: 'Europe/Berlin', input: {} };
    const created = await call('POST', '/v1/schedules', { ...spec, paused: true, input: { region: 'eu' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual([created.body.overlap, created.body.paused], ['skip', true]);
    assert.equal((await call('POST', '/v1/schedules', spec)).status, 409, 'id taken');
    assert.equal((await call('POST', '/v1/schedules', { ...spec, id: 'x', cron: '0 2 * *' })).status, 400);
    assert.equal((await call('POST', '/v1/schedules', { ...spec, id: 'x', overlap: 'never' })).status, 400);
    assert.equal((await call('POST', '/v1/schedules', { ...spec, id: 'x', workflow: 'nope' })).status, 404);
    assert.equal((await call('GET', '/v1/schedules/none')).status, 404);
    assert.deepEqual(
      (await call('GET', '/v1/schedules')).body.schedules.map((s: { id: string }) => s.id),
      ['nightly'],
    );
    const changed = await call('PATCH', '/v1/schedules/nightly', { overlap: 'buffer_one' });
    assert.equal(changed.body.overlap, 'buffer_one');
    const preview = await call('GET', '/v1/schedules/nightly/preview?count=2');
    assert.equal(preview.body.firings.length, 2);
    assert.match(new Date(preview.body.firings[0].slotAt).toISOString(), /T0[01]:00:00.000Z$/, '02:00 in Berlin');
    const triggered = await call('POST', '/v1/schedules/nightly/trigger', {});
    assert.equal(triggered.body.decision, 'started');
    const backfill = await call('POST', '/v1/schedules/nightly/backfill', {
      from: new Date(T0).toISOString(),
      to: T0 + 2 * 86_400_000,
      overlap: 'allow_all',
    });
    assert.deepEqual(
      backfill.body.slots.map((s: { decision: string }) => s.decision),
      ['started', 'started'],
    );
    const again = await call('POST', '/v1/schedules/nightly/backfill', { from: T0, to: T0 + 2 * 86_400_000 });
    assert.deepEqual(
      again.body.slots.map((s: { decision: string }) => s.decision),
      ['taken', 'taken'],
    );
    const resumed = await call('POST', '/v1/schedules/nightly/resume', { note: 'go' });
    assert.deepEqual([resumed.body.paused, resumed.body.note], [false, 'go']);
    const read = await call('GET', '/v1/schedules/nightly');
    assert.equal(read.body.slots.length, 3);
    assert.equal((await call('DELETE', '/v1/schedules/nightly')).status, 204);
    assert.equal((await call('DELETE', '/v1/schedules/nightly')).status, 404);
  });
});

test("Conductor's scheduler API: 6-field cron, save, get, list, pause/resume, next few, executions", async () => {
  await withApi(`sqlite:${tempDb()}`, { workflows: [nightly] }, async ({ call }) => {
    const schedule = {
      name: 'nightly_eu',
      cronExpression: '0 0 2 * * ?',
      zoneId: 'Europe/Berlin',
      paused: true,
      startWorkflowRequest: { name: 'nightly', version: 1, input: { region: 'eu' } },
    };
    assert.equal((await call('POST', '/api/scheduler/schedules', schedule)).status, 200);
    const got = await call('GET', '/api/scheduler/schedules/nightly_eu');
    assert.deepEqual(
      [got.body.name, got.body.cronExpression, got.body.zoneId, got.body.paused, got.body.startWorkflowRequest.version],
      ['nightly_eu', '0 0 2 * * *', 'Europe/Berlin', true, 1],
    );
    await call('POST', '/api/scheduler/schedules', { ...schedule, zoneId: 'UTC' });
    assert.equal((await call('GET', '/api/scheduler/schedules')).body[0].zoneId, 'UTC', 'saved again: replaced');
    assert.equal((await call('GET', '/api/scheduler/schedules/nightly_eu/resume')).status, 200);
    assert.equal((await call('GET', '/api/scheduler/schedules/nightly_eu')).body.paused, false);
    assert.equal((await call('GET', '/api/scheduler/schedules/nightly_eu/pause?reason=freeze')).status, 200);
    assert.equal((await call('GET', '/api/scheduler/schedules/nightly_eu')).body.pausedReason, 'freeze');
    const next = await call(
      'GET',
      `/api/scheduler/nextFewSchedules?cronExpression=0%200%202%20*%20*%20?&scheduleStartTime=${T0}&limit=3`,
    );
    assert.deepEqual(next.body, [T0 + 7_200_000, T0 + 7_200_000 + 86_400_000, T0 + 7_200_000 + 2 * 86_400_000]);
    assert.equal((await call('GET', '/api/scheduler/nextFewSchedules?cronExpression=0%202%20*%20*%20*')).status, 400);
    const executions = await call('GET', '/api/scheduler/search/executions');
    assert.deepEqual(executions.body, { totalHits: 0, results: [] });
    assert.equal((await call('POST', '/api/scheduler/schedules', { ...schedule, name: undefined })).status, 400);
    assert.equal((await call('GET', '/api/scheduler/schedules/none')).status, 404);
    assert.equal((await call('DELETE', '/api/scheduler/schedules/nightly_eu')).status, 200);
    assert.deepEqual((await call('GET', '/api/scheduler/schedules')).body, []);
  });
});
