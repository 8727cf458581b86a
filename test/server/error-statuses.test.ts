import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERRORS, httpStatusOf, WaymarkError, type ErrorCode } from '../../src/core/errors.js';
import { toConductorError } from '../../src/server/conductor/errors.js';
import { workflowStatus, type RunFacts } from '../../src/server/conductor/workflow-shape.js';
import { toResponse } from '../../src/server/errors.js';
import { forEachBackend, runUntil } from '../helpers.js';
import { withApi, type Answer } from './api.js';
import { withConductor } from './fixtures/conductor-client.js';
import { workflows } from './fixtures/server-workflows.js';

test("every code answers the table's status on /v1 and on /api, and /api's retryable is the table's", () => {
  for (const code of Object.keys(ERRORS) as ErrorCode[]) {
    const error = new WaymarkError(code, `a ${code}`);
    const v1 = toResponse(error);
    const api = toConductorError(error);
    assert.deepEqual([v1.status, v1.body.code], [httpStatusOf(code), code], `/v1 ${code}`);
    assert.deepEqual([api.status, api.code, api.retryable], [httpStatusOf(code), code, ERRORS[code].retryable], code);
  }
});

/** The status and code of an answer on either surface (both carry Waymark's code). */
const seen = (answer: Answer) => [answer.status, answer.body?.code];

forEachBackend((backend) => {
  test('one code per kind gives the same status over /v1 and /api', async () => {
    await withApi(backend.store(), { workflows }, async ({ engine, call }) => {
      await call('POST', '/v1/runs', { workflow: 'hold', input: { label: 'k' }, id: 'kinds' });
      await runUntil(engine, 'kinds', (r) => r.status === 'waiting');

      // not_found: an unknown run id
      assert.deepEqual(seen(await call('GET', '/v1/runs/no-such-run')), [404, 'E_RUN_NOT_FOUND']);
      const missing = await call('GET', '/api/workflow/no-such-run');
      assert.deepEqual([...seen(missing), missing.body.retryable], [404, 'E_RUN_NOT_FOUND', false]);

      // invalid: an upgrade to the version the run already has
      assert.deepEqual(seen(await call('POST', '/v1/runs/kinds/upgrade', { to: 1 })), [400, 'E_INVALID_INPUT']);
      const same = await call('POST', '/api/workflow/kinds/upgrade', { name: 'hold', version: 1 });
      assert.deepEqual([...seen(same), same.body.retryable], [400, 'E_INVALID_INPUT', false]);

      // conflict: restarting a run that is not finished
      assert.deepEqual(seen(await call('POST', '/v1/runs/kinds/restart', {})), [409, 'E_RUN_STATE']);
      const busy = await call('POST', '/api/workflow/kinds/restart');
      assert.deepEqual([...seen(busy), busy.body.retryable], [409, 'E_RUN_STATE', false]);

      // unavailable: a start once the engine is closed (the server still answers)
      await engine.close();
      const closed = await call('POST', '/v1/runs', { workflow: 'hold', input: { label: 'late' } });
      assert.deepEqual(seen(closed), [503, 'E_ENGINE_CLOSED']);
      const late = await call('POST', '/api/workflow/hold', { label: 'late' });
      assert.deepEqual([...seen(late), late.body.retryable], [503, 'E_ENGINE_CLOSED', true]);
    });
  });
});

test("a run a TERMINATE task ended before E_TERMINATED (code: the task's status) still reads TERMINATED", () => {
  const ended = (error: RunFacts['error']) => ({ status: 'failed', error }) as RunFacts;
  assert.equal(workflowStatus(ended({ name: 'NonRetryableError', message: 'stop', code: 'TERMINATED' })), 'TERMINATED');
  assert.equal(workflowStatus(ended({ name: 'NonRetryableError', message: 'stop', code: 'FAILED' })), 'FAILED');
});

forEachBackend((backend) => {
  test("a TERMINATE task ends the run with E_TERMINATED and the task's status, which /api shows", async () => {
    await withConductor(backend.store(), {}, async ({ call, engine }) => {
      for (const status of ['TERMINATED', 'FAILED']) {
        const name = `stop_${status.toLowerCase()}`;
        const stop = { terminationStatus: status, terminationReason: `stopped: ${status}` };
        const definition = {
          name,
          version: 1,
          // A TERMINATED end is not a failure to report: the (missing) failure workflow is not started.
          ...(status === 'TERMINATED' ? { failureWorkflow: 'no_such_flow' } : {}),
          tasks: [{ name: 'stop', taskReferenceName: 'stop', type: 'TERMINATE', inputParameters: stop }],
        };
        assert.equal((await call('POST', '/api/metadata/workflow', definition)).status, 200);
        const id = (await call('POST', `/api/workflow/${name}`, {})).text;
        const run = await runUntil(engine, id, (r) => r.status === 'failed');
        assert.deepEqual([run.error!.code, run.error!.details], ['E_TERMINATED', { status }]);
        const shown = await call('GET', `/api/workflow/${id}?includeTasks=false`);
        assert.deepEqual([shown.body.status, shown.body.reasonForIncompletion], [status, `stopped: ${status}`]);
      }
    });
  });
});
