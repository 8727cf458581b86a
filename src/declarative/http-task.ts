import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { NonRetryableError, WaymarkError } from '../core/errors.js';
import type { Json } from '../core/types.js';
import { destinationRefusal, parseAllowList, type AllowList } from './address-policy.js';
import { limitExceeded, refusal } from './refusals.js';

/** What HTTP tasks may reach, and for how long. */
export interface HttpTaskOptions {
  /**
   * Hosts (`localhost`, `api.internal:8443`), addresses (`10.1.2.3`, `[::1]:9000`) and ranges (`10.0.0.0/8`)
   * HTTP tasks may reach although they are loopback, private, link-local or this server's. (Default: none)
   */
  allow?: string[];
  /** Time one attempt may take, redirects included, in ms. (Default: 10000) */
  timeoutMs?: number;
  /** Largest response body read (after decompression), in bytes. (Default: 1048576) */
  maxResponseBytes?: number;
  /** Redirects followed. (Default: 5) */
  maxRedirects?: number;
}

/** The options with their defaults applied and the allow-list parsed. */
export interface HttpPolicy {
  allow: AllowList;
  timeoutMs: number;
  maxResponseBytes: number;
  maxRedirects: number;
}

const HTTP_DEFAULTS = { timeoutMs: 10_000, maxResponseBytes: 1_048_576, maxRedirects: 5 };

/** Applies the defaults; a bad value (or allow-list entry) is E_INVALID_INPUT. */
export function httpPolicy(options: HttpTaskOptions = {}): HttpPolicy {
  const policy: HttpPolicy = { ...HTTP_DEFAULTS, allow: parseAllowList(options.allow ?? []) };
  for (const key of ['timeoutMs', 'maxResponseBytes', 'maxRedirects'] as const) {
    const value = options[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < (key === 'maxRedirects' ? 0 : 1)) {
      throw new WaymarkError(
        'E_INVALID_INPUT',
        `http.${key} must be a ${key === 'maxRedirects' ? 'non-negative' : 'positive'} integer, ` +
          `got ${JSON.stringify(value)}`,
        { details: { option: `http.${key}` } },
      );
    }
    policy[key] = value;
  }
  return policy;
}

const DEFAULT_POLICY = httpPolicy();

/** An HTTP task's request (Conductor's http_request). */
interface HttpRequest {
  uri?: Json;
  method?: Json;
  headers?: Json;
  body?: Json;
}

/** One request of an exchange: redirects change it. */
interface Hop {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** Headers a redirect to another origin does not carry on. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

/**
 * Calls the task's URI; the output is `{ response: { statusCode, headers, body } }`. A 5xx, a network error or a
 * time-out fails the attempt (retried); a 4xx, a refused destination (E_HTTP_REFUSED) or a response over the
 * size limit (E_LIMIT_EXCEEDED) fails the task at once. Every connection, redirects included, is checked on the
 * address it is made to, after DNS resolution.
 */
export async function callHttp(request: Json, signal: AbortSignal, policy: HttpPolicy = DEFAULT_POLICY): Promise<Json> {
  let hop = firstHop(request);
  const uri = hop.url.href;
  const controller = new AbortController();
  const timer = setTimeout(
    () =>
      controller.abort(new WaymarkError('E_TIMEOUT', `HTTP request to ${uri} took longer than ${policy.timeoutMs} ms`)),
    policy.timeoutMs,
  );
  const forward = () => controller.abort(signal.reason);
  if (signal.aborted) forward();
  else signal.addEventListener('abort', forward, { once: true });
  try {
    for (let redirects = 0; ; redirects++) {
      const response = await exchange(hop, policy, controller.signal);
      const location = response.headers.location;
      if (isRedirect(response.statusCode) && location) {
        response.resume();
        if (redirects >= policy.maxRedirects)
          throw new NonRetryableError(`HTTP request to ${uri} was redirected more than ${policy.maxRedirects} times`);
        hop = redirected(hop, response.statusCode!, location);
        continue;
      }
      const text = await readBody(response, policy.maxResponseBytes, hop.url);
      return outcome(response, text, uri);
    }
  } catch (error) {
    if (controller.signal.aborted) throw controller.signal.reason;
    throw error;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', forward);
  }
}

function firstHop(request: Json): Hop {
  const r = (request ?? {}) as HttpRequest;
  const url = typeof r.uri === 'string' && /^https?:\/\//i.test(r.uri) ? parseUrl(r.uri) : undefined;
  if (!url)
    throw new NonRetryableError(`HTTP task needs http_request.uri (http or https), got ${JSON.stringify(r.uri)}`);
  const method = typeof r.method === 'string' ? r.method.toUpperCase() : 'GET';
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries((r.headers ?? {}) as Record<string, Json>))
    headers[key.toLowerCase()] = String(value);
  let body: string | undefined;
  if (r.body !== undefined && r.body !== null && method !== 'GET' && method !== 'HEAD') {
    body = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    headers['content-type'] ??= 'application/json';
  }
  return { url, method, headers, body };
}

