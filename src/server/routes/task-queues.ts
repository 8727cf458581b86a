import type { FastifyPluginAsync } from 'fastify';
import type { Engine } from '../../engine.js';
import type { ServerContext } from '../context.js';

/** One task queue as the dashboard shows it. */
interface QueueView {
  taskType: string;
  domain: string | null;
  depth: number;
  oldestWaitingAt: string | null;
  pollers: { workerId: string; domain: string | null; lastPollAt: string }[];
}

const nullable = (type: string, extra: Record<string, unknown> = {}) => ({ type: [type, 'null'], ...extra });

/** GET /v1/task-queues: each task type's waiting tasks and the workers that poll for it. */
export const taskQueueRoutes: FastifyPluginAsync<ServerContext> = async (app, { engine }) => {
  app.get(
    '/v1/task-queues',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'Task queues: per task type, the SCHEDULED tasks, since when the oldest waits, and who polls for it',
        description:
          'Every task type with SCHEDULED or IN_PROGRESS tasks or with recorded polls, one queue per domain ' +
          '(domain null: tasks without one), by name then domain. Each poller is listed under the domain it ' +
          "polled in. A worker's poll is recorded at most once every 5 s.",
        tags: ['tasks'],
        response: {
          200: {
            type: 'object',
            required: ['queues'],
            properties: {
              queues: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['taskType', 'domain', 'depth', 'oldestWaitingAt', 'pollers'],
                  properties: {
                    taskType: { type: 'string' },
                    domain: nullable('string'),
                    depth: { type: 'integer', description: 'SCHEDULED tasks (visible or not yet)' },
                    oldestWaitingAt: nullable('string', { format: 'date-time' }),
                    pollers: {
                      type: 'array',
                      items: {
                        type: 'object',
                        required: ['workerId', 'domain', 'lastPollAt'],
                        properties: {
                          workerId: { type: 'string' },
                          domain: nullable('string'),
                          lastPollAt: { type: 'string', format: 'date-time' },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    async () => ({ queues: await taskQueues(engine) }),
  );
};

/**
 * Every queue (a task type, per domain) with open tasks or polls, by name then domain (none first), with its depth
 * and pollers (most recent poll first).
 */
export async function taskQueues(engine: Engine): Promise<QueueView[]> {
  const [depths, polls] = await Promise.all([engine.tasks.depths(), engine.tasks.pollData()]);
  const queues = new Map<string, QueueView>();
  const queueOf = (taskType: string, domain: string | null) => {
    const key = JSON.stringify([taskType, domain]);
    let queue = queues.get(key);
    if (!queue) {
      queue = { taskType, domain, depth: 0, oldestWaitingAt: null, pollers: [] };
      queues.set(key, queue);
    }
    return queue;
  };
  for (const d of depths) {
    const queue = queueOf(d.taskType, d.domain ?? null);
    queue.depth = d.depth;
    queue.oldestWaitingAt = d.oldestVisibleAt === null ? null : new Date(Number(d.oldestVisibleAt)).toISOString();
  }
  for (const p of [...polls].sort((a, b) => b.lastPollAt - a.lastPollAt))
    queueOf(p.taskType, p.domain).pollers.push({
      workerId: p.workerId,
      domain: p.domain,
      lastPollAt: new Date(p.lastPollAt).toISOString(),
    });
  const order = (q: QueueView) => `${q.taskType}\u0000${q.domain ?? ''}`;
  return [...queues.values()].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}
