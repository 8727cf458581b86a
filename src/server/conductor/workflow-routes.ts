import type { FastifyInstance } from 'fastify';
import { nextChange } from '../next-change.js';
import { isTerminal, RUN_STATUSES } from '../../core/types.js';
import type { Engine } from '../../engine.js';
import { DEFAULT_PAGE_BYTES } from '../../store/run-pages.js';
import type { RunSummary } from '../../store/types.js';
import { MAX_VERSION } from '../../runtime/workflow.js';
import { runDetail, type ConductorContext } from './context.js';
import { boolean, integer, sendId, sendJson, text } from './replies.js';
import { freeTextWords, matches, narrowing, parseQuery, sorter } from './search.js';
import { findRun, startRequestOf, startWorkflow } from './start.js';
import { forReaders, forStarts } from './route-roles.js';
import { traceparentOf } from '../request-tracing.js';
import { workflowJson, workflowStatus, workflowSummary } from './workflow-shape.js';

type Query = Record<string, unknown>;

/** Newest runs read per workflow by a search (its totalHits counts among these). */
export const SEARCH_SCAN_LIMIT = 10_000;
/** Longest an execute request waits, in seconds. */
const MAX_EXECUTE_WAIT_S = 600;

/** Starting, reading, listing and searching workflows (runs). */
export function workflowRoutes(app: FastifyInstance, context: ConductorContext): void {
  const { engine } = context;

  app.post<{ Params: { name: string }; Querystring: Query }>('/workflow/:name', forStarts, async (request, reply) => {
    const q = request.query;
    const start = startRequestOf(
      {
        input: request.body ?? {},
        correlationId: text(q, 'correlationId'),
        priority: integer(q, 'priority', { min: 0, max: 99, fallback: 0 }),
      },
      {
        name: request.params.name,
        version: integer(q, 'version', { min: 1, max: MAX_VERSION }),
      },
    );
    return sendId(reply, (await startWorkflow(engine, start, traceparentOf(request))).id);
  });

  app.post('/workflow', forStarts, async (request, reply) =>
    sendId(reply, (await startWorkflow(engine, startRequestOf(request.body), traceparentOf(request))).id),
  );

  app.post<{ Params: { name: string; version: string }; Querystring: Query }>(
    '/workflow/execute/:name/:version',
    forStarts,
    async (request, reply) => {
      // version 0: the latest
      const version =
        integer({ version: request.params.version }, 'version', { min: 0, max: MAX_VERSION }) || undefined;
      const start = startRequestOf(request.body, { name: request.params.name, ...(version ? { version } : {}) });
      const waitS = integer(request.query, 'waitForSeconds', { min: 0, max: MAX_EXECUTE_WAIT_S, fallback: 10 });
      const until = text(request.query, 'waitUntilTaskRef');
      const run = await startWorkflow(engine, start, traceparentOf(request));
      const workflow = await waitForWorkflow(context, run.id, waitS * 1000, until);
      return sendJson(reply, { ...workflow, requestId: text(request.query, 'requestId') ?? '' });
    },
  );

  // Summaries only (input and output on request, within a byte budget): a search never reads what it does not show.
  app.get<{ Querystring: Query }>('/workflow/search', forReaders, async (request, reply) => {
    const { totalHits, page } = await searchRuns(engine, request.query);
    const q = request.query;
    const include = [
      ...(boolean(q, 'includeInput', false) ? ['input' as const] : []),
      ...(boolean(q, 'includeOutput', false) ? ['output' as const] : []),
    ];
    const results = await withBodies(engine, page, include);
    return sendJson(reply, { totalHits, results: results.map(workflowSummary) });
  });

  app.get<{ Params: { name: string }; Querystring: Query }>(
    '/workflow/running/:name',
    forReaders,
    async (request, reply) => {
      const q = request.query;
      const version = integer(q, 'version', { min: 1, max: MAX_VERSION, fallback: 1 });
      const from = integer(q, 'startTime', { min: 0 });
      const to = integer(q, 'endTime', { min: 0 });
      const live = RUN_STATUSES.filter((s) => !isTerminal(s));
      const { runs } = await engine.pageRuns({
        workflow: request.params.name,
        version,
        status: live,
        limit: SEARCH_SCAN_LIMIT,
      });
      const ids = runs
        .filter(
          (r) =>
            workflowStatus(r) === 'RUNNING' &&
            (from === undefined || r.createdAt.getTime() >= from) &&
            (to === undefined || r.createdAt.getTime() <= to),
        )
        .map((r) => r.id);
      return sendJson(reply, ids);
    },
  );

  app.get<{ Params: { id: string }; Querystring: Query }>('/workflow/:id', forReaders, async (request, reply) => {
    const run = await engine.getRun(request.params.id);
    const includeTasks = boolean(request.query, 'includeTasks', true);
    return sendJson(reply, workflowJson(run, includeTasks ? await runDetail(context, run) : undefined));
  });

  app.get<{ Params: { id: string }; Querystring: Query }>(
    '/workflow/:id/status',
    forReaders,
    async (request, reply) => {
      const run = await engine.getRun(request.params.id);
      const includeOutput = boolean(request.query, 'includeOutput', false);
      const includeVariables = boolean(request.query, 'includeVariables', false);
      const full = workflowJson(run, includeVariables ? await runDetail(context, run) : undefined);
      return sendJson(reply, {
        workflowId: run.id,
        ...(run.correlationId !== undefined ? { correlationId: run.correlationId } : {}),
        status: full.status,
        ...(includeOutput ? { output: full.output } : {}),
        ...(includeVariables ? { variables: full.variables } : {}),
      });
    },
  );
}

