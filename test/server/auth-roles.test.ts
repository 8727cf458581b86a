/**
 * Every route of the server, anonymous, with each role, and with a revoked or expired token: it answers 401,
 * 403 or goes through exactly as its role says. The route list comes from the server itself, so a new route
 * cannot be missed; and the table below must name each one with its role, so a new route's role is a decision.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyPluginAsync } from 'fastify';
import { ROLES, roleAllows, type RouteRole } from '../../src/core/roles.js';
import { openEngineOnStore } from '../../src/engine.js';
import { openStore } from '../../src/store/open.js';
import { createKey } from '../../src/server/auth/credentials.js';
import { guardedRoutes } from '../../src/server/auth/guard.js';
import { signToken } from '../../src/server/auth/tokens.js';
import type { ServerContext } from '../../src/server/context.js';
import { buildServer } from '../../src/server/server.js';
import { tempDb } from '../helpers.js';
import { authServer, raw, send, tokenFor } from './auth-fixtures.js';

/** The role of every route. */
const ROUTE_ROLES: Record<string, RouteRole> = {
  'GET /health': 'public',
  'GET /': 'public',
  'GET /ui/:file': 'public',
  'GET /ready': 'public',
  'GET /metrics': 'reader',
  'POST /api/token': 'public',
  'GET /openapi.json': 'reader',
  'POST /v1/runs': 'operator',
  'GET /v1/runs': 'reader',
  'GET /v1/schedules': 'reader',
  'POST /v1/schedules': 'operator',
  'GET /v1/schedules/:id': 'reader',
  'PATCH /v1/schedules/:id': 'operator',
  'DELETE /v1/schedules/:id': 'operator',
  'POST /v1/schedules/:id/pause': 'operator',
  'POST /v1/schedules/:id/resume': 'operator',
  'POST /v1/schedules/:id/trigger': 'operator',
  'POST /v1/schedules/:id/backfill': 'operator',
  'GET /v1/schedules/:id/preview': 'reader',
  'GET /api/scheduler/schedules': 'reader',
  'POST /api/scheduler/schedules': 'operator',
  'GET /api/scheduler/schedules/:name': 'reader',
  'DELETE /api/scheduler/schedules/:name': 'operator',
  'GET /api/scheduler/schedules/:name/pause': 'operator',
  'GET /api/scheduler/schedules/:name/resume': 'operator',
  'GET /api/scheduler/nextFewSchedules': 'reader',
  'GET /api/scheduler/search/executions': 'reader',
  'POST /v1/runs/bulk': 'operator',
  'GET /v1/runs/bulk': 'reader',
  'GET /v1/runs/bulk/:id': 'reader',
  'GET /v1/whoami': 'reader',
  'GET /v1/task-queues': 'reader',
  'GET /v1/deploy/reports': 'reader',
  'GET /v1/deploy/reports/:id': 'reader',
  'GET /v1/workflows/:name/route': 'reader',
  'GET /v1/runs/:id': 'reader',
  'DELETE /v1/runs/:id': 'admin',
  'GET /v1/runs/:id/history': 'reader',
  'GET /v1/runs/:id/describe': 'reader',
  'GET /v1/runs/:id/result': 'reader',
  'POST /v1/runs/:id/signals/:name': 'operator',
  'POST /v1/runs/:id/actions/retry-step': 'operator',
  'POST /v1/runs/:id/actions/skip-step': 'operator',
  'POST /v1/runs/:id/actions/compensate': 'operator',
  'POST /v1/runs/:id/actions/cancel': 'operator',
  'POST /v1/runs/:id/actions/resume': 'operator',
  'POST /v1/runs/:id/actions/pause': 'operator',
  'POST /v1/runs/:id/upgrade': 'operator',
  'POST /v1/runs/:id/restart': 'operator',
  'POST /v1/runs/:id/rerun': 'operator',
  'POST /v1/runs/:id/rollback-migration': 'operator',
  'GET /v1/versions': 'reader',
  'GET /v1/patches': 'reader',
  'GET /v1/workers': 'reader',
  'POST /v1/workflows/:name/versions/:version/drain': 'operator',
  'POST /v1/workflows/:name/versions/:version/retire': 'admin',
  'POST /v1/workflows/:name/versions/:version/activate': 'admin',
  'POST /v1/workflows/:name/versions/:version/quarantine': 'admin',
  'PUT /v1/workflows/:name/route': 'operator',
  'POST /v1/migrate': 'operator',
  'GET /v1/rollouts': 'reader',
  'POST /v1/rollouts': 'operator',
  'POST /v1/rollouts/evaluate': 'operator',
  'POST /v1/rollouts/:workflow/promote': 'operator',
  'POST /v1/rollouts/:workflow/pause': 'operator',
  'POST /v1/rollouts/:workflow/resume': 'operator',
  'POST /v1/rollouts/:workflow/abort': 'operator',
  'POST /v1/deploy/check': 'operator',
  'POST /v1/deploy/plan': 'operator',
  'GET /v1/events': 'reader',
  'GET /v1/audit': 'reader',
  'GET /api/tasks/poll/batch/:tasktype': 'worker',
  'GET /api/tasks/poll/:tasktype': 'worker',
  'POST /api/tasks': 'worker',
  'POST /api/tasks/update-v2': 'worker',
  'POST /api/tasks/:workflowId/:taskRefName/:status': 'worker',
  'GET /api/tasks/queue/size': 'reader',
  'GET /api/tasks/queue/sizes': 'reader',
  'GET /api/tasks/queue/polldata': 'reader',
  'GET /api/tasks/queue/polldata/all': 'reader',
  'GET /api/tasks/queue/all': 'reader',
  'GET /api/tasks/queue/all/verbose': 'reader',
  'GET /api/tasks/:taskId': 'reader',
  'GET /api/tasks/:taskId/log': 'reader',
  'POST /api/tasks/:taskId/log': 'worker',
  'POST /api/workflow/:name': 'operator',
  'POST /api/workflow': 'operator',
  'POST /api/workflow/execute/:name/:version': 'operator',
  'POST /api/workflow/test': 'operator',
  'GET /api/workflow/search': 'reader',
  'GET /api/workflow/running/:name': 'reader',
  'GET /api/workflow/:id': 'reader',
  'GET /api/workflow/:id/status': 'reader',
  'DELETE /api/workflow/:id': 'operator',
  'DELETE /api/workflow/:id/remove': 'admin',
  'PUT /api/workflow/:id/pause': 'operator',
  'PUT /api/workflow/:id/resume': 'operator',
  'POST /api/workflow/:id/restart': 'operator',
  'POST /api/workflow/:id/retry': 'operator',
  'POST /api/workflow/:id/rerun': 'operator',
  'PUT /api/workflow/:id/skiptask/:ref': 'operator',
  'POST /api/workflow/:id/upgrade': 'operator',
  'PUT /api/workflow/bulk/pause': 'operator',
  'PUT /api/workflow/bulk/resume': 'operator',
  'POST /api/workflow/bulk/restart': 'operator',
  'POST /api/workflow/bulk/retry': 'operator',
  'POST /api/workflow/bulk/terminate': 'operator',
  'DELETE /api/workflow/bulk/remove': 'admin',
  'POST /api/event': 'admin',
  'PUT /api/event': 'admin',
  'GET /api/event': 'reader',
  'GET /api/event/:event': 'reader',
  'DELETE /api/event/:name': 'admin',
  'POST /api/event/handleIncomingEvent': 'operator',
  'POST /api/metadata/workflow': 'admin',
  'PUT /api/metadata/workflow': 'admin',
  'GET /api/metadata/workflow': 'reader',
  'GET /api/metadata/workflow/:name': 'reader',
  'DELETE /api/metadata/workflow/:name/:version': 'admin',
  'POST /api/metadata/workflow/validate': 'reader',
  'GET /api/metadata/workflow/names': 'reader',
  'GET /api/metadata/workflow/names-and-versions': 'reader',
  'GET /api/metadata/workflow/latest-versions': 'reader',
  'GET /api/metadata/workflow/:name/versions': 'reader',
  'GET /api/health': 'public',
  'GET /api/workflow/search-v2': 'reader',
  'GET /api/workflow/search-by-tasks': 'reader',
  'GET /api/workflow/search-by-tasks-v2': 'reader',
  'GET /api/tasks/search': 'reader',
  'GET /api/tasks/search-v2': 'reader',
  'POST /api/workflow/:name/correlated': 'reader',
  'GET /api/workflow/:name/correlated/:correlationId': 'reader',
  'POST /api/workflow/correlated/batch': 'reader',
  'GET /api/workflow/:id/tasks': 'reader',
  'POST /api/tasks/:workflowId/:taskRefName/:status/sync': 'worker',
  'POST /api/tasks/:workflowId/:status/signal': 'worker',
  'POST /api/tasks/:workflowId/:status/signal/sync': 'worker',
  'DELETE /api/workflow/:id/terminate-remove': 'admin',
  'POST /api/workflow/bulk/delete': 'admin',
  'POST /api/workflow/bulk/terminate-remove': 'admin',
  'POST /api/metadata/taskdefs': 'admin',
  'PUT /api/metadata/taskdefs': 'admin',
  'GET /api/metadata/taskdefs': 'reader',
  'GET /api/metadata/taskdefs/:type': 'reader',
  'DELETE /api/metadata/taskdefs/:type': 'admin',
};

