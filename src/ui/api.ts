/** The dashboard's only way to the server: JSON calls to /v1 (and POST /api/token), with the session's token. */

const TOKEN_KEY = 'waymark.token';

/** A refused or failed call: its HTTP status and the server's code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
  /** The route is not on this server (an older one): the page says so instead of failing. */
  get unavailable(): boolean {
    return this.status === 404 && this.code === 'E_ROUTE_NOT_FOUND';
  }
}

const unauthorizedListeners = new Set<() => void>();

/** Calls `listener` whenever a call answers 401 (the login form shows); returns the unsubscribe. */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** The bearer token of this tab's session, if logged in. */
export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Keeps (or with null, forgets) the session's token. */
export function setToken(value: string | null): void {
  if (value === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, value);
}

/** Headers every call sends: the bearer token when there is one. */
export function authHeaders(): Record<string, string> {
  const t = token();
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** One JSON call; throws ApiError on any status but 2xx (and tells the listeners about a 401). */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders() };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = text;
  }
  if (response.ok) return parsed as T;
  if (response.status === 401) for (const listener of [...unauthorizedListeners]) listener();
  const problem = (parsed ?? {}) as { code?: string; message?: string };
  throw new ApiError(
    response.status,
    problem.code ?? String(response.status),
    problem.message ?? `${method} ${path} answered ${response.status}`,
  );
}

/** Trades a key (id and secret) for a token (POST /api/token) and keeps it for the session. */
export async function login(keyId: string, keySecret: string): Promise<void> {
  const answer = await api<{ token: string }>('POST', '/api/token', { keyId, keySecret });
  setToken(answer.token);
}

/** `path` with the defined entries of `query` as its query string. */
export function withQuery(path: string, query: Record<string, string | number | boolean | undefined>): string {
  const parts = Object.entries(query)
    .filter(([, value]) => value !== undefined && value !== '')
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  return parts.length === 0 ? path : `${path}?${parts.join('&')}`;
}

/** A path segment, encoded. */
export const seg = (value: string | number) => encodeURIComponent(String(value));
