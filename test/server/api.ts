import type { FastifyInstance } from 'fastify';
import { Engine, type EngineOptions, type MigrationDefinition } from '../../src/index.js';
import { buildServer } from '../../src/server/server.js';

/** A response as the tests read it. */
export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Record<string, unknown>;
}

export interface Api {
  engine: Engine;
  app: FastifyInstance;
  /** Sends one request in process (no socket); `body` is sent as JSON unless it is a string. */
  call<T = any>(method: string, url: string, body?: unknown): Promise<Answer<T>>;
}

/** Opens an engine on `store` with the workflows, builds the server over it, runs `use`, then closes both. */
export async function withApi<T>(
  store: string,
  options: Omit<EngineOptions, 'store'> & { migrations?: MigrationDefinition[] },
  use: (api: Api) => Promise<T>,
): Promise<T> {
  const { migrations, ...engineOptions } = options;
  const engine = await Engine.open({ pollIntervalMs: 50, logger: { warn() {} }, ...engineOptions, store });
  const app = buildServer({ engine, migrations });
  const call = async <R>(method: string, url: string, body?: unknown): Promise<Answer<R>> => {
    const raw = typeof body === 'string';
    const response = await app.inject({
      method: method as 'GET',
      url,
      ...(body === undefined
        ? {}
        : { payload: raw ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = response.body;
    return { status: response.statusCode, body: text === '' ? undefined : JSON.parse(text), headers: response.headers };
  };
  try {
    return await use({ engine, app, call });
  } finally {
    await app.close();
    await engine.close();
  }
}
