import type { FastifyInstance } from 'fastify';
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
import { hidden } from './tasks-routes.js';
import { pause, remove, rerun, restart, resume, retry, skipTask, terminate, upgrade } from './workflow-actions.js';

type Query = Record<string, unknown>;
type Params = { Params: { id: string }; Querystring: Query };

/** Most ids one bulk request acts on. */
const MAX_BULK = 1_000;

/** Operations on workflows: one at a time and in bulk. */
export function actionRoutes(app: FastifyInstance, context: ConductorContext): void {
  const { engine } = context;
  /** Whether a finished run's definition allows a restart (declarative `restartable`, true by default). */
  const restartable = async (run: Run) =>
    (((await context.sourceOf(run.workflow, run.version)) as { restartable?: Json } | undefined)?.restartable ??
      true) !== false;

  app.delete<Params>('/workflow/:id', hidden, async (request, reply) => {
    await terminate(engine, request.params.id, text(request.query, 'reason'));
    return sendEmpty(reply);
  });
  app.delete<Params>('/workflow/:id/remove', hidden, async (request, reply) => {
    await remove(engine, request.params.id);
    return sendEmpty(reply);
  });
  app.put<Params>('/workflow/:id/pause', hidden, async (request, reply) => {
    await pause(engine, request.params.id);
    return sendEmpty(reply);
  });
  app.put<Params>('/workflow/:id/resume', hidden, async (request, reply) => {
    await resume(engine, request.params.id);
    return sendEmpty(reply);
  });

  app.post<Params>('/workflow/:id/restart', hidden, async (request, reply) => {
    await restart(engine, request.params.id, boolean(request.query, 'useLatestDefinitions', false), restartable);
    return sendNoContent(reply);
  });
  app.post<Params>('/workflow/:id/retry', hidden, async (request, reply) => {
    await retry(engine, request.params.id);
    return sendNoContent(reply);
  });
  app.post<Params>('/workflow/:id/rerun', hidden, async (request, reply) => {
    await rerun(engine, request.params.id, bodyObject(request.body, 'a RerunWorkflowRequest'));
    return sendId(reply, request.params.id);
  });
  app.put<{ Params: { id: string; ref: string } }>('/workflow/:id/skiptask/:ref', hidden, async (request, reply) => {
    const body = bodyObject(request.body, 'a SkipTaskRequest');
    await skipTask(engine, request.params.id, request.params.ref, (body.taskOutput ?? undefined) as Json | undefined);
    return sendEmpty(reply);
  });
  app.post<Params>('/workflow/:id/upgrade', hidden, async (request, reply) => {
    await upgrade(engine, request.params.id, bodyObject(request.body, 'an UpgradeWorkflowRequest'));
    return sendEmpty(reply);
  });

  const bulk = (
    method: 'POST' | 'PUT' | 'DELETE',
    action: string,
    act: (id: string, query: Query) => Promise<unknown>,
  ) =>
    app.route<{ Querystring: Query }>({
      method,
      url: `/workflow/bulk/${action}`,
      ...hidden,
      handler: async (request, reply) => {
        const ids = idsOf(request.body);
        const result = {
          bulkErrorResults: Object.create(null) as Record<string, string>,
          bulkSuccessfulResults: [] as string[],
        };
        for (const id of ids) {
          try {
            await act(id, request.query);
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
  bulk('PUT', 'pause', (id) => pause(engine, id));
  bulk('PUT', 'resume', (id) => resume(engine, id));
  bulk('POST', 'restart', (id, q) => restart(engine, id, boolean(q, 'useLatestDefinitions', false), restartable));
  bulk('POST', 'retry', (id) => retry(engine, id));
  bulk('POST', 'terminate', (id, q) => terminate(engine, id, text(q, 'reason')));
  bulk('DELETE', 'remove', (id) => remove(engine, id));
}

function idsOf(body: unknown): string[] {
  if (!Array.isArray(body) || !body.every((id) => typeof id === 'string' && id !== ''))
    throw badRequest('body', 'the body must be a JSON array of workflow ids', body);
  if (body.length > MAX_BULK)
    throw badRequest('body', `at most ${MAX_BULK} workflow ids per request, got ${body.length}`, body.length);
  checkedTextAnywhere(body, 'body');
  return [...new Set(body as string[])];
}
