import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyPluginAsync } from 'fastify';
import { Engine } from '../../src/index.js';
import type { ServerContext } from '../../src/server/context.js';
import { buildServer } from '../../src/server/server.js';
import { runUntil, tempDb } from '../helpers.js';
import { withApi } from './api.js';
import { workflows } from './fixtures/server-workflows.js';

type Schema = Record<string, any>;

/** Every route of the API; the document must list exactly these. */
const ROUTES = [
  'get /health',
  'get /ready',
  'get /metrics',
  'get /openapi.json',
  'post /v1/runs',
  'get /v1/runs',
  'get /v1/runs/{id}',
  'delete /v1/runs/{id}',
  'get /v1/runs/{id}/history',
  'get /v1/runs/{id}/describe',
  'get /v1/runs/{id}/result',
  'post /v1/runs/{id}/signals/{name}',
  'post /v1/runs/{id}/actions/retry-step',
  'post /v1/runs/{id}/actions/skip-step',
  'post /v1/runs/{id}/actions/compensate',
  'post /v1/runs/{id}/actions/cancel',
  'post /v1/runs/{id}/actions/resume',
  'post /v1/runs/{id}/actions/pause',
  'post /v1/runs/{id}/upgrade',
  'post /v1/runs/{id}/restart',
  'post /v1/runs/{id}/rerun',
  'post /v1/runs/{id}/rollback-migration',
  'get /v1/versions',
  'get /v1/patches',
  'get /v1/workers',
  'post /v1/workflows/{name}/versions/{version}/drain',
  'post /v1/workflows/{name}/versions/{version}/retire',
  'post /v1/workflows/{name}/versions/{version}/activate',
  'post /v1/workflows/{name}/versions/{version}/quarantine',
  'put /v1/workflows/{name}/route',
  'get /v1/rollouts',
  'post /v1/rollouts',
  'post /v1/rollouts/evaluate',
  'post /v1/rollouts/{workflow}/promote',
  'post /v1/rollouts/{workflow}/pause',
  'post /v1/rollouts/{workflow}/resume',
  'post /v1/rollouts/{workflow}/abort',
  'post /v1/deploy/check',
  'post /v1/deploy/plan',
  'post /v1/migrate',
  'get /v1/events',
  'post /v1/runs/bulk',
  'get /v1/runs/bulk',
  'get /v1/runs/bulk/{id}',
  'get /v1/whoami',
  'get /v1/task-queues',
  'get /v1/deploy/reports',
  'get /v1/deploy/reports/{id}',
  'get /v1/workflows/{name}/route',
  'get /v1/schedules',
  'post /v1/schedules',
  'get /v1/schedules/{id}',
  'patch /v1/schedules/{id}',
  'delete /v1/schedules/{id}',
  'post /v1/schedules/{id}/pause',
  'post /v1/schedules/{id}/resume',
  'post /v1/schedules/{id}/trigger',
  'post /v1/schedules/{id}/backfill',
  'get /v1/schedules/{id}/preview',
];

