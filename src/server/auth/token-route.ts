import type { FastifyInstance } from 'fastify';
import { badRequest } from '../conductor/errors.js';
import { checkedText, sendJson } from '../conductor/replies.js';
import type { Authenticator } from './authenticator.js';
import { refuse } from './guard.js';

/**
 * Conductor's POST /api/token: `{ keyId, keySecret }` gives `{ token }`, accepted by every server of the store
 * until it expires (or its key is revoked). Registered only with auth: without, it is 404, which Conductor's
 * SDKs take as a server without auth.
 */
export function tokenRoute(app: FastifyInstance, auth: Authenticator): void {
  app.post('/token', { schema: { hide: true }, config: { role: 'public', audit: false } }, async (request, reply) => {
    // Nothing of the body is echoed in a refusal: it holds a secret.
    const raw = request.body;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      throw badRequest('body', 'a token request must be a JSON object: { "keyId", "keySecret" }');
    const body = raw as Record<string, unknown>;
    for (const field of ['keyId', 'keySecret']) {
      const value = body[field];
      if (typeof value !== 'string' || value === '') throw badRequest(field, `${field} is required`);
      checkedText(value, field);
    }
    const issued = await auth.issueToken(body.keyId as string, body.keySecret as string);
    if ('ok' in issued)
      return refuse(request, reply, 401, {
        code: 'E_UNAUTHENTICATED',
        error: 'INVALID_CREDENTIALS',
        message: `no token: ${issued.message}`,
      });
    return sendJson(reply, { token: issued.token });
  });
}
