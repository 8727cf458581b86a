import { hostname } from 'node:os';
import type { FastifyError, FastifyInstance } from 'fastify';
import { httpStatusOf, isRetryable, WaymarkError } from '../../core/errors.js';
import { FieldError } from '../errors.js';

/** One bad field, as Conductor clients read it. */
export interface ValidationError {
  path: string;
  message: string;
  invalidValue: unknown;
}

/** The body of every error answered under /api (Conductor's shape, not Waymark's `{code, ...}`). */
export interface ConductorErrorBody {
  status: number;
  message: string;
  /** The server that answered. */
  instance: string;
  /** Whether the same request may succeed later unchanged. */
  retryable: boolean;
  validationErrors: ValidationError[];
  /** Waymark's error code, when the engine raised it: scripts may match on it. */
  code?: string;
}

/** An error raised by the Conductor layer itself, with its HTTP status. */
export class ConductorError extends Error {
  override name = 'ConductorError';
  constructor(
    readonly status: number,
    message: string,
    readonly validationErrors: ValidationError[] = [],
    readonly retryable = false,
  ) {
    super(message);
  }
}

/** 400 naming the bad field. */
export const badRequest = (path: string, message: string, invalidValue?: unknown) =>
  new ConductorError(400, message, [{ path, message, invalidValue: invalidValue ?? null }]);
export const notFound = (message: string) => new ConductorError(404, message);
export const conflict = (message: string) => new ConductorError(409, message);

const INSTANCE = hostname();

/**
 * The HTTP status and Conductor error body for anything an /api handler throws: a WaymarkError's status and
 * `retryable` come from ERRORS (the same status /v1 answers), a ConductorError's from the Conductor layer.
 */
export function toConductorError(error: unknown): ConductorErrorBody {
  const body = (
    status: number,
    message: string,
    retryable = false,
    validationErrors: ValidationError[] = [],
  ): ConductorErrorBody => ({
    status,
    message,
    instance: INSTANCE,
    retryable,
    validationErrors,
  });
  if (error instanceof ConductorError)
    return body(error.status, error.message, error.retryable, error.validationErrors);
  if (error instanceof WaymarkError) {
    const problems =
      error instanceof FieldError
        ? [{ path: error.field.replace(/^(params|query)\./, ''), message: error.reason, invalidValue: null }]
        : validationErrorsOf(error);
    return {
      ...body(httpStatusOf(error.code), error.message, isRetryable(error.code), problems),
      code: error.code,
    };
  }
  const fastify = error as Partial<FastifyError>;
  const status = fastify.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500)
    return body(status, fastify.message ?? 'bad request');
  return body(httpStatusOf('E_INTERNAL'), 'internal error: see the server log', isRetryable('E_INTERNAL'));
}

/**
 * The validation problems a WaymarkError carries (`details.validationErrors`), else one naming its field, else none.
 */
function validationErrorsOf(error: WaymarkError): ValidationError[] {
  const details = error.details as { validationErrors?: unknown; field?: unknown } | null | undefined;
  if (details && Array.isArray(details.validationErrors)) {
    return details.validationErrors.map((v: { path?: unknown; message?: unknown; invalidValue?: unknown }) => ({
      path: String(v?.path ?? ''),
      message: String(v?.message ?? ''),
      invalidValue: v?.invalidValue ?? null,
    }));
  }
  return [];
}

/** Answers errors and unknown routes of the plugin's scope (everything under /api) with Conductor's error body. */
export function installConductorErrors(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const body = toConductorError(error);
    if (body.status >= 500 && body.status !== 501) request.log.error({ err: error }, 'request failed');
    return reply.code(body.status).type('application/json').send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const body = toConductorError(new ConductorError(404, `no route ${request.method} ${request.url.split('?')[0]}`));
    return reply.code(404).type('application/json').send(body);
  });
}
