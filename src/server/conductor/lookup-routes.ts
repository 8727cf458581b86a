import type { FastifyInstance } from 'fastify';
import { isTerminal, type Run } from '../../core/types.js';
import type { Engine } from '../../engine.js';
import { runDetail, type ConductorContext } from './context.js';
import { badRequest } from './errors.js';
import { boolean, checkedTextAnywhere, integer, sendJson } from './replies.js';
import { forReaders } from './route-roles.js';
import { findRun } from './start.js';
import { searchTasks, taskSummary } from './task-search.js';
import { taskJson } from './task-shape.js';
import { searchRuns } from './workflow-routes.js';
import { workflowJson, workflowSummary } from './workflow-shape.js';

type Query = Record<string, unknown>;

/** Most correlation ids (or workflow names) one correlated lookup takes. */
const MAX_CORRELATED = 1_000;
/** Most runs a correlated lookup gives per correlation id. */
const CORRELATED_LIMIT = 1_000;

/** Conductor's read-only lookups: health, full-workflow searches, searches by task, correlated runs, a run's tasks. */
export function lookupRoutes(app: FastifyInstance, context: ConductorContext): void {
  const { engine } = context;

  app.get('/health', { schema: { hide: true }, config: { role: 'public' } }, async (_request, reply) =>
    sendJson(reply, { healthy: true, healthResults: [], suppressedHealthResults: [] }),
  );

  // Like /workflow/search, with whole Workflow objects (their tasks left out) instead of summaries.
  app.get<{ Querystring: Query }>('/workflow/search-v2', forReaders, async (request, reply) => {
    const { totalHits, page } = await searchRuns(engine, request.query);
    return sendJson(reply, {
      totalHits,
      results: await workflowsOf(
        engine,
        page.map((r) => r.id),
      ),
    });
  });

  app.get<{ Querystring: Query }>('/workflow/search-by-tasks', forReaders, async (request, reply) => {
    const { totalHits, runIds } = await runsByTasks(engine, request.query);
    const runs = await runsOf(engine, runIds);
    return sendJson(reply, {
      totalHits,
      results: runs.map((r) => workflowSummary({ ...r, inputSize: 0, outputSize: 0 })),
    });
  });

  app.get<{ Querystring: Query }>('/workflow/search-by-tasks-v2', forReaders, async (request, reply) => {
    const { totalHits, runIds } = await runsByTasks(engine, request.query);
    return sendJson(reply, { totalHits, results: await workflowsOf(engine, runIds) });
  });

  app.get<{ Querystring: Query }>('/tasks/search', forReaders, async (request, reply) => {
    const { totalHits, page } = await searchTasks(engine, request.query);
    return sendJson(reply, { totalHits, results: page.map(taskSummary) });
  });

  app.get<{ Querystring: Query }>('/tasks/search-v2', forReaders, async (request, reply) => {
    const { totalHits, page } = await searchTasks(engine, request.query);
    return sendJson(reply, { totalHits, results: page.map((t) => taskJson(t)) });
  });

  app.post<{ Params: { name: string }; Querystring: Query }>(
    '/workflow/:name/correlated',
    forReaders,
    async (request, reply) => {
      const ids = stringsOf(request.body, 'the body', 'a JSON array of correlation ids');
      const found = await correlated(context, [request.params.name], ids, request.query);
      return sendJson(reply, found);
    },
  );

  app.get<{ Params: { name: string; correlationId: string }; Querystring: Query }>(
    '/workflow/:name/correlated/:correlationId',
    forReaders,
    async (request, reply) => {
      const { name, correlationId } = request.params;
      const found = await correlated(context, [name], [correlationId], request.query);
      return sendJson(reply, found[correlationId] ?? []);
    },
  );

  // Orkes' form: { workflowNames, correlationIds } -> correlation id -> runs of any of those workflows.
  app.post<{ Querystring: Query }>('/workflow/correlated/batch', forReaders, async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body))
      throw badRequest('body', 'the body must be a CorrelationIdsSearchRequest: { workflowNames, correlationIds }');
    const names = stringsOf(body.workflowNames, 'workflowNames', 'an array of workflow names');
    const ids = stringsOf(body.correlationIds, 'correlationIds', 'an array of correlation ids');
    return sendJson(reply, await correlated(context, names, ids, request.query));
  });

  app.get<{ Params: { id: string }; Querystring: Query }>('/workflow/:id/tasks', forReaders, async (request, reply) => {
    const q = request.query;
    const start = integer(q, 'start', { min: 0, fallback: 0 });
    const count = integer(q, 'count', { min: 0, max: 1_000, fallback: 15 });
    const raw = q.status;
    const statuses = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw])
      .flatMap((s) => String(s).split(','))
      .map((s) => s.trim().toUpperCase())
      .filter((s) => s !== '');
    const run = await engine.getRun(request.params.id);
    const all = workflowJson(run, await runDetail(context, run)).tasks as { status: string }[];
    const kept = statuses.length ? all.filter((t) => statuses.includes(t.status)) : all;
    const summary: Record<string, number> = Object.create(null);
    for (const task of kept) summary[task.status] = (summary[task.status] ?? 0) + 1;
    return sendJson(reply, { totalHits: kept.length, results: kept.slice(start, start + count), summary });
  });
}

