import type { FastifyPluginAsync } from 'fastify';
import { WaymarkError } from '../../core/errors.js';
import { isTerminal, type Json, type Run, type RunStatus } from '../../core/types.js';
import type { Engine, StartOptions } from '../../engine.js';
import type { ServerContext } from '../context.js';
import { duration, errors, object, ref, runId, runStatus, version, workflowName } from '../schemas.js';
import { nextChange } from '../next-change.js';
import { FieldError } from '../errors.js';
import { traceparentOf } from '../request-tracing.js';
import { runFilterProperties, runListQuery, type RunFilterInput } from '../run-filters.js';
import { parseDuration } from '../../core/duration.js';

interface StartBody extends Omit<StartOptions, 'maxLifetimeMs'> {
  workflow: string;
  input?: Json;
  maxLifetimeMs?: number | string;
}

interface ListQuery extends Omit<RunFilterInput, 'status'> {
  status?: RunStatus[];
  limit?: number;
  cursor?: string;
  include?: ('input' | 'output')[];
}

const idParams = object({ id: runId }, ['id']);
const { workflow, ...otherFilters } = runFilterProperties;
const tags = ['runs'];

/** Longest a result request waits, in ms. (Default wait: 30000) */
const MAX_WAIT_MS = 600_000;

/** Starting, reading and signalling runs. */
export const runRoutes: FastifyPluginAsync<ServerContext> = async (app, { engine, closing }) => {
  app.post<{ Body: StartBody }>(
    '/v1/runs',
    {
      // Starts are the workload, not changes to it: they are not audited.
      config: { role: 'operator', audit: false },
      schema: {
        summary: 'Start a run',
        description:
          'Starts a run of the workflow: 201 with the run; ' +
          '200 with the existing run (nothing started) when `id` is taken.',
        tags,
        body: object(
          {
            workflow: workflowName,
            input: { description: "the run's input: any JSON value (default: null)" },
            id: {
              ...runId,
              description: 'run id; an existing id returns that run and starts nothing (default: a UUID)',
            },
            version: {
              ...version,
              description: 'pin the run to this version (default: routed: the latest active one, or a canary split)',
            },
            force: {
              type: 'boolean',
              description: 'with version: start it even though that version is draining (default: false)',
            },
            routeKey: {
              type: 'string',
              minLength: 1,
              maxLength: 200,
              description:
                'with a canary route: starts with the same key get the same version (default: a random draw)',
            },
            maxLifetimeMs: {
              ...duration,
              description: "longest this run may live (default: the workflow's maxLifetimeMs)",
            },
            correlationId: {
              type: 'string',
              minLength: 1,
              maxLength: 500,
              description: "the caller's id for the business transaction; runs can be listed by it (default: none)",
            },
          },
          ['workflow'],
        ),
        response: {
          201: { description: 'started', ...ref('Run') },
          200: { description: 'a run with this id exists: nothing started', ...ref('Run') },
          ...errors(400, 404, 409),
        },
      },
    },
    async (request, reply) => {
      const { workflow, input, ...options } = request.body;
      if (options.maxLifetimeMs !== undefined) durationField(options.maxLifetimeMs, 'body.maxLifetimeMs');
      const started: StartOptions = { ...options, trigger: 'http' };
      const traceparent = traceparentOf(request);
      if (traceparent !== undefined) started.traceparent = traceparent;
      const { run, created } = await engine.startRun(workflow, input, started);
      return reply
        .code(created ? 201 : 200)
        .header('location', `/v1/runs/${encodeURIComponent(run.id)}`)
        .send(run);
    },
  );

  app.get<{ Querystring: ListQuery }>(
    '/v1/runs',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'List runs, most recent first, a page at a time',
        description:
          'Run summaries: no input or output unless `include` asks for them (a page of included ones ends ' +
          'early past 4 MiB). A page that is not the last gives `next`: pass it as `cursor` for the next one.',
        tags,
        querystring: object({
          workflow,
          status: {
            type: 'array',
            items: runStatus,
            minItems: 1,
            description: 'one status or several, comma-separated',
          },
          ...otherFilters,
          limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'most runs returned (default: 100)' },
          cursor: {
            type: 'string',
            minLength: 1,
            maxLength: 1000,
            description: "the previous page's `next` (default: the first page)",
          },
          include: {
            type: 'array',
            items: { type: 'string', enum: ['input', 'output'] },
            minItems: 1,
            uniqueItems: true,
            description: "'input', 'output' or both, comma-separated (default: neither)",
          },
        }),
        response: {
          200: {
            type: 'object',
            required: ['runs'],
            properties: {
              runs: { type: 'array', items: ref('RunSummary') },
              next: { type: 'string', description: 'cursor of the next page; absent on the last' },
            },
          },
          ...errors(400),
        },
      },
    },
    async (request) => {
      const { limit, cursor, include, ...filter } = request.query;
      const query = { ...runListQuery(filter, 'query'), limit: limit ?? 100, cursor, include };
      try {
        return await engine.pageRuns(query);
      } catch (error) {
        if (error instanceof WaymarkError && error.code === 'E_INVALID_INPUT' && cursor !== undefined)
          throw new FieldError(
            'query.cursor',
            "is not one a page of runs gave: pass the previous page's next as it is",
          );
        throw error;
      }
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/runs/:id',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'Get one run by its id',
        tags,
        params: idParams,
        response: { 200: ref('Run'), ...errors(404) },
      },
    },
    async (request) => engine.getRun(request.params.id),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/runs/:id',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Remove a finished run with its history',
        description:
          'Deletes a completed, failed, cancelled or compensated run and everything recorded of it: 204. ' +
          'A run that is not finished is refused with 409 E_RUN_STATE (cancel it first).',
        tags,
        params: idParams,
        response: { 204: { description: 'removed', type: 'null' }, ...errors(404, 409) },
      },
    },
    async (request, reply) => {
      await engine.removeRun(request.params.id);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/runs/:id/history',
    {
      config: { role: 'reader' },
      schema: {
        summary: "A run's history, oldest event first",
        tags,
        params: idParams,
        response: {
          200: {
            type: 'object',
            required: ['runId', 'events'],
            properties: { runId: { type: 'string' }, events: { type: 'array', items: ref('HistoryEvent') } },
          },
          ...errors(404),
        },
      },
    },
    async (request) => ({ runId: request.params.id, events: await engine.history(request.params.id) }),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/runs/:id/describe',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'Where a run is, what it changed, what is pending, what an operator can do now',
        tags,
        params: idParams,
        response: { 200: ref('RunDescription'), ...errors(404) },
      },
    },
    async (request) => engine.describe(request.params.id),
  );

  app.get<{ Params: { id: string }; Querystring: { timeoutMs?: number } }>(
    '/v1/runs/:id/result',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'Wait for a run to finish',
        description:
          'Answers once the run is over (completed, failed, cancelled or compensated): ' +
          'its output or its error. 408 E_TIMEOUT when it is not over in time.',
        tags,
        params: idParams,
        querystring: object({
          timeoutMs: {
            type: 'integer',
            minimum: 0,
            maximum: MAX_WAIT_MS,
            description: 'longest wait, in ms (default: 30000)',
          },
        }),
        response: { 200: ref('RunResult'), ...errors(400, 404, 408) },
      },
    },
    async (request, reply) => {
      // The wait ends early when the server closes or the client goes away.
      const stop = new AbortController();
      const abort = () => stop.abort();
      closing.addEventListener('abort', abort, { once: true });
      reply.raw.once('close', abort);
      let run: Run;
      try {
        run = await waitForEnd(engine, request.params.id, request.query.timeoutMs ?? 30_000, stop.signal);
      } finally {
        closing.removeEventListener('abort', abort);
      }
      const result: Record<string, unknown> = { runId: run.id, status: run.status };
      if (run.output !== undefined) result.output = run.output;
      if (run.error !== undefined) result.error = run.error;
      return result;
    },
  );

  app.post<{ Params: { id: string; name: string }; Body: Json | undefined }>(
    '/v1/runs/:id/signals/:name',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Send a signal to a run',
        description:
          'The request body (any JSON, or none) is the signal payload. It is kept until the run waits for it.',
        tags,
        params: object(
          { id: runId, name: { type: 'string', minLength: 1, maxLength: 200, description: 'signal name' } },
          ['id', 'name'],
        ),
        body: { description: 'the payload: any JSON value' },
        optionalBody: true,
        response: {
          202: {
            description: 'recorded',
            type: 'object',
            required: ['runId', 'signal'],
            properties: { runId: { type: 'string' }, signal: { type: 'string' } },
          },
          ...errors(400, 404, 409),
        },
      },
    },
    async (request, reply) => {
      await engine.signal(request.params.id, request.params.name, request.body);
      return reply.code(202).send({ runId: request.params.id, signal: request.params.name });
    },
  );
};