/** A route's path with made-up parameters (versions are numbers, everything else names nothing that exists). */
const pathOf = (url: string) =>
  url.replace(/:([A-Za-z]+)/g, (_, name: string) =>
    name === 'version' ? '1' : name === 'status' ? 'COMPLETED' : 'nx',
  );

test('the server knows every route and its role; the table names each, /openapi.json and /api too', async () => {
  const auth = await authServer(`sqlite:${tempDb()}`);
  try {
    const routes = guardedRoutes(auth.server.app);
    const declared = Object.fromEntries(
      routes.filter((r) => r.method !== 'HEAD').map((r) => [`${r.method} ${r.url}`, r.role]),
    );
    assert.deepEqual(declared, ROUTE_ROLES, 'a route added or changed: give it its role here too');
    for (const head of routes.filter((r) => r.method === 'HEAD'))
      assert.equal(head.role, declared[`GET ${head.url}`], `HEAD ${head.url} needs what GET needs`);

    const doc = (await send(auth.url, 'GET', '/openapi.json', { authorization: `Bearer ${raw(auth.keys.reader)}` }))
      .body as { paths: Record<string, Record<string, { 'x-waymark-role': string }>> };
    for (const [path, operations] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(operations)) {
        const key = `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`;
        assert.equal(declared[key], op['x-waymark-role'], `${key} is guarded and documented with its role`);
      }
    assert.ok(Object.keys(declared).filter((k) => k.includes(' /api/')).length > 40, 'the Conductor routes are in');
  } finally {
    await auth.close();
  }
});