/** The runs of these ids that still exist, in order. */
async function runsOf(engine: Engine, ids: string[]): Promise<Run[]> {
  return (await Promise.all(ids.map((id) => findRun(engine, id)))).filter((r): r is Run => r !== undefined);
}

/** The runs of these ids that still exist, as Workflow JSON without their tasks. */
async function workflowsOf(engine: Engine, ids: string[]): Promise<Record<string, unknown>[]> {
  return (await runsOf(engine, ids)).map((run) => workflowJson(run));
}

/** The runs that have a task the query finds (newest task first), paged by `start` and `size`. */
async function runsByTasks(engine: Engine, q: Query): Promise<{ totalHits: number; runIds: string[] }> {
  const start = integer(q, 'start', { min: 0, fallback: 0 });
  const size = integer(q, 'size', { min: 0, max: 1_000, fallback: 100 });
  const { all } = await searchTasks(engine, { ...q, start: '0', size: '0' });
  const runIds = [...new Set(all.map((t) => t.runId))];
  return { totalHits: runIds.length, runIds: runIds.slice(start, start + size) };
}

/**
 * Runs of `workflows` by correlation id: running ones only unless includeClosed=true; with their tasks when
 * includeTasks=true. Every asked id has an entry (maybe []).
 */
async function correlated(
  context: ConductorContext,
  workflows: string[],
  correlationIds: string[],
  q: Query,
): Promise<Record<string, Record<string, unknown>[]>> {
  const includeClosed = boolean(q, 'includeClosed', false);
  const includeTasks = boolean(q, 'includeTasks', false);
  const out: Record<string, Record<string, unknown>[]> = Object.create(null);
  for (const correlationId of correlationIds) {
    const runs: Record<string, unknown>[] = [];
    for (const workflow of workflows) {
      const { runs: found } = await context.engine.pageRuns({ workflow, correlationId, limit: CORRELATED_LIMIT });
      for (const summary of found) {
        if (!includeClosed && isTerminal(summary.status)) continue;
        const run = await findRun(context.engine, summary.id);
        if (run) runs.push(workflowJson(run, includeTasks ? await runDetail(context, run) : undefined));
      }
    }
    out[correlationId] = runs;
  }
  return out;
}

/** A JSON array of non-empty strings (at most MAX_CORRELATED), else 400 naming `path`. */
function stringsOf(value: unknown, path: string, what: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== ''))
    throw badRequest(path, `${path} must be ${what}`, value ?? null);
  if (value.length > MAX_CORRELATED)
    throw badRequest(path, `at most ${MAX_CORRELATED} entries in ${path}, got ${value.length}`, value.length);
  checkedTextAnywhere(value, path);
  return [...new Set(value as string[])];
}
