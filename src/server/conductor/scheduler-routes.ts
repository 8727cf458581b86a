import type { FastifyInstance } from 'fastify';
import type { Json } from '../../core/types.js';
import type { Engine } from '../../engine.js';
import { previewTiming } from '../../schedules/schedules.js';
import type { ScheduleRecord } from '../../store/types.js';
import { badRequest } from './errors.js';
import { bodyObject, integer, objectField, sendJson, text } from './replies.js';
import { forOperators, forReaders } from './route-roles.js';

/** Conductor's 6-field cron (seconds first, Spring style) for croner: '?' (no specific value) is '*'. */
export function conductorCron(expression: string): string {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6)
    throw badRequest('cronExpression', `cronExpression must have 6 fields (second first), got '${expression}'`);
  return fields.map((f) => (f === '?' ? '*' : f)).join(' ');
}

/** A schedule as Conductor's WorkflowSchedule. */
function scheduleJson(s: ScheduleRecord): Record<string, unknown> {
  return {
    name: s.id,
    cronExpression: s.cron,
    zoneId: s.timezone ?? 'UTC',
    paused: s.paused,
    pausedReason: s.paused ? s.note : null,
    runCatchupScheduleInstances: s.catchUpWindowMs > 0,
    scheduleStartTime: s.startAt,
    scheduleEndTime: s.endAt,
    createTime: s.createdAt,
    updatedTime: s.updatedAt,
    startWorkflowRequest: { name: s.workflow, version: s.version, input: s.input ?? {} },
  };
}

/** The schedule a Conductor WorkflowSchedule body asks for. */
function specOf(body: Record<string, unknown>) {
  const name = typeof body.name === 'string' ? body.name : undefined;
  if (!name) throw badRequest('name', 'name is required');
  const request = objectField(body, 'startWorkflowRequest');
  const workflow = typeof request?.name === 'string' ? request.name : undefined;
  if (!workflow) throw badRequest('startWorkflowRequest.name', 'startWorkflowRequest.name is required');
  if (typeof body.cronExpression !== 'string') throw badRequest('cronExpression', 'cronExpression is required');
  const version = typeof request!.version === 'number' ? request!.version : null;
  const time = (field: string) => (typeof body[field] === 'number' && body[field] ? (body[field] as number) : null);
  return {
    id: name,
    workflow,
    version,
    input: (request!.input ?? {}) as Json,
    cron: conductorCron(body.cronExpression),
    timezone: typeof body.zoneId === 'string' ? body.zoneId : 'UTC',
    startAt: time('scheduleStartTime'),
    endAt: time('scheduleEndTime'),
    paused: body.paused === true,
    ...(body.runCatchupScheduleInstances === false ? { catchUpWindow: 0 } : {}),
  };
}

/**
 * Conductor's scheduler API over `engine.schedules`: save (create or replace), get, list, delete, pause, resume, the
 * next firings of a cron expression, and the executions (slots) of schedules.
 */
export function schedulerRoutes(app: FastifyInstance, engine: Engine): void {
  const s = engine.schedules;
  app.get('/scheduler/schedules', forReaders, async (_request, reply) =>
    sendJson(reply, (await s.list()).map(scheduleJson)),
  );
  app.post('/scheduler/schedules', forOperators, async (request, reply) => {
    const { id, ...spec } = specOf(bodyObject(request.body, 'WorkflowSchedule'));
    const exists = (await s.list()).some((x) => x.id === id);
    if (exists) await s.update(id, spec);
    else await s.create({ id, ...spec });
    return sendJson(reply, null);
  });
  app.get<{ Params: { name: string } }>('/scheduler/schedules/:name', forReaders, async (request, reply) =>
    sendJson(reply, scheduleJson(await s.get(request.params.name))),
  );
  app.delete<{ Params: { name: string } }>('/scheduler/schedules/:name', forOperators, async (request, reply) => {
    await s.delete(request.params.name);
    return sendJson(reply, null);
  });
  for (const action of ['pause', 'resume'] as const)
    app.get<{ Params: { name: string }; Querystring: Record<string, unknown> }>(
      `/scheduler/schedules/:name/${action}`,
      forOperators,
      async (request, reply) => {
        await s[action](request.params.name, text(request.query, 'reason'));
        return sendJson(reply, null);
      },
    );
  app.get<{ Querystring: Record<string, unknown> }>(
    '/scheduler/nextFewSchedules',
    forReaders,
    async (request, reply) => {
      const q = request.query;
      const expression = text(q, 'cronExpression');
      if (!expression) throw badRequest('cronExpression', 'cronExpression is required');
      const startAt = integer(q, 'scheduleStartTime', { min: 0 }) ?? null;
      const endAt = integer(q, 'scheduleEndTime', { min: 0 }) ?? null;
      const limit = integer(q, 'limit', { min: 1, max: 1000, fallback: 3 });
      const timing = {
        cron: conductorCron(expression),
        timezone: null,
        intervalMs: null,
        startAt,
        endAt: endAt || null,
      };
      return sendJson(
        reply,
        previewTiming(timing, limit, Date.now()).map((slot) => slot.slotAt),
      );
    },
  );
  app.get<{ Querystring: Record<string, unknown> }>(
    '/scheduler/search/executions',
    forReaders,
    async (request, reply) => {
      const q = request.query;
      const start = integer(q, 'start', { min: 0, fallback: 0 });
      const size = integer(q, 'size', { min: 1, max: 1000, fallback: 100 });
      const only = text(q, 'scheduleName', 'freeText');
      const schedules = (await s.list()).filter((x) => !only || only === '*' || x.id === only);
      const executions = [];
      for (const schedule of schedules)
        for (const slot of await s.slots(schedule.id, start + size))
          executions.push({
            executionId: slot.runId ?? `${schedule.id}:${slot.slotAt}`,
            scheduleName: schedule.id,
            scheduledTime: slot.slotAt,
            executionTime: slot.recordedAt,
            workflowName: schedule.workflow,
            workflowId: slot.decision === 'started' ? slot.runId : null,
            reason: slot.decision === 'started' ? null : slot.decision,
            state: slot.decision === 'started' ? 'EXECUTED' : slot.decision === 'buffered' ? 'POLLED' : 'FAILED',
            zoneId: schedule.timezone ?? 'UTC',
          });
      executions.sort((a, b) => b.scheduledTime - a.scheduledTime);
      return sendJson(reply, { totalHits: executions.length, results: executions.slice(start, start + size) });
    },
  );
}
