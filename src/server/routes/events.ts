import type { FastifyPluginAsync } from 'fastify';
import type { RunChange } from '../../engine.js';
import type { ServerContext } from '../context.js';
import { object, runId } from '../schemas.js';

/** Bytes a slow client may leave unread before its stream is ended (it can reconnect). (Default: 1 MiB) */
const MAX_BUFFERED = 1_048_576;

/**
 * GET /v1/events: a Server-Sent Events stream of the run changes this server's engine commits, as
 * `event: run` with data `{ runId, events, status }`. Live only: nothing is replayed on connect (read
 * a run's history for its past); changes committed by other processes are not streamed. A comment
 * line opens the stream once it is subscribed, and another is sent every `heartbeatMs`.
 */
export const eventRoutes: FastifyPluginAsync<ServerContext> = async (app, { engine, closing, heartbeatMs }) => {
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });

  app.get<{ Querystring: { runId?: string } }>(
    '/v1/events',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'Stream committed run changes (Server-Sent Events)',
        description:
          'Each change is `event: run` with data `{ runId, events, status }` (`events`: ' +
          "the history event types committed; `status`: the run's new status, " +
          'if it changed). Live only: nothing is replayed; changes committed by other processes ' +
          'are not streamed. Comment lines: one when subscribed, then a heartbeat every 15 s.',
        tags: ['events'],
        querystring: object({ runId: { ...runId, description: "only this run's changes (default: every run's)" } }),
        response: {
          200: {
            description: 'an event stream',
            content: {
              'text/event-stream': {
                schema: {
                  type: 'object',
                  description: 'data of each `run` event',
                  required: ['runId', 'events'],
                  properties: {
                    runId: { type: 'string' },
                    events: { type: 'array', items: { type: 'string' } },
                    status: { type: 'string' },
                  },
                },
              },
            },
          },
        },
      },
    },
    (request, reply) => {
      const only = request.query.runId;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      let ended = false;
      const write = (text: string) => {
        if (ended) return;
        res.write(text);
        if (res.writableLength > MAX_BUFFERED) end();
      };
      const unsubscribe = engine.subscribe((change: RunChange) => {
        if (only === undefined || change.runId === only) write(`event: run\ndata: ${JSON.stringify(change)}\n\n`);
      });
      const heartbeat = setInterval(() => write(': heartbeat\n\n'), heartbeatMs);
      const end = () => {
        if (ended) return;
        ended = true;
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(end);
        res.end();
      };
      open.add(end);
      res.once('close', end);
      if (closing.aborted) end();
      else write(': subscribed\n\n');
    },
  );
};
