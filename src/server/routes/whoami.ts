import type { FastifyPluginAsync } from 'fastify';
import { ROLES } from '../../core/roles.js';
import { actorName } from '../auth/authenticator.js';
import type { ServerContext } from '../context.js';

/** GET /v1/whoami: who the caller is to this server (without auth: nobody, with every right). */
export const whoamiRoutes: FastifyPluginAsync<ServerContext> = async (app, { auth }) => {
  app.get(
    '/v1/whoami',
    {
      config: { role: 'reader' },
      schema: {
        summary: "The caller's actor and role, and whether the server requires credentials",
        description: "Without auth every caller may do everything: { actor: null, role: 'admin', auth: false }.",
        tags: ['security'],
        response: {
          200: {
            type: 'object',
            required: ['actor', 'role', 'auth'],
            properties: {
              actor: { type: ['string', 'null'], description: "the actor actions record: 'key:<keyId> (<name>)'" },
              role: { type: 'string', enum: [...ROLES] },
              auth: { type: 'boolean', description: 'whether the server requires credentials' },
            },
          },
        },
      },
    },
    async (request) => {
      const { identity } = request;
      if (!auth || !identity) return { actor: null, role: 'admin', auth: auth !== undefined };
      return { actor: actorName(identity), role: identity.role, auth: true };
    },
  );
};
