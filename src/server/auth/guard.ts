import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { WaymarkError } from '../../core/errors.js';
import { isRouteRole, ROLES, roleAllows, rolesAllowed, type RouteRole } from '../../core/roles.js';
import { storableText } from '../../core/text.js';
import { ConductorError, toConductorError } from '../conductor/errors.js';
import { actorName, type Authenticator, type Identity } from './authenticator.js';
import { credentialOf } from './credentials.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a caller needs to call the route (see core/roles.ts). Every route declares it: one without is refused. */
    role?: RouteRole;
    /** Whether a successful call goes to the audit trail. (Default: every non-GET operator and admin route) */
    audit?: boolean;
  }
  interface FastifyRequest {
    /** The key the request authenticated with; undefined on a server without auth and on public routes. */
    identity?: Identity;
  }
}

/** One route as the guard knows it. */
export interface GuardedRoute {
  method: string;
  url: string;
  role: RouteRole;
  audited: boolean;
}

const tables = new WeakMap<FastifyInstance, GuardedRoute[]>();

/** Every route of a server built by buildServer, with the role it needs (HEAD routes included). */
export function guardedRoutes(app: FastifyInstance): readonly GuardedRoute[] {
  return tables.get(app) ?? [];
}

/**
 * Makes every route declare its role (`config: { role }`): registering one without fails the server's start.
 * With `auth`, every request but those of public routes must carry a credential of a key whose role grants the
 * route's (401 otherwise, 403 when the role does not), before its body is read; and each successful change an
 * operator or admin route makes is written to the audit trail with the key that made it.
 */
export function installGuard(app: FastifyInstance, auth: Authenticator | undefined): void {
  const routes: GuardedRoute[] = [];
  tables.set(app, routes);
  app.decorateRequest('identity', undefined);
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const role = route.config?.role;
    if (!isRouteRole(role)) {
      throw new WaymarkError(
        'E_INVALID_INPUT',
        `route ${methods.join(',')} ${route.url} declares no role: give it config: { role } with one of ` +
          `${[...ROLES, 'public'].map((r) => `'${r}'`).join(', ')}`,
      );
    }
    for (const method of methods)
      routes.push({ method, url: route.url, role, audited: isAudited(method, role, route.config?.audit) });
  });
  if (!auth) return;

  app.addHook('onRequest', async (request, reply) => {
    if (request.is404) return;
    const needed = request.routeOptions.config.role ?? 'admin';
    if (needed === 'public') return;
    const credential = credentialOf(request.headers);
    if (!credential)
      return refuse(request, reply, 401, {
        code: 'E_UNAUTHENTICATED',
        error: 'INVALID_TOKEN',
        message:
          'this route needs credentials: send X-Authorization: <token> (from POST /api/token) or ' +
          'Authorization: Bearer <token> or <keyId>:<keySecret>',
      });
    const outcome = await auth.authenticate(credential);
    if (!outcome.ok)
      return refuse(request, reply, 401, { code: 'E_UNAUTHENTICATED', error: outcome.error, message: outcome.message });
    const { identity } = outcome;
    if (!roleAllows(identity.role, needed)) {
      const allowed = rolesAllowed(needed);
      return refuse(request, reply, 403, {
        code: 'E_FORBIDDEN',
        message:
          `${request.method} ${request.routeOptions.url} needs the ${needed} role ` +
          `(keys of role ${allowed.join(' or ')}); key '${identity.keyId}' is ${identity.role}`,
        details: { needs: needed, allowed, role: identity.role, keyId: identity.keyId },
      });
    }
    request.identity = identity;
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const { identity } = request;
    const config = request.routeOptions.config;
    if (!identity || reply.statusCode >= 400 || request.is404 || !config.role) return payload;
    if (!isAudited(request.method, config.role, config.audit)) return payload;
    const given = (request.body as { actor?: unknown } | undefined)?.actor;
    try {
      await auth.store.audit.append({
        at: new Date(),
        actor: actorName(identity),
        keyId: identity.keyId,
        action: `${request.method} ${request.routeOptions.url}`,
        target: storableText(request.url.split('?')[0]!.slice(0, 2000)),
        status: reply.statusCode,
        note: typeof given === 'string' ? storableText(`actor given: ${given}`) : null,
      });
    } catch (error) {
      // The change is made: the caller hears of it; the log says the trail lacks it.
      request.log.error(
        { err: error, keyId: identity.keyId, url: request.url },
        'the audit trail could not be written',
      );
    }
    return payload;
  });
}

/** Whether successful calls of a route go to the audit trail: as declared, else non-GET operator and admin ones. */
function isAudited(method: string, role: RouteRole, declared: boolean | undefined): boolean {
  return declared ?? (method !== 'GET' && method !== 'HEAD' && (role === 'operator' || role === 'admin'));
}

export interface Refusal {
  code: 'E_UNAUTHENTICATED' | 'E_FORBIDDEN';
  message: string;
  /** Conductor's token error, which its SDKs answer by getting a new token. */
  error?: string;
  details?: Record<string, unknown>;
}

/** Answers 401 or 403 in the surface's own error body (Conductor's under /api), with `code` and `error`. */
export function refuse(
  request: FastifyRequest,
  reply: FastifyReply,
  status: 401 | 403,
  refusal: Refusal,
): FastifyReply {
  const { code, message, error, details } = refusal;
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="waymark"');
  const extra = { ...(error ? { error } : {}), ...(details ? { details } : {}) };
  if (request.url.startsWith('/api/')) {
    const body = { ...toConductorError(new ConductorError(status, message)), code, ...extra };
    return reply.code(status).type('application/json').send(body);
  }
  return reply.code(status).send({ code, message, ...extra });
}

/**
 * The actor and reason an action records. Without auth, as the caller gave them. With auth, the actor is the
 * key ('key:<keyId> (<name>)'); an actor the caller gave is kept in the reason, as a note.
 */
export function actingAs<T extends { actor?: string; reason?: string }>(request: FastifyRequest, options: T): T {
  const { identity } = request;
  if (!identity) return options;
  const given = options.actor;
  const reason =
    given === undefined ? options.reason : `${options.reason ?? '(no reason given)'} (actor given: ${given})`;
  return { ...options, actor: actorName(identity), ...(reason === undefined ? {} : { reason }) };
}