/**
 * The runs a workflow search finds (`query`, `freeText`, `sort`), and the page of them `start` and `size` ask for.
 */
export async function searchRuns(engine: Engine, q: Query): Promise<{ totalHits: number; page: RunSummary[] }> {
  const start = integer(q, 'start', { min: 0, fallback: 0 });
  const size = integer(q, 'size', { min: 0, max: 1_000, fallback: 100 });
  const query = parseQuery(text(q, 'query'));
  const words = freeTextWords(text(q, 'freeText'));
  const sortParam = q.sort;
  const order = sorter((Array.isArray(sortParam) ? sortParam : sortParam === undefined ? [] : [sortParam]).map(String));
  const { workflows, statuses } = narrowing(query);
  let runs: RunSummary[] = [];
  if (!statuses || statuses.length > 0) {
    const pages = await Promise.all(
      (workflows ?? [undefined]).map((workflow) =>
        engine.pageRuns({ workflow, status: statuses, words, limit: SEARCH_SCAN_LIMIT }),
      ),
    );
    runs = pages.flatMap((p) => p.runs);
  }
  const found = runs.filter((run) => matches(run, query)).sort(order);
  return { totalHits: found.length, page: found.slice(start, start + size) };
}

/**
 * The summaries with their inputs and/or outputs read, in order, while they fit in 4 MiB (the first always
 * does); those after it are left as summaries.
 */
async function withBodies(
  engine: Engine,
  summaries: RunSummary[],
  include: ('input' | 'output')[],
): Promise<RunSummary[]> {
  if (include.length === 0) return summaries;
  let budget = DEFAULT_PAGE_BYTES;
  const out: RunSummary[] = [];
  for (const summary of summaries) {
    budget -=
      (include.includes('input') ? summary.inputSize : 0) + (include.includes('output') ? summary.outputSize : 0);
    const run = budget >= 0 || out.length === 0 ? await findRun(engine, summary.id) : undefined;
    out.push(
      run
        ? {
            ...summary,
            ...(include.includes('input') ? { input: run.input } : {}),
            ...(include.includes('output') ? { output: run.output ?? null } : {}),
          }
        : summary,
    );
  }
  return out;
}

/**
 * The workflow once it is over, or has reached the task `untilRef` (scheduled or done), or `timeoutMs`
 * passed: whichever comes first. Looks again after every change this engine commits to it, else every 250 ms.
 */
async function waitForWorkflow(
  context: ConductorContext,
  runId: string,
  timeoutMs: number,
  untilRef: string | undefined,
): Promise<Record<string, unknown>> {
  const { engine, closing } = context;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await engine.getRun(runId);
    const workflow = workflowJson(run, await runDetail(context, run));
    const reached =
      untilRef !== undefined &&
      (workflow.tasks as { referenceTaskName: string }[]).some((t) => t.referenceTaskName === untilRef);
    const left = deadline - Date.now();
    if (isTerminal(run.status) || reached || left <= 0 || closing.aborted) return workflow;
    await nextChange(engine, (change) => change.runId === runId, Math.min(left, 250), closing);
  }
}
