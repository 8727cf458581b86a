import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { Engine } from '../../src/index.js';
import { buildServer } from '../../src/server/server.js';
import { forEachBackend, runUntil, TEST_PG_URL, type Backend } from '../helpers.js';
import { casesFor, exampleOf, prng, type FuzzRequest, type RouteTemplate } from './fuzz-cases.js';
import { conductorWorkflows } from './fixtures/conductor-workflows.js';
import { workflows as serverWorkflows } from './fixtures/server-workflows.js';

const workflows = [...serverWorkflows, ...conductorWorkflows];
const SEED = 20_261_201;
const VARIANTS_PER_ROUTE = 30;

/** Every table a request can write (workers' heartbeats and the schema version excluded). */
const TABLES = [
  'runs',
  'history',
  'signals',
  'tasks',
  'locks',
  'workflow_versions',
  'task_definitions',
  'routes',
  'rollouts',
  'schedules',
  'schedule_slots',
  'deploy_reports',
  'event_handlers',
  'event_messages',
];

/** A digest of every table, read beside the engine: a refused request must leave each as it was. */
async function snapshotter(
  backend: Backend,
  store: string,
): Promise<{ take(): Promise<Record<string, string>>; close(): Promise<void> }> {
  const hash = (text: string) => createHash('sha256').update(text).digest('hex');
  if (backend.name === 'sqlite') {
    const db = new Database(store.slice('sqlite:'.length), { readonly: true, fileMustExist: true });
    return {
      take: async () =>
        Object.fromEntries(
          TABLES.map((t) => [
            t,
            hash(
              (db.prepare(`SELECT * FROM ${t}`).all() as unknown[])
                .map((r) => JSON.stringify(r))
                .sort()
                .join('\n'),
            ),
          ]),
        ),
      close: async () => {
        db.close();
      },
    };
  }
  const schema = new URL(store).searchParams.get('schema')!;
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  const digest = (t: string) =>
    `(SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM "${schema}".${t} x) AS ${t}`;
  const sql = `SELECT ${TABLES.map(digest).join(', ')}`;
  return { take: async () => (await client.query(sql)).rows[0] as Record<string, string>, close: () => client.end() };
}

const declarativeDef = {
  name: 'fuzz_def',
  version: 1,
  schemaVersion: 2,
  tasks: [{ name: 'fuzz_task', taskReferenceName: 'work', type: 'SIMPLE' }],
};

