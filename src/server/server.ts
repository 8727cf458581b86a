import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyServerOptions,
} from 'fastify';
import type { MigrationDefinition } from '../core/migration.js';
import type { DeclarativeSupport } from '../declarative/compile.js';
import type { DeclarativeOptions } from '../declarative/limits.js';
import type { Engine } from '../engine.js';
import { coerceText } from './coerce.js';
import { conductorApi } from './conductor/plugin.js';
import type { ServerContext } from './context.js';
import { FieldError, installErrorHandling, routerErrorHandler } from './errors.js';
import { toConductorError } from './conductor/errors.js';
import { collectOpenApi } from './openapi.js';
import { eventRoutes } from './routes/events.js';
import { runActionRoutes } from './routes/run-actions.js';
import { runRoutes } from './routes/runs.js';
import { versionRoutes } from './routes/versions.js';
import { rolloutRoutes } from './routes/rollouts.js';
import { deployRoutes } from './routes/deploy.js';
import { probeRoutes } from './routes/probes.js';
import { installRequestTracing } from './request-tracing.js';
import { RequestLogs, type RequestLogLevel } from './request-logs.js';
import { badTextIn, badTextInBody, MAX_JSON_DEPTH, parseJsonBody } from './request-guards.js';
import { components } from './schemas.js';
import { Authenticator, type AuthOptions } from './auth/authenticator.js';
import { installGuard } from './auth/guard.js';
import { auditRoutes } from './routes/audit.js';
import { bulkRoutes } from './routes/bulk.js';
import { whoamiRoutes } from './routes/whoami.js';
import { taskQueueRoutes } from './routes/task-queues.js';
import { deployReportRoutes } from './routes/deploy-reports.js';
import { scheduleRoutes } from './routes/schedules.js';
import { WaymarkError } from '../core/errors.js';
import { DEFAULT_UI_DIR, dashboardRoutes } from './dashboard.js';

export interface ServerOptions {
  /** The engine the API drives; the server never closes it. */
  engine: Engine;
  /**
   * The server's logger (pino JSON lines): false, true (info and up to stdout), logger options ({ level, stream }),
   * or a logger instance. Each answered request is one line at `requestLogLevel`. (Default: false)
   */
  logger?: boolean | FastifyServerOptions['logger'] | FastifyBaseLogger;
  /** The level of the one line each answered request logs; 'silent' logs none. (Default: 'debug') */
  requestLogLevel?: RequestLogLevel;
  /** Migrations the upgrade and migrate routes can apply by name. (Default: none) */
  migrations?: MigrationDefinition[];
  /** Time between heartbeat comments on an event stream, in ms. (Default: 15000) */
  heartbeatMs?: number;
  /** Largest request body, in bytes. (Default: 1048576) */
  bodyLimit?: number;
  /** Deepest nesting of arrays and objects in a JSON request body. (Default: 64) */
  maxJsonDepth?: number;
  /**
   * More route plugins, registered after Waymark's own with the
   * same context (e.g. another API surface). (Default: none)
   */
  plugins?: FastifyPluginAsync<ServerContext>[];
  /**
   * The declarative support the engine was opened with (bound to it);
   * registered definitions compile with it. (Default: one made on first need)
   */
  declarative?: DeclarativeSupport;
  /**
   * Limits and the HTTP allow-list of the declarative support
   * the server makes when none is given. (Default: the defaults)
   */
  declarativeOptions?: DeclarativeOptions;
  /**
   * Require credentials (API keys of the store, or tokens from POST /api/token) on every route but the public
   * ones, each route allowing the roles it declares; changes are audited. (Default: none: every caller may do all)
   */
  auth?: AuthOptions;
  /** Serve HTTPS with this certificate and private key (PEM). (Default: plain HTTP) */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** The built dashboard served at / and /ui/ (see dashboard-build.ts). (Default: dist/ui of the package) */
  uiDir?: string;
}

/**
 * Builds the HTTP server: Waymark's JSON API under /v1, GET /health, GET /ready, GET /metrics and GET /openapi.json
 * (every route, plugins registered later included). Register more route plugins on the result before it listens.
 */