test(
  'every route: 401 anonymously and with a revoked or expired token, 403 outside its role, ' +
    'through (not 401/403) for its roles; nothing a refused request asked for is written',
  async () => {
    const auth = await authServer(`sqlite:${tempDb()}`, {}, { keyCacheMs: 0 });
    try {
      const tokens = Object.fromEntries(
        await Promise.all(ROLES.map(async (role) => [role, await tokenFor(auth.url, auth.keys[role])] as const)),
      );
      const secret = await auth.store.keys.tokenSecret('unused: the server made one');
      const past = Math.floor(Date.now() / 1000) - 60;
      const expired = signToken({ sub: auth.keys.admin.keyId, iat: past - 3600, exp: past, iss: 'waymark' }, secret);
      // An admin key revoked after its token was handed out: the token stops working (the cache is off here).
      const revokedKey = await createKey(auth.store.keys, { role: 'admin', name: 'revoked' });
      const revokedKeyToken = await tokenFor(auth.url, revokedKey);
      await auth.store.keys.revokeKey(revokedKey.keyId);

      const problems: string[] = [];
      for (const [route, role] of Object.entries(ROUTE_ROLES)) {
        const [method, url] = route.split(' ') as [string, string];
        const path = pathOf(url);
        const body = method === 'POST' || method === 'PUT' ? {} : undefined;
        const call = (headers: Record<string, string>) => send(auth.url, method, path, headers, body);
        const expect = (who: string, status: number, ok: boolean, error?: string) => {
          if (!ok) problems.push(`${route} ${who}: ${status} ${error ?? ''}`);
        };
        const anonymous = await call({});
        if (role === 'public') expect('anonymous', anonymous.status, ![401, 403].includes(anonymous.status));
        else {
          expect('anonymous', anonymous.status, anonymous.status === 401 && anonymous.body?.error === 'INVALID_TOKEN');
          const late = await call({ 'x-authorization': expired });
          expect('expired', late.status, late.status === 401 && late.body?.error === 'EXPIRED_TOKEN', late.body?.error);
          const gone = await call({ authorization: `Bearer ${revokedKeyToken}` });
          expect('revoked', gone.status, gone.status === 401 && gone.body?.error === 'INVALID_TOKEN', gone.body?.error);
        }
        for (const keyRole of ROLES) {
          const answer = await call({ 'x-authorization': tokens[keyRole]! });
          const allowed = roleAllows(keyRole, role);
          const ok = allowed ? ![401, 403].includes(answer.status) : answer.status === 403;
          expect(keyRole, answer.status, ok, answer.body?.message);
          if (!allowed && answer.status === 403) {
            const message = String(answer.body?.message);
            if (!message.includes(`needs the ${role} role`)) problems.push(`${route} ${keyRole}: ${message}`);
          }
        }
      }
      assert.deepEqual(problems, []);

      const audit = await auth.store.audit.list(1000);
      const refusedKeys = [auth.keys.reader.keyId, auth.keys.worker.keyId, revokedKey.keyId];
      assert.deepEqual(
        audit.filter((e) => refusedKeys.includes(e.keyId)),
        [],
        'no change by a key that may not make it',
      );
      assert.deepEqual((await auth.engine.pageRuns({})).runs, [], 'no run was started');
      assert.deepEqual(await auth.engine.definitions.taskDefinitions(), [], 'no definition was saved');
    } finally {
      await auth.close();
    }
  },
);

