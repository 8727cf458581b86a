/** What the auth tests share: a server with --auth over a real socket, its store, and keys of every role. */
import { ROLES, type Role } from '../../src/core/roles.js';
import { openEngineOnStore } from '../../src/engine.js';
import type { Engine, EngineOptions } from '../../src/index.js';
import type { AuthOptions } from '../../src/server/auth/authenticator.js';
import { createKey, type NewKeyCredentials } from '../../src/server/auth/credentials.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';

export interface AuthServer {
  store: Store;
  engine: Engine;
  server: RunningServer;
  url: string;
  /** One key of each role, named for it. */
  keys: Record<Role, NewKeyCredentials>;
  close(): Promise<void>;
}

/** A store at `location`, an engine on it and a server with auth over both; keys of every role are made. */
export async function authServer(
  location: string,
  options: Omit<EngineOptions, 'store'> = {},
  auth: Omit<AuthOptions, 'store'> = {},
): Promise<AuthServer> {
  const store = await openStore(location);
  const engine = await openEngineOnStore(store, { worker: false, logger: { warn() {} }, ...options });
  const server = await startServer({ engine, port: 0, auth: { store, ...auth } });
  const keys = {} as Record<Role, NewKeyCredentials>;
  for (const role of ROLES) keys[role] = await createKey(store.keys, { role, name: `${role} key` });
  return {
    store,
    engine,
    server,
    url: server.url,
    keys,
    async close() {
      await server.close();
      await engine.close();
      await store.close();
    },
  };
}

/** A token for `key` from POST /api/token; fails the test when there is none. */
export async function tokenFor(url: string, key: { keyId: string; keySecret: string }): Promise<string> {
  const response = await fetch(`${url}/api/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ keyId: key.keyId, keySecret: key.keySecret }),
  });
  const body = (await response.json()) as { token?: string };
  if (response.status !== 200 || !body.token) throw new Error(`no token: ${response.status} ${JSON.stringify(body)}`);
  return body.token;
}

/** `<keyId>:<keySecret>`, the raw credential. */
export const raw = (key: { keyId: string; keySecret: string }) => `${key.keyId}:${key.keySecret}`;

export interface Reply {
  status: number;
  body: any;
}

/** One request with `headers` (and a JSON body); the answer's status and parsed body (streams are cut short). */
export async function send(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<Reply> {
  const stop = new AbortController();
  const response = await fetch(`${url}${path}`, {
    method,
    signal: stop.signal,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if ((response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    stop.abort();
    return { status: response.status, body: undefined };
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // a text answer (an id)
  }
  return { status: response.status, body: parsed };
}
