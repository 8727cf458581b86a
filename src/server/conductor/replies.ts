import type { FastifyReply } from 'fastify';
import { badRequest } from './errors.js';
import { badTextAnywhere, textProblem } from '../request-guards.js';

/**
 * Answers in Conductor's conventions: ids as text/plain bare strings, void answers as an empty 200
 * (Content-Length 0) or a 204 without a content type, whatever the client's Accept header says.
 */
export function sendId(reply: FastifyReply, id: string): FastifyReply {
  return reply.code(200).type('text/plain; charset=utf-8').send(id);
}

/** 200 with an empty body and Content-Length 0. */
export function sendEmpty(reply: FastifyReply): FastifyReply {
  reply.removeHeader('content-type');
  return reply.code(200).header('content-length', '0').send();
}

/** 204: no body, no content type. */
export function sendNoContent(reply: FastifyReply): FastifyReply {
  reply.removeHeader('content-type');
  return reply.code(204).send();
}

/** A JSON answer, declared as such (bare numbers and arrays included). */
export function sendJson(reply: FastifyReply, value: unknown, status = 200): FastifyReply {
  return reply.code(status).type('application/json').send(JSON.stringify(value));
}

type Query = Record<string, unknown>;

/** A query parameter's text (the first, when repeated); `""` counts as absent. */
export function text(query: Query, ...names: string[]): string | undefined {
  for (const name of names) {
    const raw = query[name];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/** An integer query parameter within bounds, else 400 naming it. */
export function integer(query: Query, name: string, rule: { min?: number; max?: number; fallback: number }): number;
export function integer(
  query: Query,
  name: string,
  rule: { min?: number; max?: number; fallback?: undefined },
): number | undefined;
export function integer(
  query: Query,
  name: string,
  rule: { min?: number; max?: number; fallback?: number },
): number | undefined {
  const value = text(query, name);
  if (value === undefined) return rule.fallback;
  const n = Number(value);
  const min = rule.min ?? Number.MIN_SAFE_INTEGER;
  const max = rule.max ?? Number.MAX_SAFE_INTEGER;
  if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
    const from = rule.min !== undefined ? ` from ${min}` : '';
    const to = rule.max !== undefined ? ` to ${max}` : '';
    throw badRequest(name, `${name} must be an integer${from}${to}, got '${value}'`, value);
  }
  return n;
}

/** A boolean query parameter ('true'/'false', any case), else 400 naming it. */
export function boolean(query: Query, name: string, fallback: boolean): boolean {
  const value = text(query, name);
  if (value === undefined) return fallback;
  const lower = value.toLowerCase();
  if (lower !== 'true' && lower !== 'false')
    throw badRequest(name, `${name} must be true or false, got '${value}'`, value);
  return lower === 'true';
}

/** A JSON object body field (absent or null -> undefined), else 400 naming it. */
export function objectField(body: Record<string, unknown>, name: string): Record<string, unknown> | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest(name, `${name} must be a JSON object`, value);
  return value as Record<string, unknown>;
}

/** The request body as an object: absent -> {}; anything but an object -> 400. */
export function bodyObject(body: unknown, what: string): Record<string, unknown> {
  if (body === undefined || body === null || body === '') return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('body', `${what} must be a JSON object`, body);
  return body as Record<string, unknown>;
}

/** 400 naming `path` when a name, id or reason in a body holds a NUL character or a lone surrogate. */
export function checkedText<T>(value: T, path: string): T {
  const reason = typeof value === 'string' ? textProblem(value) : undefined;
  if (reason) throw badRequest(path, `${path} ${reason}`, null);
  return value;
}

/**
 * 400 naming the first string (or key) anywhere in `value` with a
 * NUL character or a lone surrogate: for definitions and log lines.
 */
export function checkedTextAnywhere<T>(value: T, path: string): T {
  const problem = badTextAnywhere(value, path);
  if (problem) throw badRequest(problem.field, `${problem.field} ${problem.reason}`, null);
  return value;
}
