import type { FastifyInstance, FastifyReply } from 'fastify';
import { MAX_DURATION_MS } from '../../core/duration.js';
import { isTerminalTask, type TaskResult } from '../../core/tasks.js';
import type { Json } from '../../core/types.js';
import type { Engine } from '../../engine.js';
import { badRequest, conflict } from './errors.js';
import { MAX_POLL_WAIT_MS, pollLimited, type PollHub } from './long-poll.js';
import {
  bodyObject,
  checkedText,
  checkedTextAnywhere,
  integer,
  objectField,
  sendEmpty,
  sendId,
  sendJson,
  sendNoContent,
  text,
} from './replies.js';
import { taskJson, taskLogs } from './task-shape.js';
import { reportByRef } from './signal-routes.js';
import { forReaders, forWorkers } from './route-roles.js';

/** Longest callbackAfterSeconds: 100 years. */
const MAX_CALLBACK_S = MAX_DURATION_MS / 1000;
const REPORT_STATUSES: TaskResult['status'][] = ['IN_PROGRESS', 'COMPLETED', 'FAILED', 'FAILED_WITH_TERMINAL_ERROR'];

type Query = Record<string, unknown>;

/** Conductor's task endpoints: workers poll, report and log; operators look tasks up. */
export function taskRoutes(app: FastifyInstance, engine: Engine, hub: PollHub): void {
  app.get<{ Params: { tasktype: string }; Querystring: Query }>(
    '/tasks/poll/batch/:tasktype',
    forWorkers,
    async (request, reply) => {
      // Larger asks are served as far as the server goes: at most 1000 tasks, at most MAX_POLL_WAIT_MS of waiting.
      const count = Math.min(1000, integer(request.query, 'count', { min: 1, fallback: 1 }));
      const timeout = Math.min(MAX_POLL_WAIT_MS, integer(request.query, 'timeout', { min: 0, fallback: 100 }));
      const gone = untilGone(reply);
      try {
        const { tasktype } = request.params;
        const tasks = await hub.wait(
          tasktype,
          workerOf(request.query),
          count,
          timeout,
          gone.signal,
          domainOf(request.query),
        );
        return sendJson(
          reply,
          tasks.map((t) => taskJson(t)),
        );
      } finally {
        gone.release();
      }
    },
  );

  app.get<{ Params: { tasktype: string }; Querystring: Query }>(
    '/tasks/poll/:tasktype',
    forWorkers,
    async (request, reply) => {
      const { tasktype } = request.params;
      const [task] = await pollLimited(engine, tasktype, workerOf(request.query), 1, domainOf(request.query));
      return task ? sendJson(reply, taskJson(task)) : sendNoContent(reply);
    },
  );

  app.post('/tasks', forWorkers, async (request, reply) => {
    const { taskId, result } = taskResultOf(request.body);
    await engine.tasks.report(taskId, result);
    return sendId(reply, taskId);
  });

  app.post('/tasks/update-v2', forWorkers, async (request, reply) => {
    const { taskId, result } = taskResultOf(request.body);
    const task = await engine.tasks.report(taskId, result);
    if (result.status === 'IN_PROGRESS') return sendNoContent(reply);
    // The worker is free: hand it the next task of the same type at once, when one is ready.
    const [next] = await pollLimited(engine, task.taskType, result.workerId ?? task.workerId ?? '', 1, task.domain);
    return next ? sendJson(reply, taskJson(next)) : sendNoContent(reply);
  });

  app.post<{ Params: { workflowId: string; taskRefName: string; status: string }; Querystring: Query }>(
    '/tasks/:workflowId/:taskRefName/:status',
    forWorkers,
    async (request, reply) => {
      const { workflowId, taskRefName, status } = request.params;
      if (!REPORT_STATUSES.includes(status as TaskResult['status']))
        throw badRequest('status', `status must be one of ${REPORT_STATUSES.join(', ')}, got '${status}'`, status);
      const output = bodyObject(request.body, 'the task output') as Record<string, Json>;
      const workerId = text(request.query, 'workerid', 'workerId');
      return sendId(reply, await reportByRef(engine, workflowId, taskRefName, status, output, workerId));
    },
  );

  app.get<{ Querystring: Query }>('/tasks/queue/size', forReaders, async (request, reply) => {
    const type = text(request.query, 'taskType');
    if (type === undefined) throw badRequest('taskType', 'taskType is required');
    return sendJson(reply, await engine.tasks.queueSize(type));
  });

  app.get<{ Querystring: Query }>('/tasks/queue/sizes', forReaders, async (request, reply) => {
    const raw = request.query.taskType;
    const types = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw])
      .flatMap((t) => String(t).split(','))
      .filter((t) => t !== '');
    const sizes: Record<string, number> = Object.create(null);
    for (const type of types) sizes[type] = await engine.tasks.queueSize(type);
    return sendJson(reply, sizes);
  });

  app.get<{ Params: { taskId: string } }>('/tasks/:taskId', forReaders, async (request, reply) =>
    sendJson(reply, taskJson(await engine.tasks.get(request.params.taskId))),
  );

  app.get<{ Params: { taskId: string } }>('/tasks/:taskId/log', forReaders, async (request, reply) => {
    const logs = taskLogs(await engine.tasks.get(request.params.taskId));
    return logs.length ? sendJson(reply, logs) : sendNoContent(reply);
  });

  app.post<{ Params: { taskId: string } }>('/tasks/:taskId/log', forWorkers, async (request, reply) => {
    const line = logLine(request.body);
    const task = await engine.tasks.get(request.params.taskId);
    if (isTerminalTask(task.status)) throw conflict(`task '${task.taskId}' is ${task.status}: its log is closed`);
    // A log line is progress: it goes with an IN_PROGRESS report that
    // keeps the task where it is (and restarts its response timeout).
    await engine.tasks.report(task.taskId, { status: 'IN_PROGRESS', extendLease: true, logs: [line] });
    return sendEmpty(reply);
  });
}

