import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.js';
import { errors, listOf, object } from '../schemas.js';

/** GET /v1/audit: the changes authenticated callers made, newest first (a server with auth only). */
export const auditRoutes: FastifyPluginAsync<ServerContext> = async (app, { auth }) => {
  if (!auth) return;
  app.get<{ Querystring: { limit?: number } }>(
    '/v1/audit',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'The audit trail: each change an authenticated key made (operator and admin routes), newest first',
        description:
          "Run actions are also in each run's history, with the key as the actor. Starts and deploy checks " +
          'are not audited.',
        tags: ['security'],
        querystring: object({
          limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'most entries returned (default: 100)' },
        }),
        response: { 200: listOf('entries', 'AuditEntry'), ...errors(400) },
      },
    },
    async (request) => ({ entries: await auth.store.audit.list(request.query.limit ?? 100) }),
  );
};