/** Well-formed requests of the Conductor routes (not in /openapi.json: Conductor documents them). */
function conductorTemplates(ids: { taskId: string; onboarding: string }): RouteTemplate[] {
  const id = { id: 'seed' };
  const t = (
    method: string,
    route: string,
    params: Record<string, string> = {},
    query: Record<string, string> = {},
    body?: unknown,
    waits?: string[],
  ): RouteTemplate => ({ method, route: `/api${route}`, params, query, body, waits });
  const taskResult = {
    taskId: ids.taskId,
    workflowInstanceId: ids.onboarding,
    status: 'IN_PROGRESS',
    outputData: { note: 'x' },
    callbackAfterSeconds: 0,
    workerId: 'w',
    logs: ['a line'],
  };
  return [
    t(
      'GET',
      '/tasks/poll/batch/:tasktype',
      { tasktype: 'normalize_customer_profile' },
      { workerid: 'w', count: '1', timeout: '0' },
      undefined,
      ['timeout'],
    ),
    t('GET', '/tasks/poll/:tasktype', { tasktype: 'normalize_customer_profile' }, { workerid: 'w' }),
    t('POST', '/tasks', {}, {}, taskResult),
    t('POST', '/tasks/update-v2', {}, {}, taskResult),
    t(
      'POST',
      '/tasks/:workflowId/:taskRefName/:status',
      { workflowId: ids.onboarding, taskRefName: 'normalize_profile', status: 'IN_PROGRESS' },
      { workerid: 'w' },
      { note: 'x' },
    ),
    t('GET', '/tasks/queue/size', {}, { taskType: 'normalize_customer_profile' }),
    t('GET', '/tasks/queue/sizes', {}, { taskType: 'normalize_customer_profile' }),
    t('GET', '/tasks/queue/polldata', {}, { taskType: 'normalize_customer_profile' }),
    t('GET', '/tasks/queue/polldata/all'),
    t('GET', '/tasks/queue/all'),
    t('GET', '/tasks/queue/all/verbose'),
    t('GET', '/tasks/:taskId', { taskId: ids.taskId }),
    t('GET', '/tasks/:taskId/log', { taskId: ids.taskId }),
    t('POST', '/tasks/:taskId/log', { taskId: ids.taskId }, {}, 'a log line'),
    t(
      'POST',
      '/workflow/:name',
      { name: 'hold' },
      { version: '1', correlationId: 'c-1', priority: '0' },
      { label: 'x' },
    ),
    t(
      'POST',
      '/workflow',
      {},
      {},
      {
        name: 'hold',
        version: 1,
        input: { label: 'x' },
        correlationId: 'c-1',
        priority: 0,
        idempotencyKey: 'k-1',
        idempotencyStrategy: 'RETURN_EXISTING',
      },
    ),
    t(
      'POST',
      '/workflow/execute/:name/:version',
      { name: 'hold', version: '1' },
      { waitForSeconds: '0', requestId: 'r' },
      { input: { label: 'x' } },
      ['waitForSeconds'],
    ),
    t(
      'GET',
      '/workflow/search',
      {},
      {
        query: 'status = RUNNING',
        freeText: 'x',
        sort: 'startTime:DESC',
        start: '0',
        size: '10',
        includeInput: 'true',
      },
    ),
    t('GET', '/workflow/running/:name', { name: 'hold' }, { version: '1', startTime: '0' }),
    t('GET', '/workflow/:id', id, { includeTasks: 'true' }),
    t('GET', '/workflow/:id/status', id, { includeOutput: 'true', includeVariables: 'true' }),
    t('DELETE', '/workflow/:id', { id: 'done' }, { reason: 'x' }),
    t('DELETE', '/workflow/:id/remove', { id: 'unknown-run' }),
    t('PUT', '/workflow/:id/pause', id),
    t('PUT', '/workflow/:id/resume', id),
    t('POST', '/workflow/:id/restart', { id: 'done' }, { useLatestDefinitions: 'false' }),
    t('POST', '/workflow/:id/retry', { id: 'parked' }),
    t('POST', '/workflow/:id/rerun', { id: 'done' }, {}, { reRunFromTaskId: 'x', workflowInput: { label: 'x' } }),
    t('PUT', '/workflow/:id/skiptask/:ref', { id: 'seed', ref: 'go' }, {}, { taskOutput: { by: 'x' } }),
    t('POST', '/workflow/:id/upgrade', id, {}, { name: 'hold', version: 1 }),
    ...(['PUT pause', 'PUT resume', 'POST restart', 'POST retry', 'POST terminate', 'DELETE remove'] as const).map(
      (m) => {
        const [method, action] = m.split(' ') as [string, string];
        return t(method, `/workflow/bulk/${action}`, {}, { reason: 'x', useLatestDefinitions: 'false' }, [
          'unknown-run',
          'parked',
        ]);
      },
    ),
    t('POST', '/metadata/workflow', {}, { overwrite: 'false' }, declarativeDef),
    t('PUT', '/metadata/workflow', {}, {}, [declarativeDef]),
    t('GET', '/metadata/workflow'),
    t('GET', '/metadata/workflow/:name', { name: 'fuzz_def' }, { version: '1' }),
    t('DELETE', '/metadata/workflow/:name/:version', { name: 'no_such_def', version: '1' }),
    t('POST', '/metadata/taskdefs', {}, {}, [{ name: 'fuzz_task', retryCount: 1, responseTimeoutSeconds: 60 }]),
    t('PUT', '/metadata/taskdefs', {}, {}, { name: 'fuzz_task', retryCount: 1, responseTimeoutSeconds: 60 }),
    t('GET', '/metadata/taskdefs'),
    t('GET', '/metadata/taskdefs/:type', { type: 'fuzz_task' }),
    t('DELETE', '/metadata/taskdefs/:type', { type: 'no_such_task' }),
    t('POST', '/metadata/workflow/validate', {}, {}, declarativeDef),
    t('GET', '/metadata/workflow/names'),
    t('GET', '/metadata/workflow/names-and-versions'),
    t('GET', '/metadata/workflow/latest-versions'),
    t('GET', '/metadata/workflow/:name/versions', { name: 'fuzz_def' }),
    t('GET', '/health'),
    t('GET', '/workflow/search-v2', {}, { query: 'status = RUNNING', start: '0', size: '10' }),
    t('GET', '/workflow/search-by-tasks', {}, { query: 'status = IN_PROGRESS', start: '0', size: '10' }),
    t('GET', '/workflow/search-by-tasks-v2', {}, { query: 'status = IN_PROGRESS', start: '0', size: '10' }),
    t('GET', '/tasks/search', {}, { query: 'status = SCHEDULED', start: '0', size: '10' }),
    t('GET', '/tasks/search-v2', {}, { query: 'status = SCHEDULED', start: '0', size: '10' }),
    t('POST', '/workflow/:name/correlated', { name: 'hold' }, { includeClosed: 'true' }, ['c-1']),
    t('GET', '/workflow/:name/correlated/:correlationId', { name: 'hold', correlationId: 'c-1' }),
    t('POST', '/workflow/correlated/batch', {}, { includeClosed: 'true' }, [
      { workflowName: 'hold', correlationId: ['c-1'] },
    ]),
    t('GET', '/workflow/:id/tasks', id, { start: '0', count: '10' }),
    t('DELETE', '/workflow/:id/terminate-remove', { id: 'unknown-run' }, { reason: 'x' }),
    t('POST', '/workflow/bulk/delete', {}, {}, ['unknown-run']),
    t('POST', '/workflow/bulk/terminate-remove', {}, { reason: 'x' }, ['unknown-run']),
    t(
      'POST',
      '/tasks/:workflowId/:taskRefName/:status/sync',
      { workflowId: 'unknown-run', taskRefName: 'normalize_profile', status: 'COMPLETED' },
      { workerid: 'w', waitForSeconds: '0' },
      { note: 'x' },
      ['waitForSeconds'],
    ),
    t('POST', '/tasks/:workflowId/:status/signal', { workflowId: 'unknown-run', status: 'COMPLETED' }, {}, { a: 1 }),
    t(
      'POST',
      '/tasks/:workflowId/:status/signal/sync',
      { workflowId: 'unknown-run', status: 'COMPLETED' },
      { waitForSeconds: '0' },
      { a: 1 },
      ['waitForSeconds'],
    ),
    t('GET', '/scheduler/schedules'),
    t(
      'POST',
      '/scheduler/schedules',
      {},
      {},
      {
        name: 'fuzz_schedule',
        cronExpression: '0 0 3 * * ?',
        zoneId: 'UTC',
        startWorkflowRequest: { name: 'hold', version: 1, input: { label: 'x' } },
      },
    ),
    t('GET', '/scheduler/schedules/:name', { name: 'fuzz_schedule' }),
    t('DELETE', '/scheduler/schedules/:name', { name: 'no_such_schedule' }),
    t('GET', '/scheduler/schedules/:name/pause', { name: 'fuzz_schedule' }, { reason: 'x' }),
    t('GET', '/scheduler/schedules/:name/resume', { name: 'fuzz_schedule' }),
    t('GET', '/scheduler/nextFewSchedules', {}, { cronExpression: '0 0 3 * * ?', limit: '3' }),
    t('GET', '/scheduler/search/executions', {}, { start: '0', size: '10', freeText: 'fuzz_schedule' }),
    t(
      'POST',
      '/event',
      {},
      {},
      {
        name: 'fuzz_handler',
        event: 'conductor:fuzz_queue',
        active: true,
        actions: [{ action: 'start_workflow', start_workflow: { name: 'hold', version: 1, input: { label: 'x' } } }],
      },
    ),
    t(
      'PUT',
      '/event',
      {},
      {},
      {
        name: 'no_such_handler',
        event: 'conductor:fuzz_queue',
        active: false,
        actions: [{ action: 'start_workflow', start_workflow: { name: 'hold', version: 1 } }],
      },
    ),
    t('GET', '/event'),
    t('GET', '/event/:event', { event: 'conductor:fuzz_queue' }, { activeOnly: 'true' }),
    t('DELETE', '/event/:name', { name: 'no_such_handler' }),
    t('POST', '/event/handleIncomingEvent', {}, {}, { event: 'conductor:no_handler_queue', payload: { a: 1 } }),
    // A well-formed test request names no registered workflow: it is answered at once (a real one waits for its run).
    t('POST', '/workflow/test', {}, {}, { name: 'no_such_workflow', version: 1, taskRefToMockOutput: {} }),
  ];
}

