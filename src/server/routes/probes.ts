import type { FastifyPluginAsync } from 'fastify';
import { WaymarkError } from '../../core/errors.js';
import type { ServerContext } from '../context.js';

/**
 * GET /metrics: the engine's Prometheus metrics (text exposition). GET /ready: 200 while the engine can work (its
 * store answers, every migration applied), else 503 with the reason, so a load balancer stops sending traffic.
 */
export const probeRoutes: FastifyPluginAsync<ServerContext> = async (app, { engine }) => {
  app.get(
    '/metrics',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'Prometheus metrics (waymark_*) in the text exposition format',
        tags: ['meta'],
        response: { 200: { description: 'the metrics', type: 'string' } },
      },
    },
    async (_request, reply) => {
      const text = await engine.metrics.text();
      return reply.type(engine.metrics.contentType).send(text);
    },
  );

  app.get(
    '/ready',
    {
      config: { role: 'public' },
      schema: {
        summary: 'Readiness: the store answers and every migration is applied (503 otherwise)',
        tags: ['meta'],
        response: {
          200: { type: 'object', properties: { status: { const: 'ready' } } },
          503: {
            type: 'object',
            properties: { status: { const: 'unavailable' }, code: { type: 'string' }, reason: { type: 'string' } },
          },
        },
      },
    },
    async (_request, reply) => {
      try {
        await engine.ready();
        return { status: 'ready' };
      } catch (error) {
        const code = error instanceof WaymarkError ? error.code : 'E_STORE';
        return reply.code(503).send({ status: 'unavailable', code, reason: (error as Error).message });
      }
    },
  );
};