/** Sends one request, to an address the policy lets it reach, and resolves with the response's head. */
function exchange(hop: Hop, policy: HttpPolicy, signal: AbortSignal): Promise<IncomingMessage> {
  const host = hop.url.hostname.replace(/^\[(.*)\]$/, '$1');
  const https = hop.url.protocol === 'https:';
  const port = Number(hop.url.port || (https ? 443 : 80));
  // An address in the URL is connected to without a lookup: judge it here. Names are judged on what they resolve to.
  if (isIP(host)) {
    const refused = destinationRefusal(policy.allow, host, port, host);
    if (refused) return Promise.reject(refusedError(hop.url, refused));
  }
  return new Promise((resolve, reject) => {
    const send = https ? httpsRequest : httpRequest;
    const request = send(
      {
        host,
        port,
        path: `${hop.url.pathname}${hop.url.search}`,
        method: hop.method,
        headers: hop.headers,
        signal,
        agent: false,
        lookup: guardedLookup(policy.allow, port, hop.url),
      },
      resolve,
    );
    request.on('error', reject);
    request.end(hop.body);
  });
}

/** A DNS lookup that fails unless every address the name resolves to may be reached: the connection uses only those. */
function guardedLookup(allow: AllowList, port: number, url: URL) {
  return (
    hostname: string,
    options: LookupOptions,
    callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      for (const { address } of addresses) {
        const refused = destinationRefusal(allow, hostname, port, address);
        if (refused)
          return callback(refusedError(url, `${hostname} resolves to ${refused}`) as NodeJS.ErrnoException, '', 0);
      }
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

function refusedError(url: URL, reason: string): Error {
  return refusal(
    'E_HTTP_REFUSED',
    `HTTP task may not call ${url.host}: ${reason}; ` +
      `an allow-list entry opens it (http.allow, waymark server --http-allow)`,
  );
}

function parseUrl(text: string, base?: URL): URL | undefined {
  try {
    return new URL(text, base);
  } catch {
    return undefined;
  }
}

function isRedirect(status: number | undefined): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/** The next request after a redirect, as fetch makes it: 303 (and 301/302 after a POST) become a GET without a body. */
function redirected(hop: Hop, status: number, location: string): Hop {
  const url = parseUrl(location, hop.url);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw new NonRetryableError(
      `HTTP request to ${hop.url.href} was redirected to ${JSON.stringify(location)}, ` +
        `which is not an http or https URL`,
    );
  const headers = { ...hop.headers };
  let { method, body } = hop;
  if ((status === 303 && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST')) {
    [method, body] = ['GET', undefined];
    delete headers['content-type'];
  }
  if (url.origin !== hop.url.origin) for (const name of CREDENTIAL_HEADERS) delete headers[name];
  return { url, method, headers, body };
}

/** The response body as text, decompressed, refused once it passes `maxBytes`. */
async function readBody(response: IncomingMessage, maxBytes: number, url: URL): Promise<string> {
  const tooLarge = () =>
    limitExceeded('http.maxResponseBytes', `HTTP response from ${url.host} is larger than ${maxBytes} bytes`);
  if (Number(response.headers['content-length']) > maxBytes) {
    response.destroy();
    throw tooLarge();
  }
  const decoder = decoderOf(response.headers);
  const body: Readable = decoder ? pipeline(response, decoder, () => {}) : response;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      response.destroy();
      body.destroy();
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function decoderOf(headers: IncomingHttpHeaders) {
  const encoding = String(headers['content-encoding'] ?? '')
    .trim()
    .toLowerCase();
  if (encoding === 'gzip' || encoding === 'x-gzip') return createGunzip();
  if (encoding === 'deflate') return createInflate();
  if (encoding === 'br') return createBrotliDecompress();
  return undefined;
}

function outcome(response: IncomingMessage, text: string, uri: string): Json {
  let parsed: Json = text;
  try {
    parsed = text ? (JSON.parse(text) as Json) : null;
  } catch {
    // not JSON: the body stays text
  }
  const headers = Object.fromEntries(
    Object.entries(response.headers).map(([name, value]) => [
      name,
      Array.isArray(value) ? value.join(', ') : String(value),
    ]),
  );
  const status = response.statusCode ?? 0;
  if (status >= 500) throw new Error(`HTTP ${status} from ${uri}`);
  if (status >= 400) throw new NonRetryableError(`HTTP ${status} from ${uri}: ${text.slice(0, 200)}`);
  return { response: { statusCode: status, headers, body: parsed } };
}
