/** Conductor's event handler API (/api/event) over a real store: CRUD, bad input as 400, and handleIncomingEvent. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { defineWorkflow, type Json } from '../../src/index.js';
import { forEachBackend, runUntil } from '../helpers.js';
import { withConductor } from './fixtures/conductor-client.js';

const echo = defineWorkflow({
  name: 'echo',
  version: 1,
  run: async (ctx, input: Json) => ctx.step('echo', () => input),
});

const handler = (name: string, event: string, extra: Record<string, unknown> = {}) => ({
  name,
  event,
  actions: [
    {
      action: 'start_workflow',
      start_workflow: { name: 'echo', input: { order: '${order.id}' }, correlationId: '${order.id}' },
    },
  ],
  active: true,
  ...extra,
});

forEachBackend((backend) => {
  test('event handlers: create, list, by event (activeOnly), update, delete; bad input is a 400', async () => {
    const suffix = randomUUID().slice(0, 8);
    const event = `conductor:orders-${suffix}`;
    await withConductor(backend.store(), { workflows: [echo] }, async ({ call }) => {
      assert.equal((await call('POST', '/api/event', handler(`a-${suffix}`, event))).status, 200);
      const inactive = handler(`b-${suffix}`, event, { active: false, condition: '$.order.id > 1' });
      assert.equal((await call('POST', '/api/event', inactive)).status, 200);
      const taken = await call('POST', '/api/event', handler(`a-${suffix}`, event));
      assert.equal(taken.status, 409, taken.text);

      const listed = await call('GET', '/api/event');
      assert.deepEqual(
        listed.body.map((h: { name: string }) => h.name),
        [`a-${suffix}`, `b-${suffix}`],
      );
      const byEvent = await call('GET', `/api/event/${encodeURIComponent(event)}`);
      assert.deepEqual(
        byEvent.body.map((h: { name: string }) => h.name),
        [`a-${suffix}`],
        'active only by default',
      );
      const all = await call('GET', `/api/event/${encodeURIComponent(event)}?activeOnly=false`);
      assert.deepEqual(
        all.body.map((h: { name: string; condition?: string }) => [h.name, h.condition ?? null]),
        [
          [`a-${suffix}`, null],
          [`b-${suffix}`, '$.order.id > 1'],
        ],
      );

      const updated = await call('PUT', '/api/event', { ...inactive, active: true });
      assert.equal(updated.status, 200, updated.text);
      assert.equal((await call('GET', `/api/event/${encodeURIComponent(event)}`)).body.length, 2);
      const missing = await call('PUT', '/api/event', handler(`nope-${suffix}`, event));
      assert.equal(missing.status, 404, missing.text);

      const bad: [unknown, RegExp][] = [
        [{ ...handler('x', 'sqs:orders') }, /not supported: use conductor:<queue>, nats:<subject> or amqp:<queue>/],
        [{ ...handler('x', event), actions: [] }, /actions must be a non-empty list/],
        [{ ...handler('x', event), actions: [{ action: 'update_variables' }] }, /update_variables.*not supported/],
        [{ ...handler('x', event), evaluatorType: 'jq' }, /evaluatorType "jq" is not supported/],
        [{ ...handler('x', event), condition: '$.a ===' }, /condition is not a JavaScript expression/],
        [{ ...handler('x', event), actions: [{ action: 'complete_task', complete_task: {} }] }, /workflowId/],
        ['not json', /must be a JSON object/],
      ];
      for (const [body, message] of bad) {
        const answer = await call('POST', '/api/event', body);
        assert.equal(answer.status, 400, `${JSON.stringify(body)}: ${answer.text}`);
        assert.match(answer.body.message, message);
      }

      assert.equal((await call('DELETE', `/api/event/b-${suffix}`)).status, 200);
      assert.equal((await call('DELETE', `/api/event/b-${suffix}`)).status, 404);
      assert.deepEqual(
        (await call('GET', '/api/event')).body.map((h: { name: string }) => h.name),
        [`a-${suffix}`],
      );
    });
  });

  test('handleIncomingEvent runs the active handlers of the event: one run per message id', async () => {
    const suffix = randomUUID().slice(0, 8);
    const event = `conductor:incoming-${suffix}`;
    await withConductor(backend.store(), { workflows: [echo] }, async ({ call, engine }) => {
      const gated = handler(`big-${suffix}`, event, { condition: '$.order.id > 10' });
      assert.equal((await call('POST', '/api/event', gated)).status, 200);
      const message = { event, messageId: 'm-1', payload: { order: { id: 42 } } };
      const first = await call('POST', '/api/event/handleIncomingEvent', message);
      assert.equal(first.status, 200, first.text);
      const runId = `evt:big-${suffix}:m-1`;
      assert.deepEqual(first.body, [{ handler: `big-${suffix}`, matched: true, runIds: [runId], refused: [] }]);
      const again = await call('POST', '/api/event/handleIncomingEvent', message);
      assert.deepEqual(again.body[0].runIds, [runId], 'the same message id: the same run');
      const done = await runUntil(engine, runId, (r) => r.status === 'completed');
      assert.deepEqual(done.output, { order: 42 });
      assert.equal(done.correlationId, '42');
      const small = await call('POST', '/api/event/handleIncomingEvent', { event, payload: { order: { id: 3 } } });
      assert.deepEqual(small.body[0].matched, false, 'the condition is false: no action');
      assert.equal((await engine.listRuns({ workflow: 'echo' })).length, 1);
      const noEvent = await call('POST', '/api/event/handleIncomingEvent', { payload: {} });
      assert.equal(noEvent.status, 400, noEvent.text);
    });
  });
});
