import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachBackend, rejectsWith, runUntil } from '../helpers.js';
import { withApi, type Api } from './api.js';
import { workflows } from './fixtures/server-workflows.js';

const deepArray = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const deepObject = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
const parentheses = (levels: number) =>
  encodeURIComponent(`${'('.repeat(levels)}status = RUNNING${')'.repeat(levels)}`);

/** [method, url, body (a string is sent as it is), the field the 400 names]. Every one was a 500 (or worse) once. */
const HOSTILE: [string, string, unknown, string][] = [
  ['POST', '/v1/runs', `{"workflow":"hold","input":${deepArray(10_000)}}`, 'body'],
  ['POST', '/v1/runs', `{"workflow":"hold","input":${deepObject(10_000)}}`, 'body'],
  ['POST', '/v1/runs/seed/signals/go', deepArray(10_000), 'body'],
  ['POST', '/api/workflow/hold', deepObject(10_000), 'body'],
  ['POST', '/api/tasks', `{"taskId":"t","status":"COMPLETED","outputData":${deepObject(10_000)}}`, 'body'],
  ['GET', `/api/workflow/search?query=${parentheses(3_000)}`, undefined, 'query'],
  ['GET', '/api/workflow/search?sort=__proto__', undefined, 'sort'],
  ['GET', '/api/workflow/search?sort=constructor:DESC', undefined, 'sort'],
  ['GET', '/api/workflow/search?query=__proto__%20%3D%201', undefined, 'query'],
  ['GET', '/v1/runs/a%00b', undefined, 'params.id'],
  ['GET', '/v1/runs/seed%00/history', undefined, 'params.id'],
  ['POST', '/v1/runs/a%00b/signals/go', {}, 'params.id'],
  ['POST', '/v1/runs/seed/signals/g%00o', {}, 'params.name'],
  ['POST', '/v1/runs/seed/actions/cancel', { reason: 'no\u0000' }, 'body.reason'],
  ['POST', '/v1/workflows/hold/versions/1%00/drain', undefined, 'params.version'],
  ['GET', '/api/workflow/a%00b', undefined, 'id'],
  ['GET', '/api/tasks/a%00b', undefined, 'taskId'],
  ['GET', '/api/tasks/poll/a%00b', undefined, 'tasktype'],
  ['GET', '/api/tasks/poll/batch/a%00b?timeout=0', undefined, 'tasktype'],
  ['GET', '/v1/runs?correlationId=a%00b', undefined, 'query.correlationId'],
  ['POST', '/v1/runs', { workflow: 'hold', correlationId: 'a\u0000b' }, 'body.correlationId'],
  ['POST', '/v1/runs', { workflow: 'hold', id: 'run\u0000' }, 'body.id'],
  ['POST', '/v1/runs', { workflow: 'hold', correlationId: 'half \ud800' }, 'body.correlationId'],
  ['POST', '/api/workflow/hold?correlationId=a%00b', {}, 'correlationId'],
  ['POST', '/api/workflow', { name: 'hold', correlationId: 'a\u0000b' }, 'correlationId'],
  ['GET', '/api/tasks/queue/size?taskType=a%00b', undefined, 'taskType'],
  ['POST', '/api/tasks', { taskId: 't\u0000', status: 'COMPLETED' }, 'taskId'],
  [
    'POST',
    '/api/tasks',
    { taskId: 't', status: 'COMPLETED', reasonForIncompletion: 'x\u0000' },
    'reasonForIncompletion',
  ],
  ['POST', '/api/tasks', { taskId: 't', status: 'IN_PROGRESS', callbackAfterSeconds: 1e300 }, 'callbackAfterSeconds'],
  ['POST', '/api/workflow/bulk/terminate', ['seed\u0000'], 'body[0]'],
  ['POST', '/api/metadata/taskdefs', [{ name: 'task\u0000' }], 'body[0].name'],
  ['GET', '/v1/runs?version=99999999999999999999', undefined, 'query.version'],
  ['POST', '/v1/runs', '{"workflow":"hold","version":99999999999999999999}', 'body.version'],
  ['POST', '/v1/workflows/hold/versions/99999999999999999999/drain', undefined, 'params.version'],
  ['POST', '/api/workflow/hold?version=99999999999999999999', {}, 'version'],
  ['POST', '/api/workflow', { name: 'hold', version: 3e9 }, 'version'],
  ['GET', '/api/metadata/workflow/hold?version=99999999999999999999', undefined, 'version'],
  ['POST', '/v1/runs', '{"workflow":"hold","maxLifetimeMs":1e300}', 'body.maxLifetimeMs'],
  ['POST', '/v1/runs', { workflow: 'hold', maxLifetimeMs: '99999999999d' }, 'body.maxLifetimeMs'],
  ['POST', '/v1/runs', '{"workflow":"hold","input":{"__proto__":{"polluted":true}}}', 'body.input.__proto__'],
  [
    'POST',
    '/v1/runs',
    '{"workflow":"hold","input":{"constructor":{"prototype":{"polluted":true}}}}',
    'body.input.constructor',
  ],
  ['POST', '/v1/runs/seed/signals/go', '{"list":[{"__proto__":1}]}', 'body.list[0].__proto__'],
  ['POST', '/api/workflow/hold', '{"__proto__":{"polluted":true}}', 'body.__proto__'],
  ['POST', '/api/metadata/taskdefs', '[{"name":"t","constructor":{}}]', 'body[0].constructor'],
];

