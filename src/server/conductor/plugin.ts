import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { badRequest, installConductorErrors } from './errors.js';
import { taskRoutes } from './tasks-routes.js';

/**
 * Conductor's REST API (tasks, workflows, metadata) over the engine, so Conductor workers, SDKs and scripts
 * work unchanged. Register it with `prefix: '/api'`: its errors and unknown routes answer Conductor's
 * error body, and its bodies are parsed leniently (an empty JSON body is none; any content type is read as text).
 */
export const conductorApi: FastifyPluginAsync<ServerContext> = async (app, { engine, closing }) => {
  installConductorErrors(app);
  installLenientParsers(app);
  taskRoutes(app, engine, closing);
};

/** JSON bodies may be empty; other content types (text/plain log lines...) arrive as text, JSON when they parse as JSON. */
function installLenientParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const parse = (strict: boolean) => (_request: FastifyRequest, body: string, done: (error: Error | null, value?: unknown) => void) => {
    if (body.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body));
    } catch {
      if (strict) done(badRequest('body', 'the body is not valid JSON'));
      else done(null, body);
    }
  };
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parse(true));
  app.addContentTypeParser('*', { parseAs: 'string' }, parse(false));
}
