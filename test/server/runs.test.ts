import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachBackend, runUntil } from '../helpers.js';
import { withApi } from './api.js';
import { workflows } from './fixtures/server-workflows.js';

forEachBackend((backend) => {
  test('a run round-trips over the API: start, get, list, history, describe, signal, result', async () => {
    await withApi(backend.store(), { workflows }, async ({ engine, call }) => {
      const started = await call('POST', '/v1/runs', { workflow: 'hold', input: { label: 'a' }, id: 'http-1' });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      assert.equal(started.headers.location, '/v1/runs/http-1');
      assert.deepEqual(
        [started.body.id, started.body.workflow, started.body.version, started.body.input],
        ['http-1', 'hold', 1, { label: 'a' }],
      );
      assert.match(started.body.createdAt, /^\d{4}-\d\d-\d\dT/);

      const correlated = await call('POST', '/v1/runs', {
        workflow: 'hold',
        input: { label: 'b' },
        id: 'http-2',
        correlationId: 'order-77',
      });
      assert.equal(correlated.body.correlationId, 'order-77');
      const byCorrelation = await call('GET', '/v1/runs?correlationId=order-77');
      assert.deepEqual(
        byCorrelation.body.runs.map((r: { id: string }) => r.id),
        ['http-2'],
      );

      const again = await call('POST', '/v1/runs', { workflow: 'hold', input: { label: 'other' }, id: 'http-1' });
      assert.equal(again.status, 200);
      assert.deepEqual(again.body.input, { label: 'a' }, 'the existing run is returned; nothing started');

      await runUntil(engine, 'http-1', (r) => r.status === 'waiting');
      const got = await call('GET', '/v1/runs/http-1');
      assert.equal(got.status, 200);
      assert.deepEqual(got.body.waitingFor, { kind: 'signal', seq: 1, name: 'go', signals: ['go'] });

      await call('POST', '/v1/runs', { workflow: 'fragile', id: 'http-other' });
      const listed = await call('GET', '/v1/runs?workflow=hold&status=waiting,running&version=1&limit=10');
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.body.runs.map((r: { id: string }) => r.id).sort(), ['http-1', 'http-2']);
      assert.equal((await call('GET', '/v1/runs?limit=1')).body.runs.length, 1);

      const history = await call('GET', '/v1/runs/http-1/history');
      assert.equal(history.body.runId, 'http-1');
      assert.deepEqual(
        history.body.events.map((e: { type: string }) => e.type),
        ['run_started', 'step_completed', 'signal_waiting'],
      );

      const described = await call('GET', '/v1/runs/http-1/describe');
      assert.equal(described.status, 200);
      assert.deepEqual(described.body.completedSteps, ['work']);
      assert.ok(described.body.actions.includes('cancel'), JSON.stringify(described.body.actions));
      assert.match(described.body.where, /go/);

      const signalled = await call('POST', '/v1/runs/http-1/signals/go', { by: 'ops' });
      assert.deepEqual([signalled.status, signalled.body], [202, { runId: 'http-1', signal: 'go' }]);
      const result = await call('GET', '/v1/runs/http-1/result?timeoutMs=10000');
      assert.equal(result.status, 200);
      assert.deepEqual(result.body, {
        runId: 'http-1',
        status: 'completed',
        output: { work: 'worked on a', go: { by: 'ops' }, finish: 'finished a' },
      });
    });
  });

  test(
    'a run started without an id gets one; ' + 'a signal with no body has no payload; a failed run answers its error',
    async () => {
      await withApi(backend.store(), { workflows }, async ({ engine, call }) => {
        const started = await call('POST', '/v1/runs', { workflow: 'hold', input: { label: 'b' } });
        assert.equal(started.status, 201);
        assert.match(started.body.id, /^[0-9a-f-]{36}$/);
        await runUntil(engine, started.body.id, (r) => r.status === 'waiting');
        assert.equal((await call('POST', `/v1/runs/${started.body.id}/signals/go`)).status, 202);
        const result = await call('GET', `/v1/runs/${started.body.id}/result`);
        assert.equal(result.body.output.go, null);

        const fragile = await call('POST', '/v1/runs', { workflow: 'fragile', id: 'parked' });
        await runUntil(engine, fragile.body.id, (r) => r.status === 'needs_attention');
        const cancelled = await call('POST', '/v1/runs/parked/actions/cancel', { actor: 'ops', reason: 'not needed' });
        assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
        const ended = await call('GET', '/v1/runs/parked/result?timeoutMs=10000');
        assert.equal(ended.body.status, 'cancelled');
        assert.equal(ended.body.error.code, 'E_RUN_CANCELLED');
      });
    },
  );

  test('unknown runs, workflows and versions are 404 with their code', async () => {
    await withApi(backend.store(), { workflows }, async ({ call }) => {
      const missing = [
        ['GET', '/v1/runs/nope'],
        ['GET', '/v1/runs/nope/history'],
        ['GET', '/v1/runs/nope/describe'],
        ['GET', '/v1/runs/nope/result?timeoutMs=0'],
        ['POST', '/v1/runs/nope/signals/go'],
        ['POST', '/v1/runs/nope/actions/cancel'],
        ['POST', '/v1/runs/nope/restart'],
        ['POST', '/v1/runs/nope/rollback-migration'],
      ] as const;
      for (const [method, url] of missing) {
        const answer = await call(method, url);
        assert.equal(answer.status, 404, `${method} ${url}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.code, 'E_RUN_NOT_FOUND', `${method} ${url}`);
        assert.match(answer.body.message, /'nope' does not exist/);
      }
      const workflow = await call('POST', '/v1/runs', { workflow: 'no-such-flow' });
      assert.deepEqual([workflow.status, workflow.body.code], [404, 'E_UNKNOWN_WORKFLOW']);
      const version = await call('POST', '/v1/runs', { workflow: 'hold', version: 7 });
      assert.deepEqual([version.status, version.body.code], [404, 'E_UNKNOWN_VERSION']);
      const drain = await call('POST', '/v1/workflows/hold/versions/7/drain');
      assert.deepEqual([drain.status, drain.body.code], [404, 'E_UNKNOWN_VERSION']);
      const route = await call('GET', '/v1/nothing-here');
      assert.deepEqual([route.status, route.body.code], [404, 'E_ROUTE_NOT_FOUND']);
    });
  });

  test(
    'an operator action that does not fit the run is 409 and changes nothing; ' + 'one that fits is recorded',
    async () => {
      await withApi(backend.store(), { workflows }, async ({ engine, call }) => {
        await call('POST', '/v1/runs', { workflow: 'hold', input: { label: 'c' }, id: 'busy' });
        await runUntil(engine, 'busy', (r) => r.status === 'waiting');
        const before = await engine.history('busy');
        for (const action of ['resume', 'retry-step', 'skip-step']) {
          const refused = await call('POST', `/v1/runs/busy/actions/${action}`, { actor: 'ops', reason: 'try' });
          assert.equal(refused.status, 409, `${action}: ${JSON.stringify(refused.body)}`);
          assert.equal(refused.body.code, 'E_RUN_STATE');
        }
        assert.deepEqual(await engine.history('busy'), before);
        assert.equal((await engine.getRun('busy')).status, 'waiting');

        await call('POST', '/v1/runs', { workflow: 'fragile', id: 'stuck' });
        await runUntil(engine, 'stuck', (r) => r.status === 'needs_attention');
        const skipped = await call('POST', '/v1/runs/stuck/actions/skip-step', {
          actor: 'ops',
          reason: 'filled by hand',
          output: 41,
        });
        assert.equal(skipped.status, 200, JSON.stringify(skipped.body));
        assert.equal(skipped.body.applied, true);
        assert.deepEqual((await call('GET', '/v1/runs/stuck/result?timeoutMs=10000')).body.output, { value: 41 });
        const action = (await engine.history('stuck')).find((e) => e.type === 'operator_action');
        assert.deepEqual(
          [
            (action?.data as { actor?: string } | undefined)?.actor,
            (action?.data as { reason?: string } | undefined)?.reason,
          ],
          ['ops', 'filled by hand'],
        );

        const finished = await call('POST', '/v1/runs/stuck/actions/cancel', {});
        assert.deepEqual([finished.status, finished.body.code], [409, 'E_RUN_STATE']);
      });
    },
  );

  test('a result that does not come in time is 408 E_TIMEOUT with the run status', async () => {
    await withApi(backend.store(), { workflows }, async ({ engine, call }) => {
      await call('POST', '/v1/runs', { workflow: 'hold', input: { label: 'd' }, id: 'slow' });
      await runUntil(engine, 'slow', (r) => r.status === 'waiting');
      const started = Date.now();
      const answer = await call('GET', '/v1/runs/slow/result?timeoutMs=300');
      assert.equal(answer.status, 408);
      assert.deepEqual([answer.body.code, answer.body.details], ['E_TIMEOUT', { runId: 'slow', status: 'waiting' }]);
      assert.ok(Date.now() - started >= 290);
    });
  });
});