export function buildServer(options: ServerOptions): FastifyInstance {
  const logger = options.logger ?? false;
  const auth = options.auth && new Authenticator(options.auth);
  const app = Fastify({
    ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {}),
    ...(isLoggerInstance(logger) ? { loggerInstance: logger } : { logger: logger as FastifyServerOptions['logger'] }),
    bodyLimit: options.bodyLimit ?? 1_048_576,
    // One line per answered request, at requestLogLevel, instead of Fastify's two at info.
    logController: new RequestLogs(options.requestLogLevel ?? 'debug'),
    // Run ids may be 200 characters long, more once percent-encoded.
    // Trailing slashes are tolerated (`/api/workflow/search/` is `/api/workflow/search`), as Conductor's server does.
    routerOptions: { maxParamLength: 1_000, ignoreTrailingSlash: true },
    frameworkErrors: routerErrorHandler('/api', toConductorError),
    // Bodies are JSON and checked strictly: no type coercion, unknown
    // properties refused (query text is converted in coerce.ts).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: true, verbose: true } },
  }) as unknown as FastifyInstance;
  // Response schemas document the API; replies are the engine's objects as they are, serialized as JSON.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  installErrorHandling(app);
  installGuard(app, auth);
  installRequestTracing(app, options.engine.telemetry);
  const maxJsonDepth = options.maxJsonDepth ?? MAX_JSON_DEPTH;
  installJsonParser(app, maxJsonDepth);
  app.addHook('preValidation', async (request) => {
    const schema = request.routeOptions.schema;
    // Names, ids and query values with NUL or lone surrogates are refused here, on every surface (/api included).
    const problem =
      badTextIn(request.params, 'params') ??
      badTextIn(request.query, 'query') ??
      (schema?.body ? badTextInBody(request.body, schema.body as object) : undefined);
    if (problem) throw new FieldError(problem.field, problem.reason);
    if (
      schema?.optionalBody &&
      request.body === undefined &&
      (schema.body as { type?: unknown } | undefined)?.type === 'object'
    )
      request.body = {};
    if (schema?.querystring && request.query)
      coerceText(request.query as Record<string, unknown>, schema.querystring as object);
    if (schema?.params && request.params)
      coerceText(request.params as Record<string, unknown>, schema.params as object);
  });

  const closing = new AbortController();
  app.addHook('preClose', async () => closing.abort());
  // A keep-alive connection whose request was in flight when closing
  // began would otherwise hold the close until it times out.
  app.addHook('onSend', async (_request, reply) => {
    if (closing.signal.aborted) reply.header('connection', 'close');
  });
  collectOpenApi(app, components, {
    title: 'Waymark API',
    description: "Waymark's JSON API: runs, versions, rollouts and run events.",
  });

  const context: ServerContext = {
    engine: options.engine,
    migrations: options.migrations ?? [],
    closing: closing.signal,
    heartbeatMs: options.heartbeatMs ?? 15_000,
    maxJsonDepth,
    declarative: options.declarative,
    declarativeOptions: options.declarativeOptions,
    auth,
  };
  app.get(
    '/health',
    {
      config: { role: 'public' },
      schema: {
        summary: 'Liveness: the server answers',
        tags: ['meta'],
        response: { 200: { type: 'object', properties: { status: { const: 'ok' } } } },
      },
    },
    async () => ({
      status: 'ok',
    }),
  );
  app.register(runRoutes, context);
  app.register(bulkRoutes, context);
  app.register(whoamiRoutes, context);
  app.register(taskQueueRoutes, context);
  app.register(deployReportRoutes, context);
  app.register(scheduleRoutes, context);
  app.register(runActionRoutes, context);
  app.register(versionRoutes, context);
  app.register(rolloutRoutes, context);
  app.register(deployRoutes, context);
  app.register(probeRoutes, context);
  app.register(eventRoutes, context);
  if (auth) app.register(auditRoutes, context);
  app.register(dashboardRoutes(options.uiDir ?? DEFAULT_UI_DIR));
  app.register(conductorApi, { ...context, prefix: '/api' }); // Conductor-compatible REST API
  for (const plugin of options.plugins ?? []) app.register(plugin, context);
  return app;
}

export interface StartServerOptions extends ServerOptions {
  /** Interface to listen on. (Default: '127.0.0.1') */
  host?: string;
  /** Port; 0 picks a free one. (Default: 8080) */
  port?: number;
  /**
   * Connections the kernel queues before the server accepts them, e.g. thousands of
   * workers' long polls reconnecting at once (capped by the OS). (Default: 4096)
   */
  backlog?: number;
  /**
   * Listen on a non-loopback interface without auth: anyone who reaches the port may do everything.
   * Without it (and without auth) such a host is refused with E_INVALID_INPUT. (Default: false)
   */
  insecure?: boolean;
}

export interface RunningServer {
  /** Where it listens, e.g. 'http://127.0.0.1:8080'. */
  url: string;
  app: FastifyInstance;
  /**
   * Stops accepting connections, ends event streams and waits,
   * and lets in-flight requests finish. The engine stays open.
   */
  close(): Promise<void>;
}

/** Builds the server and listens. */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  if (!options.auth && !options.insecure && !isLoopbackHost(host))
    throw new WaymarkError('E_INVALID_INPUT', openHostRefusal(host, 'auth', 'insecure: true'));
  const app = buildServer(options);
  try {
    const url = await app.listen({
      host,
      port: options.port ?? 8080,
      backlog: options.backlog ?? 4096,
    });
    return { url, app, close: () => app.close() };
  } catch (error) {
    await app.close();
    throw error;
  }
}

/** Whether `host` is a loopback interface only this machine reaches ('127.0.0.1', '::1', 'localhost'). */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** Why a server without auth does not listen on `host`, naming the options that change it. */
export function openHostRefusal(host: string, authOption: string, insecureOption: string): string {
  return (
    `refusing to listen on ${host} without ${authOption}: anyone who reaches the port could start, cancel and ` +
    `remove runs, change definitions and take other workers' tasks. Give ${authOption} (keys are made with ` +
    `\`waymark keys create\`), listen on 127.0.0.1, or give ${insecureOption} to serve it open anyway`
  );
}

/**
 * JSON bodies: refused (400 naming the field) when nested deeper
 * than `maxDepth`, holding a __proto__ or constructor key, or empty.
 */
function installJsonParser(app: FastifyInstance, maxDepth: number): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    if ((text as string).trim() === '')
      return done(new FieldError('body', "is empty, but its content type is 'application/json'"));
    const parsed = parseJsonBody(text as string, maxDepth);
    if (parsed.ok) done(null, parsed.value);
    else done(new FieldError(parsed.problem.field, parsed.problem.reason));
  });
}

function isLoggerInstance(logger: unknown): logger is FastifyBaseLogger {
  return (
    typeof logger === 'object' &&
    logger !== null &&
    typeof (logger as FastifyBaseLogger).child === 'function' &&
    typeof (logger as FastifyBaseLogger).info === 'function'
  );
}