/** Values the documented routes' well-formed requests use, by parameter or field name. */
const KNOWN_PARAMS: Record<string, string> = { id: 'seed', name: 'hold', version: '1', workflow: 'hold' };
const KNOWN_QUERY: Record<string, string> = {
  timeoutMs: '0',
  limit: '10',
  workflow: 'hold',
  status: 'waiting',
  version: '1',
  correlationId: 'c-1',
  runId: 'seed',
  include: 'input',
};
const KNOWN_FIELDS: Record<string, unknown> = {
  workflow: 'hold',
  input: { label: 'x' },
  to: 1,
  from: 1,
  step: 'work',
  definitions: [declarativeDef],
  current: 1,
  candidate: 1,
  percent: 0,
  actor: 'fuzz',
  reason: 'x',
};

/** Well-formed requests of the routes /openapi.json documents, from their schemas. */
function documentedTemplates(doc: {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: { name: string; in: string }[];
        requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
      }
    >
  >;
}): RouteTemplate[] {
  const templates: RouteTemplate[] = [];
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const route = path.replace(/\{([^}]+)\}/g, ':$1');
      const params = Object.fromEntries(
        (op.parameters ?? [])
          .filter((p) => p.in === 'path')
          .map((p) => [
            p.name,
            route.includes('/signals/') && p.name === 'name' ? 'go' : (KNOWN_PARAMS[p.name] ?? 'x'),
          ]),
      );
      const query = Object.fromEntries(
        (op.parameters ?? [])
          .filter((p) => p.in === 'query' && p.name in KNOWN_QUERY)
          .map((p) => [p.name, KNOWN_QUERY[p.name]!]),
      );
      const schema = op.requestBody?.content['application/json']?.schema;
      templates.push({
        method: method.toUpperCase(),
        route,
        params,
        query,
        body: exampleOf(schema, KNOWN_FIELDS),
        waits: route.endsWith('/result') ? ['timeoutMs'] : undefined,
      });
    }
  }
  return templates;
}

