import type { ErrorCode } from '../index.js';
import { UsageError } from './errors.js';

/** Help text of every command's --server option. */
export const SERVER_HELP = 'Waymark server URL (default: $WAYMARK_SERVER or http://127.0.0.1:8080)';

/** Help text of every command's --key option. */
export const KEY_HELP =
  'API key of a server with --auth, as <keyId>:<secret> (default: $WAYMARK_KEY, which keeps it out of ps)';

/** The server used when neither --server nor $WAYMARK_SERVER names one. */
export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

/** Longest wait for one answer from the server, in ms. (Default: 30000) */
const REQUEST_TIMEOUT_MS = 30_000;

/** Options every command that talks to a server takes. */
export interface ServerOptions {
  server?: string;
  key?: string;
}

/**
 * The server's root URL: `--server`, else $WAYMARK_SERVER, else http://127.0.0.1:8080. A URL ending in `/api`
 * (how Conductor clients name a server) means the same server.
 */
export function serverUrl(options: ServerOptions): string {
  const given = (options.server ?? process.env.WAYMARK_SERVER ?? DEFAULT_SERVER).trim();
  const from =
    options.server !== undefined
      ? '--server'
      : process.env.WAYMARK_SERVER !== undefined
        ? '$WAYMARK_SERVER'
        : 'the default server';
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new UsageError(`${from} must be an http:// or https:// URL, e.g. ${DEFAULT_SERVER}, got '${given}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`${from} must be an http:// or https:// URL, e.g. ${DEFAULT_SERVER}, got '${given}'`);
  url.search = '';
  url.hash = '';
  return url
    .toString()
    .replace(/\/+$/, '')
    .replace(/\/api$/, '');
}

/**
 * A request the server refused or failed: the status, its Conductor error body, and one line saying what went wrong.
 */
export class ServerError extends Error {
  override name = 'ServerError';
  constructor(
    message: string,
    /** Waymark's error code when the server gave one, else `E_HTTP_<status>`. */
    readonly code: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(message);
  }
}

/** The server could not be reached (refused, unknown host, timed out). Exits 1. */
export class ServerUnreachableError extends Error {
  override name = 'ServerUnreachableError';
  readonly code: ErrorCode = 'E_SERVER_UNREACHABLE';
}

/** Query parameters; undefined ones are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  /** Sent as JSON. */
  body?: unknown;
}

/** A thin client of a Waymark server's Conductor-compatible API under /api. */
export class ServerClient {
  constructor(
    readonly url: string,
    /** Sent as X-Authorization on every request: `<keyId>:<secret>`. (Default: none) */
    private readonly key?: string,
  ) {}

  /** A client of the server the command's options (or the environment) name, with their key. */
  static of(options: ServerOptions): ServerClient {
    return new ServerClient(serverUrl(options), serverKey(options));
  }

  /**
   * Sends one request to `/api<path>` and returns the answer: parsed JSON, the text of a text/plain answer
   * (ids), or undefined when empty (204, Content-Length 0). A 4xx/5xx answer throws a ServerError.
   */
  async request(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    options: RequestOptions = {},
  ): Promise<unknown> {
    const target = `${this.url}/api${path}${queryString(options.query)}`;
    const init: RequestInit = {
      method,
      headers: { accept: 'application/json, text/plain', ...(this.key ? { 'x-authorization': this.key } : {}) },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      init.headers = { ...init.headers, 'content-type': 'application/json' };
    }
    let response: Response;
    let text: string;
    try {
      response = await fetch(target, init);
      text = await response.text();
    } catch (error) {
      throw new ServerUnreachableError(unreachable(this.url, error));
    }
    if (!response.ok) throw serverError(method, `/api${path}`, response, text);
    if (text === '') return undefined;
    const type = response.headers.get('content-type') ?? '';
    if (type.includes('json')) {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new ServerError(
          `${method} /api${path}: the server answered ${response.status} with a body that is not JSON`,
          `E_HTTP_${response.status}`,
          response.status,
          text,
        );
      }
    }
    return text;
  }
}

