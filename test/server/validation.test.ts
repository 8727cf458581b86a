import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runUntil, tempDb } from '../helpers.js';
import { withApi } from './api.js';
import { workflows } from './fixtures/server-workflows.js';
import { workflows as versioned } from '../fixtures/versioned-workflows.js';

/** [method, url, body, the field the 400 names]. A string body is sent as it is. */
const BAD: [string, string, unknown, string][] = [
  ['POST', '/v1/runs', undefined, 'body'],
  ['POST', '/v1/runs', [], 'body'],
  ['POST', '/v1/runs', '{"workflow": ', 'body'],
  ['POST', '/v1/runs', {}, 'body.workflow'],
  ['POST', '/v1/runs', { workflow: 5 }, 'body.workflow'],
  ['POST', '/v1/runs', { workflow: 'bad name!' }, 'body.workflow'],
  ['POST', '/v1/runs', { workflow: 'hold', version: 0 }, 'body.version'],
  ['POST', '/v1/runs', { workflow: 'hold', version: '1' }, 'body.version'],
  ['POST', '/v1/runs', { workflow: 'hold', version: 1.5 }, 'body.version'],
  ['POST', '/v1/runs', { workflow: 'hold', verison: 1 }, 'body.verison'],
  ['POST', '/v1/runs', { workflow: 'hold', id: '' }, 'body.id'],
  ['POST', '/v1/runs', { workflow: 'hold', id: 'x'.repeat(201) }, 'body.id'],
  ['POST', '/v1/runs', { workflow: 'hold', force: 'yes' }, 'body.force'],
  ['POST', '/v1/runs', { workflow: 'hold', routeKey: 7 }, 'body.routeKey'],
  ['POST', '/v1/runs', { workflow: 'hold', maxLifetimeMs: 'soon' }, 'body.maxLifetimeMs'],
  ['POST', '/v1/runs', { workflow: 'hold', maxLifetimeMs: -1 }, 'body.maxLifetimeMs'],
  ['GET', '/v1/runs?limit=0', undefined, 'query.limit'],
  ['GET', '/v1/runs?limit=many', undefined, 'query.limit'],
  ['GET', '/v1/runs?limit=5000', undefined, 'query.limit'],
  ['GET', '/v1/runs?status=sleeping', undefined, 'query.status[0]'],
  ['GET', '/v1/runs?version=two', undefined, 'query.version'],
  ['GET', '/v1/runs?workflw=hold', undefined, 'query.workflw'],
  ['GET', '/v1/runs/seed/result?timeoutMs=-1', undefined, 'query.timeoutMs'],
  ['GET', '/v1/runs/seed/result?timeoutMs=9999999', undefined, 'query.timeoutMs'],
  ['GET', `/v1/runs/${'x'.repeat(201)}`, undefined, 'params.id'],
  ['POST', '/v1/runs/seed/actions/cancel', { actor: '' }, 'body.actor'],
  ['POST', '/v1/runs/seed/actions/cancel', { output: 1 }, 'body.output'],
  ['POST', '/v1/runs/seed/actions/resume', { reason: 42 }, 'body.reason'],
  ['POST', '/v1/runs/seed/actions/skip-step', { output: 1, by: 'me' }, 'body.by'],
  ['POST', '/v1/runs/seed/upgrade', {}, 'body.to'],
  ['POST', '/v1/runs/seed/upgrade', { to: 'two' }, 'body.to'],
  ['POST', '/v1/runs/seed/upgrade', { to: 2, dryRun: 1 }, 'body.dryRun'],
  ['POST', '/v1/runs/seed/upgrade', { to: 2, migration: 'unheard-of' }, 'body.migration'],
  ['POST', '/v1/runs/seed/restart', { version: 'newest' }, 'body.version'],
  ['POST', '/v1/runs/seed/rerun', {}, 'body.step'],
  ['POST', '/v1/runs/seed/rerun', { step: '' }, 'body.step'],
  ['POST', '/v1/workflows/versioned-order/versions/zero/drain', undefined, 'params.version'],
  ['POST', '/v1/workflows/versioned-order/versions/0/retire', undefined, 'params.version'],
  ['POST', '/v1/workflows/bad%20name/versions/1/activate', undefined, 'params.name'],
  ['PUT', '/v1/workflows/versioned-order/route', { current: 1, candidate: 2, percent: 120 }, 'body.percent'],
  ['PUT', '/v1/workflows/versioned-order/route', { current: 1, percent: 10 }, 'body.candidate'],
  ['PUT', '/v1/workflows/versioned-order/route', '"half"', 'body'],
  ['POST', '/v1/rollouts', { workflow: 'versioned-order' }, 'body.to'],
  ['POST', '/v1/rollouts', { workflow: 'versioned-order', to: 2, percent: -1 }, 'body.percent'],
  ['POST', '/v1/rollouts', { workflow: 'versioned-order', to: 2, step: 0 }, 'body.step'],
  ['POST', '/v1/rollouts', { workflow: 'versioned-order', to: 2, everyMs: 1.5 }, 'body.everyMs'],
  ['POST', '/v1/rollouts', { workflow: 'versioned-order', to: 2, minSample: 0 }, 'body.minSample'],
  ['POST', '/v1/rollouts/versioned-order/abort', { reason: ['x'] }, 'body.reason'],
  ['POST', '/v1/migrate', { workflow: 'versioned-order', from: 1 }, 'body.to'],
  ['POST', '/v1/migrate', { workflow: 'versioned-order', from: 1, to: 1 }, 'body.to'],
  ['POST', '/v1/migrate', { workflow: 'versioned-order', from: 1, to: 2, limit: 0 }, 'body.limit'],
  ['POST', '/v1/migrate', { workflow: 'versioned-order', from: 1, to: 2, percent: 0 }, 'body.percent'],
  ['POST', '/v1/migrate', { workflow: 'versioned-order', from: 1, to: 2, migration: 'unheard-of' }, 'body.migration'],
  ['GET', '/v1/events?runId=', undefined, 'query.runId'],
];