forEachBackend((backend) => {
  test(
    'HTTP fuzz: thousands of malformed requests over every route answer no 5xx, ' +
      'and none that is refused writes anything',
    async (t) => {
      const store = backend.store();
      // The runs the requests aim at, made by a worker engine; the
      // fuzzed server's engine executes nothing, so only requests write.
      const setup = await Engine.open({
        store,
        workflows,
        pollIntervalMs: 50,
        rolloutCheckMs: 0,
        logger: { warn() {} },
      });
      await setup.start('hold', { label: 'seed' }, { id: 'seed' });
      await setup.start('hold', { label: 'done' }, { id: 'done' });
      await setup.start('fragile', {}, { id: 'parked' });
      await setup.start('customer_onboarding', { customerId: 'c-1' }, { id: 'onboarding', version: 1 });
      await runUntil(setup, 'done', (r) => r.status === 'waiting');
      await setup.signal('done', 'go', { by: 'setup' });
      await Promise.all([
        runUntil(setup, 'seed', (r) => r.status === 'waiting'),
        runUntil(setup, 'done', (r) => r.status === 'completed'),
        runUntil(setup, 'parked', (r) => r.status === 'needs_attention'),
        runUntil(setup, 'onboarding', (r) => r.status === 'waiting'),
      ]);
      await setup.close();

      const engine = await Engine.open({ store, workflows, worker: false, logger: { warn() {} } });
      const app = buildServer({ engine });
      const routes: string[] = [];
      app.addHook('onRoute', (r) => {
        for (const m of [r.method].flat()) if (m !== 'HEAD') routes.push(`${m} ${r.url}`);
      });
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const snapshot = await snapshotter(backend, store);
      try {
        const [task] = await engine.tasks.ofRun('onboarding');
        const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
        const templates = [
          ...documentedTemplates(doc),
          ...conductorTemplates({ taskId: task!.taskId, onboarding: 'onboarding' }),
          // The dashboard's static files.
          { method: 'GET', route: '/', params: {}, query: {} },
          { method: 'GET', route: '/ui/:file', params: { file: 'app-x.js' }, query: {} },
        ];
        const covered = new Set(templates.map((tp) => `${tp.method} ${tp.route}`));
        assert.deepEqual(
          routes.filter((r) => !covered.has(r)),
          [],
          'every route is fuzzed',
        );

        const random = prng(SEED);
        const requests = templates.flatMap((tp) => casesFor(tp, random, VARIANTS_PER_ROUTE));
        const byStatus: Record<string, number> = {};
        const serverErrors: string[] = [];
        const writes: string[] = [];
        let acceptedWrites = 0;
        let before = await snapshot.take();
        for (const request of requests) {
          const status = await send(app, url, request);
          byStatus[status] = (byStatus[status] ?? 0) + 1;
          const what =
            `${request.method} ${request.url.slice(0, 120)} ` +
            `[${request.mutation}] ${(request.body ?? '').slice(0, 80)}`;
          if (status >= 500) serverErrors.push(`${status} ${what}`);
          const after = await snapshot.take();
          if (status >= 400) {
            const changed = TABLES.filter((table) => after[table] !== before[table]);
            if (changed.length) writes.push(`${status} ${what}: wrote ${changed.join(', ')}`);
          } else if (TABLES.some((table) => after[table] !== before[table])) acceptedWrites++;
          before = after;
        }
        t.diagnostic(
          `${backend.name}: ${requests.length} requests over ${templates.length} routes, ` +
            `by status: ${JSON.stringify(byStatus)}; ${acceptedWrites} accepted ones wrote`,
        );
        assert.deepEqual(serverErrors, [], 'no request is answered 5xx');
        assert.deepEqual(writes, [], 'a refused request writes nothing');
        assert.ok(requests.length >= 2_000, `${requests.length} requests`);
        assert.ok(acceptedWrites > 10, `the snapshot sees writes: ${acceptedWrites} accepted requests wrote`);
        assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was changed');
      } finally {
        await snapshot.close();
        await app.close();
        await engine.close();
      }
    },
  );
});

/** Sends one request (in process; the event stream over the socket, read up to its headers) and returns its status. */
async function send(app: ReturnType<typeof buildServer>, url: string, request: FuzzRequest): Promise<number> {
  const headers = request.contentType ? { 'content-type': request.contentType } : undefined;
  if (request.url.startsWith('/v1/events')) {
    const response = await fetch(`${url}${request.url}`, {
      method: request.method,
      headers,
      signal: AbortSignal.timeout(10_000),
    });
    await response.body?.cancel();
    return response.status;
  }
  const answer = await app.inject({
    method: request.method as 'GET',
    url: request.url,
    ...(request.body !== undefined ? { payload: request.body } : {}),
    headers,
  });
  return answer.statusCode;
}