/** Checks a duration text the schema lets through (its total may be too long), as a 400 naming `field`. */
function durationField(value: number | string, field: string): void {
  try {
    parseDuration(value, field);
  } catch (error) {
    if (error instanceof WaymarkError && error.code === 'E_INVALID_INPUT')
      throw new FieldError(field, error.message.replace(`${field} `, ''));
    throw error;
  }
}

/**
 * Resolves with the run once it is over: at once when this engine commits its end, else by looking again
 * every 250 ms (another process may finish it). E_TIMEOUT after `timeoutMs`; E_ENGINE_CLOSED once `stop` aborts.
 */
export async function waitForEnd(engine: Engine, runId: string, timeoutMs: number, stop: AbortSignal): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await engine.getRun(runId);
    if (isTerminal(run.status)) return run;
    if (stop.aborted) throw new WaymarkError('E_ENGINE_CLOSED', 'the server is shutting down: ask again');
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new WaymarkError(
        'E_TIMEOUT',
        `run '${runId}' did not finish within ${timeoutMs} ms (status: ${run.status})`,
        { details: { runId, status: run.status } },
      );
    }
    await nextChange(
      engine,
      (change) => change.runId === runId && change.status !== undefined && isTerminal(change.status),
      Math.min(left, 250),
      stop,
    );
  }
}
