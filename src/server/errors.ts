import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { httpStatusOf, WaymarkError } from '../core/errors.js';
import type { Json } from '../core/types.js';

/** The body of every error response. */
export interface ErrorBody {
  code: string;
  message: string;
  /** The bad input, e.g. 'body.version' or 'query.limit'. */
  field?: string;
  /** What is wrong with that field. */
  reason?: string;
  details?: Json;
}

/** Bad input the server itself finds (beyond the JSON schemas), naming the field. Nothing is written. */
export class FieldError extends WaymarkError {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super('E_INVALID_INPUT', `${field} ${reason}`);
  }
}

/**
 * Codes of errors the HTTP layer raises itself (before or around any route), with their status. Every other
 * code is one of ERRORS in core/errors.ts, whose status `httpStatusOf` gives on /v1 and /api alike.
 */
export const HTTP_ERRORS = {
  E_UNAUTHENTICATED: { status: 401, meaning: 'the route needs credentials: none were given, or they are not valid' },
  E_FORBIDDEN: { status: 403, meaning: "the key's role does not allow the route: nothing was done" },
  E_ROUTE_NOT_FOUND: { status: 404, meaning: 'no route has that method and path' },
  E_PAYLOAD_TOO_LARGE: { status: 413, meaning: 'the request body is larger than the server takes' },
  E_UNSUPPORTED_MEDIA_TYPE: { status: 415, meaning: 'the request body is not of a type the route reads (JSON)' },
} satisfies Record<string, { status: number; meaning: string }>;

/** The HTTP layer's code for a framework refusal of `status` (other 4xx are bad input). */
function httpLayerCode(status: number): string {
  const found = Object.entries(HTTP_ERRORS).find(([, spec]) => spec.status === status);
  return found?.[0] ?? 'E_INVALID_INPUT';
}

/** The HTTP status and body for anything a handler throws. */
export function toResponse(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof FieldError)
    return {
      status: httpStatusOf(error.code),
      body: { code: error.code, message: error.message, field: error.field, reason: error.reason },
    };
  if (error instanceof WaymarkError) {
    const body: ErrorBody = { code: error.code, message: error.message };
    if (error.details !== undefined) body.details = error.details;
    return { status: httpStatusOf(error.code), body };
  }
  const fastify = error as Partial<FastifyError>;
  if (Array.isArray(fastify.validation) && fastify.validation.length > 0)
    return { status: httpStatusOf('E_INVALID_INPUT'), body: validationBody(fastify as FastifyError) };
  const status = fastify.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return {
      status,
      body: { code: httpLayerCode(status), message: fastify.message ?? 'bad request' },
    };
  }
  return {
    status: httpStatusOf('E_INTERNAL'),
    body: { code: 'E_INTERNAL', message: 'internal error: see the server log' },
  };
}

/** What the router refuses before any route runs: a path that is not UTF-8, a path segment too long. */
const ROUTER_ERRORS: Record<string, string> = {
  FST_ERR_BAD_URL: 'are not valid percent-encoded UTF-8',
  FST_ERR_MAX_PARAM_LENGTH: 'hold a path segment longer than 1000 characters',
};

/**
 * Fastify's `frameworkErrors`: the router's refusals answered like every other bad input (400 or 414 with
 * `{ code, message, field: 'params' }`); under `conductorPrefix`, by `conductor` (Conductor's error body).
 */
export function routerErrorHandler(conductorPrefix: string, conductor: (error: FastifyError) => { status: number }) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const status = error.statusCode ?? 400;
    const reason = ROUTER_ERRORS[error.code] ?? 'are not valid';
    if (request.url.startsWith(`${conductorPrefix}/`)) {
      const body = conductor(
        Object.assign(new Error(`the path parameters ${reason}`), { statusCode: status }) as FastifyError,
      );
      return reply.code(body.status).type('application/json').send(body);
    }
    return reply
      .code(status)
      .send({ code: 'E_INVALID_INPUT', message: `params ${reason}`, field: 'params', reason } satisfies ErrorBody);
  };
}

/** Sets the one error handler and the unknown-route handler of the server. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = toResponse(error);
    if (status === 500) request.log.error({ err: error }, 'request failed');
    else if (status > 500) request.log.warn({ code: body.code }, body.message);
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    return reply
      .code(HTTP_ERRORS.E_ROUTE_NOT_FOUND.status)
      .send({ code: 'E_ROUTE_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });
}

/** A schema-validation failure as `{ code, message, field, reason }`: the first broken rule. */
function validationBody(error: FastifyError): ErrorBody {
  // A failed anyOf reports its branches' errors first; the anyOf itself says what was expected.
  const issue = error.validation!.find((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf') ?? error.validation![0]!;
  const part = error.validationContext === 'querystring' ? 'query' : (error.validationContext ?? 'body');
  const params = (issue.params ?? {}) as Record<string, unknown>;
  const path = (issue.instancePath ?? '')
    .split('/')
    .filter((s) => s !== '')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let reason = issue.message ?? 'is invalid';
  if (issue.keyword === 'required') {
    path.push(String(params.missingProperty));
    reason = 'is required';
  } else if (issue.keyword === 'additionalProperties') {
    path.push(String(params.additionalProperty));
    reason = 'is not a known property';
  } else if (issue.keyword === 'enum') {
    reason = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  } else if (issue.keyword === 'anyOf' || issue.keyword === 'oneOf') {
    const expected = (issue as { parentSchema?: { title?: unknown } }).parentSchema?.title;
    reason = typeof expected === 'string' ? `must be ${expected}` : 'has the wrong type or form (see /openapi.json)';
  }
  const field = [part, ...path.map((s, i) => (/^\d+$/.test(s) && i > 0 ? `[${s}]` : s))]
    .join('.')
    .replace(/\.\[/g, '[');
  return { code: 'E_INVALID_INPUT', message: `${field} ${reason}`, field, reason };
}
