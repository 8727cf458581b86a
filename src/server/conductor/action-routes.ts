import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Json, Run } from '../../core/types.js';
import type { ConductorContext } from './context.js';
import { badRequest, toConductorError } from './errors.js';
import {
  bodyObject,
  boolean,
  checkedTextAnywhere,
  sendEmpty,
  sendId,
  sendJson,
  sendNoContent,
  text,
} from './replies.js';
import { forAdmins, forOperators } from './route-roles.js';
import { actingAs } from '../auth/guard.js';
import {
  pause,
  remove,
  rerun,
  restart,
  resume,
  retry,
  skipTask,
  terminate,
  upgrade,
  VIA_API,
} from './workflow-actions.js';

type Query = Record<string, unknown>;
type Params = { Params: { id: string }; Querystring: Query };

/** Most ids one bulk request acts on. */
const MAX_BULK = 1_000;

/** Who acts (the request's key, on a server with auth) and why (the request's reason, else VIA_API's). */
const by = (request: FastifyRequest, reason?: string) => actingAs(request, { reason: reason ?? VIA_API.reason });

/** Operations on workflows: one at a time and in bulk. */
export function actionRoutes(app: FastifyInstance, context: ConductorContext): void {
  const { engine } = context;
  /** Whether a finished run's definition allows a restart (declarative `restartable`, true by default). */
  const restartable = async (run: Run) =>
    (((await context.sourceOf(run.workflow, run.version)) as { restartable?: Json } | undefined)?.restartable ??
      true) !== false;

  app.delete<Params>('/workflow/:id', forOperators, async (request, reply) => {
    await terminate(engine, request.params.id, by(request, text(request.query, 'reason')));
    return sendEmpty(reply);
  });
  app.delete<Params>('/workflow/:id/remove', forAdmins, async (request, reply) => {
    await remove(engine, request.params.id, by(request, text(request.query, 'reason')));
    return sendEmpty(reply);
  });
  app.delete<Params>('/workflow/:id/terminate-remove', forAdmins, async (request, reply) => {
    await remove(engine, request.params.id, by(request, text(request.query, 'reason')));
    return sendEmpty(reply);
  });
  app.put<Params>('/workflow/:id/pause', forOperators, async (request, reply) => {
    await pause(engine, request.params.id, by(request));
    return sendEmpty(reply);
  });
  app.put<Params>('/workflow/:id/resume', forOperators, async (request, reply) => {
    await resume(engine, request.params.id, by(request));
    return sendEmpty(reply);
  });

  app.post<Params>('/workflow/:id/restart', forOperators, async (request, reply) => {
    const latest = boolean(request.query, 'useLatestDefinitions', false);
    await restart(engine, request.params.id, latest, restartable, by(request));
    return sendNoContent(reply);
  });
  app.post<Params>('/workflow/:id/retry', forOperators, async (request, reply) => {
    await retry(engine, request.params.id, by(request));
    return sendNoContent(reply);
  });
  app.post<Params>('/workflow/:id/rerun', forOperators, async (request, reply) => {
    await rerun(engine, request.params.id, bodyObject(request.body, 'a RerunWorkflowRequest'), by(request));
    return sendId(reply, request.params.id);
  });
  app.put<{ Params: { id: string; ref: string } }>(
    '/workflow/:id/skiptask/:ref',
    forOperators,
    async (request, reply) => {
      const body = bodyObject(request.body, 'a SkipTaskRequest');
      const output = (body.taskOutput ?? undefined) as Json | undefined;
      await skipTask(engine, request.params.id, request.params.ref, output, by(request));
      return sendEmpty(reply);
    },
  );
  app.post<Params>('/workflow/:id/upgrade', forOperators, async (request, reply) => {
    await upgrade(engine, request.params.id, bodyObject(request.body, 'an UpgradeWorkflowRequest'), by(request));
    return sendEmpty(reply);
  });

  const bulk = (
    method: 'POST' | 'PUT' | 'DELETE',
    action: string,
    act: (id: string, query: Query, request: FastifyRequest) => Promise<unknown>,
  ) =>
    app.route<{ Querystring: Query }>({
      method,
      url: `/workflow/bulk/${action}`,
      ...(['remove', 'delete', 'terminate-remove'].includes(action) ? forAdmins : forOperators),
      handler: async (request, reply) => {
        const ids = idsOf(request.body);
        const result = {
          bulkErrorResults: Object.create(null) as Record<string, string>,
          bulkSuccessfulResults: [] as string[],
        };
        for (const id of ids) {
          try {
            await act(id, request.query, request);
            result.bulkSuccessfulResults.push(id);
          } catch (error) {
            const body = toConductorError(error);
            if (body.status >= 500 && body.status !== 501) throw error;
            result.bulkErrorResults[id] = body.message;
          }
        }
        return sendJson(reply, result);
      },
    });
  bulk('PUT', 'pause', (id, _q, r) => pause(engine, id, by(r)));
  bulk('PUT', 'resume', (id, _q, r) => resume(engine, id, by(r)));
  bulk('POST', 'restart', (id, q, r) =>
    restart(engine, id, boolean(q, 'useLatestDefinitions', false), restartable, by(r)),
  );
  bulk('POST', 'retry', (id, _q, r) => retry(engine, id, by(r)));
  bulk('POST', 'terminate', (id, q, r) => terminate(engine, id, by(r, text(q, 'reason'))));
  bulk('DELETE', 'remove', (id, q, r) => remove(engine, id, by(r, text(q, 'reason'))));
  bulk('POST', 'delete', (id, q, r) => remove(engine, id, by(r, text(q, 'reason'))));
  bulk('POST', 'terminate-remove', (id, q, r) => remove(engine, id, by(r, text(q, 'reason'))));
}

function idsOf(body: unknown): string[] {
  if (!Array.isArray(body) || !body.every((id) => typeof id === 'string' && id !== ''))
    throw badRequest('body', 'the body must be a JSON array of workflow ids', body);
  if (body.length > MAX_BULK)
    throw badRequest('body', `at most ${MAX_BULK} workflow ids per request, got ${body.length}`, body.length);
  checkedTextAnywhere(body, 'body');
  return [...new Set(body as string[])];
}