/** The domain a worker polls in (kept in the poll data); null when none or empty. */
/** The domain a poll asks for (`?domain=`); absent or empty: tasks routed to no domain. */
const domainOf = (query: Query) => text(query, 'domain') || undefined;

/** The worker's id from `workerid` (Conductor's spelling) or `workerId`. */
const workerOf = (query: Query) => text(query, 'workerid', 'workerId') ?? '';

/** A TaskResult body as Waymark's report. Unknown fields are ignored. */
export function taskResultOf(body: unknown): { taskId: string; result: TaskResult } {
  const b = bodyObject(body, 'a TaskResult');
  for (const field of ['taskId', 'workerId', 'reasonForIncompletion']) checkedText(b[field], field);
  if (Array.isArray(b.logs)) checkedTextAnywhere(b.logs, 'logs');
  const taskId = b.taskId;
  if (typeof taskId !== 'string' || taskId === '') throw badRequest('taskId', 'taskId is required', taskId);
  const status = b.status;
  if (!REPORT_STATUSES.includes(status as TaskResult['status']))
    throw badRequest('status', `status must be one of ${REPORT_STATUSES.join(', ')}`, status);
  const result: TaskResult = { status: status as TaskResult['status'] };
  const output = objectField(b, 'outputData');
  if (output !== undefined) result.output = output as Json;
  if (typeof b.reasonForIncompletion === 'string' && b.reasonForIncompletion !== '')
    result.reason = b.reasonForIncompletion;
  if (typeof b.workerId === 'string' && b.workerId !== '') result.workerId = b.workerId;
  const callback = b.callbackAfterSeconds;
  if (
    callback !== undefined &&
    callback !== null &&
    !(typeof callback === 'number' && Number.isFinite(callback) && callback >= 0 && callback <= MAX_CALLBACK_S)
  ) {
    throw badRequest(
      'callbackAfterSeconds',
      `callbackAfterSeconds must be a number from 0 to ${MAX_CALLBACK_S} (100 years)`,
      callback,
    );
  }
  // IN_PROGRESS with a positive callback: handed out again after it. Without one, the task stays with its worker.
  if (typeof callback === 'number' && callback > 0) result.callbackAfterMs = callback * 1000;
  if (b.extendLease === true) result.extendLease = true;
  if (Array.isArray(b.logs)) {
    const logs = b.logs.map(logLine).filter((l) => l !== '');
    if (logs.length) result.logs = logs;
  }
  return { taskId, result };
}

/** A log entry: a string, `{ log }`, or anything else as its JSON. */
function logLine(value: unknown): string {
  checkedTextAnywhere(value, 'body');
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { log?: unknown }).log === 'string')
    return (value as { log: string }).log;
  if (value === undefined || value === null) throw badRequest('body', 'a log line is required');
  return JSON.stringify(value);
}

/** Aborts when the client goes away (the hub itself ends every wait when the server closes). */
function untilGone(reply: FastifyReply): { signal: AbortSignal; release(): void } {
  const stop = new AbortController();
  const abort = () => stop.abort();
  reply.raw.once('close', abort);
  return { signal: stop.signal, release: () => reply.raw.removeListener('close', abort) };
}
