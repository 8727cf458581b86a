import type { FastifyPluginAsync } from 'fastify';
import type { ScheduleChanges, ScheduleSpec } from '../../schedules/schedules.js';
import { OVERLAP_POLICIES } from '../../schedules/spec.js';
import type { ServerContext } from '../context.js';
import { duration, errors, object, version, workflowName } from '../schemas.js';

const id = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$', description: 'schedule id' };
const time = {
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', minLength: 1 },
  ],
  title: 'epoch ms or ISO',
};
const overlap = { type: 'string', enum: [...OVERLAP_POLICIES], description: 'when the previous run is in flight' };
const fields = {
  workflow: workflowName,
  version: { anyOf: [version, { type: 'null' }], title: 'a version or null (routed)' },
  input: { description: "each run's input (JSON)" },
  cron: { type: 'string', minLength: 1, maxLength: 200, description: '5 fields, or 6 with seconds first' },
  timezone: { type: 'string', minLength: 1, maxLength: 100, description: 'IANA time zone of cron (default: UTC)' },
  interval: duration,
  startAt: { anyOf: [time, { type: 'null' }], title: 'a time or null' },
  endAt: { anyOf: [time, { type: 'null' }], title: 'a time or null' },
  jitter: duration,
  overlap,
  catchUpWindow: duration,
  paused: { type: 'boolean' },
  note: { type: 'string', maxLength: 2000 },
};
const schedule = { type: 'object', additionalProperties: true, description: 'a schedule as stored' };
const note = object({ note: { type: 'string', maxLength: 2000, description: 'why' } });
const params = object({ id }, ['id']);
const tags = ['schedules'];

/** /v1/schedules: durable rules that start runs at times; reads for readers, changes for operators. */
export const scheduleRoutes: FastifyPluginAsync<ServerContext> = async (app, { engine }) => {
  const s = engine.schedules;
  app.get(
    '/v1/schedules',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'Every schedule, by id',
        tags,
        response: { 200: { type: 'object', properties: { schedules: { type: 'array', items: schedule } } } },
      },
    },
    async () => ({ schedules: await s.list() }),
  );
  app.post<{ Body: ScheduleSpec }>(
    '/v1/schedules',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Create a schedule: a workflow, its input, a cron expression or an interval, an overlap policy',
        tags,
        body: object({ id, ...fields }, ['id', 'workflow']),
        response: { 201: schedule, ...errors(400, 404, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(await s.create(request.body)),
  );
  app.get<{ Params: { id: string }; Querystring: { slots?: number } }>(
    '/v1/schedules/:id',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'A schedule with its newest slots (what each firing decided, the run it started)',
        tags,
        params,
        querystring: object({ slots: { type: 'integer', minimum: 1, maximum: 1000, description: 'default 20' } }),
        response: { 200: schedule, ...errors(400, 404) },
      },
    },
    async (request) => ({
      ...(await s.get(request.params.id)),
      slots: await s.slots(request.params.id, request.query.slots ?? 20),
    }),
  );
  app.patch<{ Params: { id: string }; Body: ScheduleChanges }>(
    '/v1/schedules/:id',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Change a schedule; it fires from its next slot after now',
        tags,
        params,
        body: object(fields),
        response: { 200: schedule, ...errors(400, 404) },
      },
    },
    async (request) => s.update(request.params.id, request.body),
  );
  app.delete<{ Params: { id: string } }>(
    '/v1/schedules/:id',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Delete a schedule and its slots (its runs stay)',
        tags,
        params,
        response: { 204: { description: 'deleted', type: 'null' }, ...errors(400, 404) },
      },
    },
    async (request, reply) => {
      await s.delete(request.params.id);
      return reply.code(204).send();
    },
  );
  for (const action of ['pause', 'resume'] as const)
    app.post<{ Params: { id: string }; Body: { note?: string } | undefined }>(
      `/v1/schedules/:id/${action}`,
      {
        config: { role: 'operator' },
        schema: {
          summary: action === 'pause' ? 'Pause a schedule, saying why' : 'Resume a schedule from its next slot',
          tags,
          params,
          body: note,
          response: { 200: schedule, ...errors(400, 404) },
        },
      },
      async (request) => s[action](request.params.id, request.body?.note),
    );
  app.post<{ Params: { id: string }; Body: { overlap?: (typeof OVERLAP_POLICIES)[number] } | undefined }>(
    '/v1/schedules/:id/trigger',
    {
      config: { role: 'operator' },
      schema: {
        summary: "Fire a slot now, under the schedule's overlap policy or the one given",
        tags,
        params,
        body: object({ overlap }),
        response: { 200: { type: 'object', additionalProperties: true }, ...errors(400, 404) },
      },
    },
    async (request) => s.trigger(request.params.id, { overlap: request.body?.overlap }),
  );
  app.post<{
    Params: { id: string };
    Body: { from: string | number; to: string | number; overlap?: (typeof OVERLAP_POLICIES)[number] };
  }>(
    '/v1/schedules/:id/backfill',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Fire every slot in [from, to) through the same claim (a slot fired before is not fired again)',
        tags,
        params,
        body: object({ from: time, to: time, overlap }, ['from', 'to']),
        response: { 200: { type: 'object', additionalProperties: true }, ...errors(400, 404) },
      },
    },
    async (request) => {
      const { from, to, overlap: policy } = request.body;
      return { slots: await s.backfill(request.params.id, { from, to }, { overlap: policy }) };
    },
  );
  app.get<{ Params: { id: string }; Querystring: { count?: number } }>(
    '/v1/schedules/:id/preview',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'The next firings of a schedule (slot and firing time with its jitter)',
        tags,
        params,
        querystring: object({ count: { type: 'integer', minimum: 1, maximum: 1000, description: 'default 10' } }),
        response: { 200: { type: 'object', additionalProperties: true }, ...errors(400, 404) },
      },
    },
    async (request) => ({ firings: await s.preview(request.params.id, request.query.count ?? 10) }),
  );
};