test('GET /openapi.json is an OpenAPI 3.1 document of every route, with summaries and schemas', async () => {
  await withApi(`sqlite:${tempDb()}`, { workflows }, async ({ call }) => {
    const answer = await call('GET', '/openapi.json');
    assert.equal(answer.status, 200);
    const doc = answer.body as Schema;
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.info.title, 'Waymark API');
    assert.equal(typeof doc.info.version, 'string');
    const listed = Object.entries(doc.paths as Record<string, Schema>).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method} ${path}`),
    );
    assert.deepEqual([...listed].sort(), [...ROUTES].sort());

    const ids = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths as Record<string, Schema>)) {
      for (const [method, op] of Object.entries(item as Record<string, Schema>)) {
        const where = `${method} ${path}`;
        assert.equal(typeof op.summary, 'string', where);
        assert.ok(op.summary.length > 10, where);
        assert.ok(!ids.has(op.operationId), `${where}: operationId ${op.operationId} is unique`);
        ids.add(op.operationId);
        const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        const declared = (op.parameters ?? []).filter((p: Schema) => p.in === 'path').map((p: Schema) => p.name);
        assert.deepEqual(declared, pathParams, `${where}: every path parameter is declared`);
        for (const p of op.parameters ?? [])
          assert.ok(p.schema && typeof p.schema === 'object', `${where}: parameter ${p.name} has a schema`);
        if (method === 'post' || method === 'put') {
          const bodyless = [
            '/v1/rollouts/evaluate',
            '/v1/workflows/{name}/versions/{version}/drain',
            '/v1/workflows/{name}/versions/{version}/retire',
            '/v1/workflows/{name}/versions/{version}/activate',
            '/v1/workflows/{name}/versions/{version}/quarantine',
          ];
          if (!bodyless.includes(path))
            assert.ok(op.requestBody?.content?.['application/json']?.schema, `${where}: a request body schema`);
        }
        const success = Object.keys(op.responses).filter((s) => s.startsWith('2'));
        assert.ok(success.length > 0, `${where}: a success response`);
        for (const status of success) {
          const content = op.responses[status].content;
          assert.ok(
            content && Object.values(content).every((c: any) => c.schema),
            `${where} ${status}: a response schema`,
          );
        }
        assert.ok(op.responses['5XX'], `${where}: server errors documented`);
        assert.ok(
          ['public', 'reader', 'worker', 'operator', 'admin'].includes(op['x-waymark-role']),
          `${where}: the role it needs`,
        );
      }
    }
    assert.ok(doc.paths['/v1/events'].get.responses['200'].content['text/event-stream']);
    assert.deepEqual(
      doc.paths['/v1/runs'].get.parameters.map((p: Schema) => p.name),
      [
        'workflow',
        'status',
        'version',
        'correlationId',
        'attention',
        'stuckForMs',
        'startedAfter',
        'startedBefore',
        'limit',
        'cursor',
        'include',
      ],
    );

    const dangling = refsIn(doc).filter((ref) => resolve(doc, ref) === undefined);
    assert.deepEqual(dangling, [], 'every $ref resolves inside the document');
  });
});

test("the API's answers have the shape its document gives them", async () => {
  await withApi(`sqlite:${tempDb()}`, { workflows }, async ({ engine, call }) => {
    const doc = (await call('GET', '/openapi.json')).body as Schema;
    const check = async (method: string, url: string, path: string, body?: unknown) => {
      const answer = await call(method, url, body);
      const response = doc.paths[path][method.toLowerCase()].responses[String(answer.status)];
      assert.ok(response, `${method} ${url}: status ${answer.status} is documented`);
      const problems = conform(answer.body, response.content['application/json'].schema, doc, 'body');
      assert.deepEqual(problems, [], `${method} ${url}`);
    };
    await check('POST', '/v1/runs', '/v1/runs', { workflow: 'hold', input: { label: 'doc' }, id: 'doc' });
    await runUntil(engine, 'doc', (r) => r.status === 'waiting');
    await check('GET', '/v1/runs/doc', '/v1/runs/{id}');
    await check('GET', '/v1/runs', '/v1/runs');
    await check('GET', '/v1/runs/doc/history', '/v1/runs/{id}/history');
    await check('GET', '/v1/runs/doc/describe', '/v1/runs/{id}/describe');
    await check('GET', '/v1/versions', '/v1/versions');
    await check('GET', '/v1/workers', '/v1/workers');
    await check('POST', '/v1/runs/doc/actions/resume', '/v1/runs/{id}/actions/resume');
    await check('POST', '/v1/runs/doc/signals/go', '/v1/runs/{id}/signals/{name}', { by: 'doc' });
    await check('GET', '/v1/runs/doc/result?timeoutMs=10000', '/v1/runs/{id}/result');
    await check('GET', '/v1/runs/nope', '/v1/runs/{id}');
    await check('POST', '/v1/runs', '/v1/runs', { workflow: 1 });
  });
});

/** Problems of `value` against `schema`: missing required properties, undocumented properties, wrong basic types. */
function conform(value: unknown, schema: Schema, doc: Schema, at: string): string[] {
  if (schema.$ref) return conform(value, resolve(doc, schema.$ref)!, doc, at);
  if (schema.anyOf)
    return schema.anyOf.some((s: Schema) => conform(value, s, doc, at).length === 0)
      ? []
      : [`${at}: matches no anyOf branch`];
  const type = schema.type;
  if (type === undefined) return [];
  const actual =
    value === null ? 'null' : Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value;
  const allowed = Array.isArray(type) ? type : [type];
  if (!allowed.includes(actual) && !(actual === 'integer' && allowed.includes('number')))
    return [`${at}: ${actual}, documented ${allowed.join('|')}`];
  if (actual === 'array')
    return (value as unknown[]).flatMap((item, i) =>
      schema.items ? conform(item, schema.items, doc, `${at}[${i}]`) : [],
    );
  if (actual !== 'object') return [];
  const object = value as Record<string, unknown>;
  const problems = (schema.required ?? [])
    .filter((key: string) => !(key in object))
    .map((key: string) => `${at}.${key}: required, missing`);
  for (const [key, item] of Object.entries(object)) {
    const property =
      schema.properties?.[key] ??
      (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (property) problems.push(...conform(item, property, doc, `${at}.${key}`));
    else if (schema.properties) problems.push(`${at}.${key}: not documented`);
  }
  return problems;
}

function refsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, item]) =>
    key === '$ref' && typeof item === 'string' ? [item] : refsIn(item),
  );
}

function resolve(doc: Schema, ref: string): Schema | undefined {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .reduce<any>((node, key) => (node === undefined ? undefined : node[key]), doc);
}

test('a route plugin given to the server is documented and validated like the built-in routes', async () => {
  const engine = await Engine.open({ store: `sqlite:${tempDb()}`, workflows, worker: false });
  const plugin: FastifyPluginAsync<ServerContext> = async (app, context) => {
    app.get<{ Querystring: { n: number } }>(
      '/extra/:name',
      {
        config: { role: 'reader' },
        schema: {
          summary: 'An extra route from a plugin',
          params: { type: 'object', properties: { name: { type: 'string' } } },
          querystring: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] },
        },
      },
      async (request) => ({ n: request.query.n, worker: context.engine.workerId }),
    );
  };
  const app = buildServer({ engine, plugins: [plugin] });
  try {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.equal(doc.paths['/extra/{name}'].get.summary, 'An extra route from a plugin');
    assert.deepEqual(
      doc.paths['/extra/{name}'].get.parameters.map((p: Schema) => [p.name, p.in, p.required]),
      [
        ['name', 'path', true],
        ['n', 'query', true],
      ],
    );
    assert.deepEqual((await app.inject({ method: 'GET', url: '/extra/x?n=3' })).json(), {
      n: 3,
      worker: engine.workerId,
    });
    const bad = await app.inject({ method: 'GET', url: '/extra/x?n=three' });
    assert.deepEqual([bad.statusCode, bad.json().field], [400, 'query.n']);
  } finally {
    await app.close();
    await engine.close();
  }
});