test('an anonymous request is refused before its body is read: a body too large or not JSON is still 401', async () => {
  const auth = await authServer(`sqlite:${tempDb()}`);
  try {
    const huge = await fetch(`${auth.url}/v1/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"workflow": "${'x'.repeat(2_000_000)}"}`,
    });
    assert.equal(huge.status, 401);
    assert.equal(huge.headers.get('www-authenticate'), 'Bearer realm="waymark"');
    const broken = await send(auth.url, 'POST', '/api/metadata/taskdefs', {}, undefined);
    assert.equal(broken.status, 401);
    assert.equal(broken.body.code, 'E_UNAUTHENTICATED', 'Conductor body under /api, with the code');
    assert.equal(broken.body.status, 401);
  } finally {
    await auth.close();
  }
});

test('a route registered without a role stops the server from starting, with auth or without', async () => {
  const store = await openStore(`sqlite:${tempDb()}`);
  const engine = await openEngineOnStore(store, { worker: false });
  try {
    const plugin: FastifyPluginAsync<ServerContext> = async (app) => {
      app.get('/extra/open', async () => ({ open: true }));
    };
    for (const auth of [undefined, { store }]) {
      const app = buildServer({ engine, plugins: [plugin], auth });
      await assert.rejects(async () => {
        await app.ready();
      }, /route GET \/extra\/open declares no role: give it config: \{ role \}/);
      await app.close();
    }
  } finally {
    await engine.close();
    await store.close();
  }
});