/** The key to send: `--key`, else $WAYMARK_KEY, else none; one not of the form `<keyId>:<secret>` is a usage error. */
export function serverKey(options: ServerOptions): string | undefined {
  const given = options.key ?? process.env.WAYMARK_KEY;
  if (given === undefined || (options.key === undefined && given.trim() === '')) return undefined;
  const from = options.key !== undefined ? '--key' : '$WAYMARK_KEY';
  const key = given.trim();
  const colon = key.indexOf(':');
  // The key itself is never echoed: it holds the secret.
  if (colon <= 0 || colon === key.length - 1 || /\s/.test(key))
    throw new UsageError(`${from} must be <keyId>:<secret>, as \`waymark keys create\` printed them`);
  return key;
}

function queryString(query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** Why the server could not be reached, naming its URL and how to name another. */
function unreachable(url: string, error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const name = (error as { name?: unknown } | null)?.name;
  let why: string;
  if (name === 'TimeoutError') why = `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  else if (cause?.code === 'ECONNREFUSED') why = 'connection refused';
  else if (cause?.code === 'ENOTFOUND') why = 'unknown host';
  else
    why = typeof cause?.message === 'string' ? cause.message : error instanceof Error ? error.message : String(error);
  return (
    `cannot reach the Waymark server at ${url} (${why}): ` +
    `is \`waymark server\` running there? Name another with --server <url> or $WAYMARK_SERVER`
  );
}

/**
 * One line from a refusal: Conductor's `{status, message, validationErrors}` body when there is one, else the status.
 */
function serverError(method: string, path: string, response: Response, text: string): ServerError {
  let body: unknown = text;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    // Not JSON (a proxy's page...): the status says enough.
  }
  const fields = (body !== null && typeof body === 'object' ? body : {}) as {
    message?: unknown;
    code?: unknown;
    validationErrors?: unknown;
  };
  let message =
    typeof fields.message === 'string' && fields.message !== ''
      ? fields.message
      : `${response.status} ${response.statusText}`.trim();
  const problems = Array.isArray(fields.validationErrors)
    ? (fields.validationErrors as { path?: unknown; message?: unknown }[])
    : [];
  const extra = problems
    .map((p) =>
      typeof p?.message === 'string'
        ? typeof p.path === 'string' && p.path !== '' && !p.message.includes(p.path)
          ? `${p.path}: ${p.message}`
          : p.message
        : '',
    )
    .filter((line) => line !== '' && !message.includes(line));
  if (extra.length > 0) message = `${message}: ${extra.join('; ')}`;
  if (response.status === 401) message = `${message} (give --key <keyId>:<secret> or $WAYMARK_KEY)`;
  const code = typeof fields.code === 'string' && fields.code !== '' ? fields.code : `E_HTTP_${response.status}`;
  return new ServerError(`${method} ${path}: ${message.replace(/\s+/g, ' ')}`, code, response.status, body);
}

/** Whether `value` is a JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The definitions a file holds: one object or (when `many`) an array of them, each with a non-empty string `name`.
 * Anything else is a usage error naming the file, so nothing is sent.
 */
export function definitionsIn(value: unknown, file: string, what: string, many: boolean): Record<string, unknown>[] {
  const list = Array.isArray(value) ? value : [value];
  if (Array.isArray(value) && !many) throw new UsageError(`'${file}' holds an array: give one ${what} (a JSON object)`);
  if (list.length === 0) throw new UsageError(`'${file}' holds an empty array: give at least one ${what}`);
  list.forEach((item, index) => {
    const where = Array.isArray(value) ? `[${index}] of '${file}'` : `'${file}'`;
    if (!isJsonObject(item))
      throw new UsageError(`${where} is not a ${what}: expected a JSON object${many ? ' or an array of them' : ''}`);
    if (typeof item.name !== 'string' || item.name.trim() === '')
      throw new UsageError(`${where} is not a ${what}: it has no "name"`);
  });
  return list as Record<string, unknown>[];
}
