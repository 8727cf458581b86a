import type { FastifyInstance } from 'fastify';
import type { Engine } from '../../engine.js';
import type { PollRecord } from '../../store/types.js';
import { badRequest } from './errors.js';
import { sendJson, text } from './replies.js';
import { forReaders } from './route-roles.js';

/** Conductor's PollData: a worker's last poll of a queue (`domain:taskType` in a domain, else the task type). */
export function pollDataJson(poll: PollRecord): Record<string, unknown> {
  return {
    queueName: poll.domain === null ? poll.taskType : `${poll.domain}:${poll.taskType}`,
    domain: poll.domain,
    workerId: poll.workerId,
    lastPollTime: poll.lastPollAt,
  };
}

/**
 * Conductor's queue views (TaskResource): poll data of one task type or of all, and each queue's size, plainly
 * (`{ taskType: size }`) or verbosely as Conductor's one-shard detail (`{ taskType: { a: { size, uacked } } }`,
 * uacked being the tasks handed out and not yet reported on). A queue is every task type (per domain, named
 * `domain:taskType` as Conductor names it) with open tasks or polls.
 */
export function queueRoutes(app: FastifyInstance, engine: Engine): void {
  app.get<{ Querystring: Record<string, unknown> }>('/tasks/queue/polldata', forReaders, async (request, reply) => {
    const type = text(request.query, 'taskType');
    if (type === undefined) throw badRequest('taskType', 'taskType is required');
    return sendJson(reply, (await engine.tasks.pollData(type)).map(pollDataJson));
  });

  app.get('/tasks/queue/polldata/all', forReaders, async (_request, reply) =>
    sendJson(reply, (await engine.tasks.pollData()).map(pollDataJson)),
  );

  app.get('/tasks/queue/all', forReaders, async (_request, reply) => {
    const sizes: Record<string, number> = Object.create(null);
    for (const queue of await queuesOf(engine)) sizes[queue.taskType] = queue.depth;
    return sendJson(reply, sizes);
  });

  app.get('/tasks/queue/all/verbose', forReaders, async (_request, reply) => {
    const detail: Record<string, unknown> = Object.create(null);
    for (const queue of await queuesOf(engine))
      detail[queue.taskType] = { a: { size: queue.depth, uacked: queue.inProgress } };
    return sendJson(reply, detail);
  });
}

/** A queue's name as Conductor shows it: `domain:taskType` for a domain's tasks, else the task type. */
const queueName = (taskType: string, domain: string | null) => (domain === null ? taskType : `${domain}:${taskType}`);

/**
 * Every queue (task type, and domain when its tasks have one) with open tasks or polls, by name, with its
 * SCHEDULED and IN_PROGRESS counts.
 */
async function queuesOf(engine: Engine): Promise<{ taskType: string; depth: number; inProgress: number }[]> {
  const [depths, polls] = await Promise.all([engine.tasks.depths(), engine.tasks.pollData()]);
  const queues = new Map(
    depths.map((d) => {
      const name = queueName(d.taskType, d.domain ?? null);
      return [name, { taskType: name, depth: d.depth, inProgress: d.inProgress }];
    }),
  );
  for (const poll of polls) {
    const name = queueName(poll.taskType, poll.domain);
    if (!queues.has(name)) queues.set(name, { taskType: name, depth: 0, inProgress: 0 });
  }
  return [...queues.values()].sort((a, b) => (a.taskType < b.taskType ? -1 : a.taskType > b.taskType ? 1 : 0));
}
