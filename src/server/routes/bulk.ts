import type { FastifyPluginAsync } from 'fastify';
import { actingAs } from '../auth/guard.js';
import { type BulkAction, BulkJobs } from '../bulk-jobs.js';
import type { ServerContext } from '../context.js';
import { FieldError } from '../errors.js';
import { runFilterProperties, runListQuery, statusProperty, type RunFilterInput } from '../run-filters.js';
import { actor, errors, object, reason, ref, version } from '../schemas.js';

interface BulkBody {
  filter: RunFilterInput;
  action: BulkAction;
  to?: number;
  dryRun?: boolean;
  actor?: string;
  reason: string;
}

const job = {
  type: 'object',
  required: ['id', 'action', 'total', 'done', 'failed', 'skipped', 'state'],
  properties: {
    id: { type: 'string' },
    action: { type: 'string', enum: ['cancel', 'retry-step', 'upgrade'] },
    total: { type: 'integer', description: 'runs the filter matched when the job began' },
    done: { type: 'integer' },
    failed: { type: 'integer' },
    skipped: { type: 'integer', description: 'runs the action did not fit (e.g. already finished)' },
    state: { type: 'string', enum: ['running', 'finished'] },
    errors: {
      type: 'array',
      description: 'the first failures (at most 50)',
      items: {
        type: 'object',
        required: ['runId', 'code', 'message'],
        properties: { runId: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' } },
      },
    },
    startedAt: { type: 'string', format: 'date-time' },
    finishedAt: { type: 'string', format: 'date-time' },
  },
};
const jobId = object({ id: { type: 'string', minLength: 1, maxLength: 100, description: 'bulk job id' } }, ['id']);
const tags = ['operator'];

/**
 * Bulk actions: one operator action on every run a filter matches. Jobs live in this server process's memory
 * (a restart forgets them); each run's action is recorded in its history with actor and reason, as the single-run
 * action is.
 */
export const bulkRoutes: FastifyPluginAsync<ServerContext> = async (app, { engine, closing }) => {
  const jobs = new BulkJobs(engine, closing);
  app.post<{ Body: BulkBody }>(
    '/v1/runs/bulk',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Cancel, retry the parked step of, or upgrade every run a filter matches, in the background',
        description:
          'dryRun: 200 with how many runs match and a sample (at most 20); nothing changes. Otherwise 202 with ' +
          'the job; poll GET /v1/runs/bulk/:id. Jobs live in the server process memory: a restart forgets them ' +
          "(each run's history keeps its action). A run the action does not fit is skipped; an error is failed.",
        tags,
        body: object(
          {
            filter: object({ ...runFilterProperties, status: statusProperty }, [], 'which runs (default: all)'),
            action: { type: 'string', enum: ['cancel', 'retry-step', 'upgrade'] },
            to: { ...version, description: 'upgrade: the target version' },
            dryRun: { type: 'boolean', description: 'count and sample only: nothing changes (default: false)' },
            actor,
            reason: { ...reason, minLength: 1, description: "why, recorded in each run's history" },
          },
          ['filter', 'action', 'reason'],
        ),
        response: {
          200: {
            description: 'dryRun: what the filter matches',
            type: 'object',
            required: ['matched', 'sample'],
            properties: { matched: { type: 'integer' }, sample: { type: 'array', items: ref('RunSummary') } },
          },
          202: { description: 'the job, started', ...job },
          ...errors(400),
        },
      },
    },
    async (request, reply) => {
      const { filter, action, to, dryRun, ...who } = actingAs(request, request.body);
      if (action === 'upgrade' && to === undefined) throw new FieldError('body.to', 'is required with upgrade');
      if (action !== 'upgrade' && to !== undefined) throw new FieldError('body.to', 'is only for upgrade');
      const query = runListQuery(filter, 'body.filter');
      if (dryRun === true) return jobs.preview(query);
      const started = await jobs.start({ filter: query, action, to, reason: who.reason, actor: who.actor });
      const { errors: _errors, startedAt: _startedAt, ...view } = started;
      return reply.code(202).header('location', `/v1/runs/bulk/${started.id}`).send(view);
    },
  );
  app.get(
    '/v1/runs/bulk',
    {
      config: { role: 'reader' },
      schema: {
        summary: "This server's recent bulk jobs, newest first (at most 20)",
        tags,
        response: { 200: { type: 'object', required: ['jobs'], properties: { jobs: { type: 'array', items: job } } } },
      },
    },
    async () => ({ jobs: jobs.list() }),
  );
  app.get<{ Params: { id: string } }>(
    '/v1/runs/bulk/:id',
    {
      config: { role: 'reader' },
      schema: {
        summary: "A bulk job's progress",
        tags,
        params: jobId,
        response: { 200: job, ...errors(404) },
      },
    },
    async (request) => jobs.get(request.params.id),
  );
};