test('every bad input is 400 E_INVALID_INPUT naming the field and the reason, and writes nothing', async () => {
  await withApi(`sqlite:${tempDb()}`, { workflows: [...workflows, ...versioned] }, async ({ engine, call }) => {
    await call('POST', '/v1/runs', { workflow: 'hold', input: { label: 'seed' }, id: 'seed' });
    await runUntil(engine, 'seed', (r) => r.status === 'waiting');
    const runs = await engine.listRuns({ limit: 1000 });
    const history = await engine.history('seed');
    const versions = (await engine.versions()).map((v) => `${v.workflow} v${v.version} ${v.status}`);

    for (const [method, url, body, field] of BAD) {
      const answer = await call(method, url, body);
      const what =
        `${method} ${url.slice(0, 60)} ` + `${typeof body === 'string' ? body : JSON.stringify(body)?.slice(0, 60)}`;
      assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.code, 'E_INVALID_INPUT', what);
      if (field === 'body' && typeof body === 'string' && body.startsWith('{')) {
        assert.match(answer.body.message, /JSON/, what); // unparseable JSON: no field to name
        continue;
      }
      assert.equal(answer.body.field, field, `${what}: ${JSON.stringify(answer.body)}`);
      assert.equal(typeof answer.body.reason, 'string', what);
      assert.ok(answer.body.reason.length > 3, what);
      assert.ok(answer.body.message.includes(field), `${what}: the message names the field: ${answer.body.message}`);
    }

    assert.deepEqual(
      (await engine.listRuns({ limit: 1000 })).map((r) => [r.id, r.status, r.version]),
      runs.map((r) => [r.id, r.status, r.version]),
    );
    assert.deepEqual(await engine.history('seed'), history);
    assert.deepEqual(
      (await engine.versions()).map((v) => `${v.workflow} v${v.version} ${v.status}`),
      versions,
    );
    assert.deepEqual(await engine.rollouts(), []);
    const routed = await call('POST', '/v1/runs', { workflow: 'versioned-order', input: { id: 'r' } });
    assert.equal(routed.body.version, 3, 'no canary route was set: a routed start takes the latest version');
  });
});

test('a media type the API does not take is refused before anything runs', async () => {
  await withApi(`sqlite:${tempDb()}`, { workflows }, async ({ engine, app }) => {
    const answer = await app.inject({
      method: 'POST',
      url: '/v1/runs',
      payload: '<run/>',
      headers: { 'content-type': 'application/xml' },
    });
    assert.equal(answer.statusCode, 415);
    assert.equal(answer.json().code, 'E_UNSUPPORTED_MEDIA_TYPE');
    assert.deepEqual(await engine.listRuns(), []);
  });
});
