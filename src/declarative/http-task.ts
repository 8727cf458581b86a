import { NonRetryableError } from '../core/errors.js';
import type { Json } from '../core/types.js';

/** An HTTP task's request (Conductor's http_request). */
interface HttpRequest {
  uri?: Json;
  method?: Json;
  headers?: Json;
  body?: Json;
}

/**
 * Calls the task's URI; the output is `{ response: { statusCode, headers, body } }`. A 5xx or a network error
 * fails the attempt (retried); a 4xx fails the task at once.
 */
export async function callHttp(request: Json, signal: AbortSignal): Promise<Json> {
  const r = (request ?? {}) as HttpRequest;
  if (typeof r.uri !== 'string' || !/^https?:\/\//.test(r.uri)) throw new NonRetryableError(`HTTP task needs http_request.uri (http or https), got ${JSON.stringify(r.uri)}`);
  const method = typeof r.method === 'string' ? r.method.toUpperCase() : 'GET';
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries((r.headers ?? {}) as Record<string, Json>)) headers[key] = String(value);
  let body: string | undefined;
  if (r.body !== undefined && r.body !== null && method !== 'GET' && method !== 'HEAD') {
    body = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(r.uri, { method, headers, body, signal });
  const text = await response.text();
  let parsed: Json = text;
  try {
    parsed = text ? (JSON.parse(text) as Json) : null;
  } catch {
    // not JSON: the body stays text
  }
  const output = { response: { statusCode: response.status, headers: Object.fromEntries(response.headers), body: parsed } };
  if (response.status >= 500) throw new Error(`HTTP ${response.status} from ${r.uri}`);
  if (response.status >= 400) throw new NonRetryableError(`HTTP ${response.status} from ${r.uri}: ${text.slice(0, 200)}`);
  return output;
}
