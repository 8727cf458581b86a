import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Json } from '../../core/types.js';
import type { Engine } from '../../engine.js';
import type { ServerContext } from '../context.js';
import { actionRoutes } from './action-routes.js';
import type { ConductorContext } from './context.js';
import { badRequest, installConductorErrors } from './errors.js';
import { parseJsonBody } from '../request-guards.js';
import { PollHub } from './long-poll.js';
import { eventRoutes } from './event-routes.js';
import { lookupRoutes } from './lookup-routes.js';
import { metadataRoutes } from './metadata-routes.js';
import { signalRoutes } from './signal-routes.js';
import { taskRoutes } from './tasks-routes.js';
import { workflowTestRoute } from './test-route.js';
import { queueRoutes } from './queue-routes.js';
import { schedulerRoutes } from './scheduler-routes.js';
import { workflowRoutes } from './workflow-routes.js';
import { tokenRoute } from '../auth/token-route.js';

/**
 * Conductor's REST API (tasks, workflows, metadata) over the engine, so Conductor workers, SDKs and scripts
 * work unchanged. Register it with `prefix: '/api'`: its errors and unknown routes answer Conductor's
 * error body, and its bodies are parsed leniently (an empty JSON body is none; any content type is read as text).
 */
export const conductorApi: FastifyPluginAsync<ServerContext> = async (
  app,
  { engine, closing, declarative, declarativeOptions, maxJsonDepth, auth },
) => {
  installConductorErrors(app);
  installLenientParsers(app, maxJsonDepth);
  const context: ConductorContext = { engine, closing, sourceOf: sourcesOf(engine) };
  const hub = new PollHub(engine);
  if (closing.aborted) hub.close();
  else closing.addEventListener('abort', () => hub.close(), { once: true });
  queueRoutes(app, engine); // before taskRoutes: its static /tasks/queue/* paths are Conductor's queue views
  taskRoutes(app, engine, hub);
  signalRoutes(app, context);
  workflowRoutes(app, context);
  workflowTestRoute(app, context);
  lookupRoutes(app, context);
  actionRoutes(app, context);
  eventRoutes(app, engine);
  metadataRoutes(app, engine, declarative, declarativeOptions);
  schedulerRoutes(app, engine);
  if (auth) tokenRoute(app, auth);
};

/**
 * The stored source of a run's declarative version, remembered: a version with runs is never replaced or
 * removed, so the answer for a version a run exists of does not change.
 */
function sourcesOf(engine: Engine): ConductorContext['sourceOf'] {
  const known = new Map<string, Json | undefined>();
  return async (workflow, version) => {
    const key = `${workflow}@${version}`;
    if (!known.has(key)) {
      for (const s of await engine.definitions.sources()) known.set(`${s.workflow}@${s.version}`, s.source);
      if (!known.has(key)) known.set(key, undefined);
    }
    return known.get(key);
  };
}

/**
 * JSON bodies may be empty; other content types (text/plain log lines...) arrive as text, JSON when they parse
 * as JSON. JSON nested deeper than `maxDepth` or holding a __proto__ or constructor key is refused (400).
 */
function installLenientParsers(app: FastifyInstance, maxDepth: number): void {
  app.removeAllContentTypeParsers();
  const parse =
    (strict: boolean) =>
    (_request: FastifyRequest, body: string, done: (error: Error | null, value?: unknown) => void) => {
      if (body.trim() === '') return done(null, undefined);
      const parsed = parseJsonBody(body, maxDepth);
      if (parsed.ok) done(null, parsed.value);
      else if (parsed.syntax && !strict) done(null, body);
      else done(badRequest(parsed.problem.field, `${parsed.problem.field} ${parsed.problem.reason}`));
    };
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parse(true));
  app.addContentTypeParser('*', { parseAs: 'string' }, parse(false));
}
