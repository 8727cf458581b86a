import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachBackend } from '../helpers.js';
import { withApi } from './api.js';
import { withConductor } from './fixtures/conductor-client.js';
import { conductorWorkflows } from './fixtures/conductor-workflows.js';
import { workflows } from './fixtures/server-workflows.js';

const COPIES = 8;

forEachBackend((backend) => {
  test('concurrent POST /v1/runs with one id: exactly one is 201 (created), the others 200 with that run', async () => {
    await withApi(backend.store(), { workflows }, async ({ call }) => {
      const answers = await Promise.all(
        Array.from({ length: COPIES }, (_, i) =>
          call('POST', '/v1/runs', { workflow: 'hold', input: { label: `copy-${i}` }, id: 'one-id' }),
        ),
      );
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 200, 200, 200, 200, 200, 200, 201]);
      const created = answers.find((a) => a.status === 201)!;
      for (const answer of answers) assert.deepEqual(answer.body.input, created.body.input, 'all answer one run');
    });
  });

  test('concurrent Conductor starts with one idempotencyKey: one starts it, FAIL refuses the rest (409)', async () => {
    await withConductor(backend.store(), { workflows: conductorWorkflows }, async ({ call }) => {
      const keyed = { name: 'approval', input: { amount: 1 }, idempotencyKey: 'order-race' };
      const answers = await Promise.all(Array.from({ length: COPIES }, () => call('POST', '/api/workflow', keyed)));
      assert.deepEqual(
        answers.map((a) => a.status).sort(),
        [200, 409, 409, 409, 409, 409, 409, 409],
        answers.map((a) => a.text).join('\n'),
      );
      const returned = await Promise.all(
        Array.from({ length: COPIES }, () =>
          call('POST', '/api/workflow', {
            ...keyed,
            idempotencyKey: 'order-race-2',
            idempotencyStrategy: 'RETURN_EXISTING',
          }),
        ),
      );
      assert.deepEqual(new Set(returned.map((a) => [a.status, a.text].join(' '))).size, 1, 'one id, 200 for all');
    });
  });
});