/** Runs and their history lengths, workflow versions, task definitions: what a refused request must leave as it was. */
async function snapshot(engine: Api['engine']) {
  const runs = await engine.listRuns({ limit: 1000 });
  const histories = await Promise.all(
    runs.map(async (r) => `${r.id} ${r.status} v${r.version} ${(await engine.history(r.id)).length}`),
  );
  const versions = (await engine.versions()).map((v) => `${v.workflow} v${v.version} ${v.status}`);
  return { histories, versions, taskDefinitions: await engine.definitions.taskDefinitions() };
}

/** The field a refusal names: Waymark's `field`, or the path of Conductor's first validation error. */
function fieldOf(url: string, body: { field?: string; validationErrors?: { path: string }[] }): string | undefined {
  return url.startsWith('/api/') ? body.validationErrors?.[0]?.path : body.field;
}

forEachBackend((backend) => {
  test(
    'hostile input (deep nesting, NUL and lone surrogates, huge numbers, ' +
      'prototype keys) is a 400 naming the field and writes nothing',
    async () => {
      await withApi(backend.store(), { workflows }, async ({ engine, call }) => {
        await call('POST', '/v1/runs', { workflow: 'hold', input: { label: 'seed' }, id: 'seed' });
        await runUntil(engine, 'seed', (r) => r.status === 'waiting');
        const before = await snapshot(engine);
        for (const [method, url, body, field] of HOSTILE) {
          const answer = await call(method, url, body);
          const what =
            `${method} ${url.slice(0, 70)} ` +
            `${(typeof body === 'string' ? body : (JSON.stringify(body) ?? '')).slice(0, 70)}`;
          assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.body)?.slice(0, 300)}`);
          assert.equal(fieldOf(url, answer.body), field, `${what}: ${JSON.stringify(answer.body).slice(0, 300)}`);
          assert.ok(
            answer.body.message.includes(field.replace(/^(params|query|body)\./, '')),
            `${what}: the message names the field: ${answer.body.message}`,
          );
        }
        assert.deepEqual(await snapshot(engine), before);
        assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was changed');
      });
    },
  );

  test('a prototype key is refused with a message that says so, not as invalid JSON', async () => {
    await withApi(backend.store(), { workflows }, async ({ call }) => {
      const v1 = await call('POST', '/v1/runs', '{"workflow":"hold","input":{"a":{"__proto__":{}}}}');
      assert.equal(v1.body.field, 'body.input.a.__proto__');
      assert.match(v1.body.message, /forbidden key: __proto__ and constructor keys are refused/);
      assert.doesNotMatch(v1.body.message, /not valid JSON/);
      const api = await call('POST', '/api/workflow/hold', '{"constructor":{}}');
      assert.match(api.body.message, /body\.constructor is a forbidden key/);
      const broken = await call('POST', '/v1/runs', '{"workflow":');
      assert.match(broken.body.message, /^body is not valid JSON/);
    });
  });

  test('a start with an overflowing lifetime is refused alone: the good starts beside it all start', async () => {
    await withApi(backend.store(), { workflows }, async ({ engine, call }) => {
      const good = Array.from({ length: 20 }, (_, i) =>
        call('POST', '/v1/runs', {
          workflow: 'hold',
          id: `good-${i}`,
          input: { label: String(i) },
          maxLifetimeMs: '1h',
        }),
      );
      const bad = [
        call('POST', '/v1/runs', '{"workflow":"hold","id":"bad-1","maxLifetimeMs":1e300}'),
        call('POST', '/v1/runs', { workflow: 'hold', id: 'bad-2', maxLifetimeMs: 9e15 }),
      ];
      const [goods, bads] = await Promise.all([Promise.all(good), Promise.all(bad)]);
      assert.deepEqual(
        goods.map((a) => a.status),
        Array(20).fill(201),
      );
      assert.deepEqual(
        bads.map((a) => [a.status, a.body.field]),
        [
          [400, 'body.maxLifetimeMs'],
          [400, 'body.maxLifetimeMs'],
        ],
      );
      assert.equal((await engine.listRuns({ limit: 100 })).length, 20);
      // The engine's own API refuses it too (it used to accept it,
      // and the worker executing the run crashed on the date).
      await rejectsWith(engine.start('hold', { label: 'x' }, { maxLifetimeMs: 1e300 }), 'E_INVALID_INPUT');
      await rejectsWith(engine.start('hold', { label: 'x' }, { maxLifetimeMs: '99999999999d' }), 'E_INVALID_INPUT');
      await runUntil(engine, 'good-0', (r) => r.status === 'waiting');
    });
  });
});
