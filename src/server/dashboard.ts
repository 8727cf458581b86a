import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { fileURLToPath } from 'node:url';

/** Where `npm run build` puts the dashboard: dist/ui of the package. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../dist/ui/', import.meta.url));

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Waymark</title></head>
<body><h1>Waymark</h1><p>The dashboard is not built: run <code>npm run build</code> (or <code>npm start</code>),
then reload. The API is served under <a href="/openapi.json">/v1</a>.</p></body></html>
`;

/**
 * The dashboard's static files: GET / (index.html, not cached) and GET /ui/<hashed file> (cached for a year).
 * Both are public: the shell holds no data; every data call needs its role.
 */
export function dashboardRoutes(uiDir: string): FastifyPluginAsync {
  return async (app) => {
    app.get('/', { config: { role: 'public' }, schema: { hide: true } }, async (_request, reply) => {
      const index = join(uiDir, 'index.html');
      // Not built is how the package was made, not a failure of this request (200): the page says what to do.
      const page = existsSync(index) ? readFileSync(index) : NOT_BUILT;
      return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(page);
    });
    app.get<{ Params: { file: string } }>(
      '/ui/:file',
      {
        config: { role: 'public' },
        schema: {
          hide: true,
          params: {
            type: 'object',
            properties: { file: { type: 'string', maxLength: 200 } },
            required: ['file'],
          },
        },
      },
      async (request, reply) => {
        const { file } = request.params;
        const type = TYPES[file.slice(file.lastIndexOf('.'))];
        const path = join(uiDir, file);
        if (!/^app-[A-Za-z0-9]+\.(js|css)$/.test(file) || !type || !existsSync(path))
          return reply.code(404).send({ code: 'E_ROUTE_NOT_FOUND', message: `no dashboard file /ui/${file}` });
        return reply.header('cache-control', 'public, max-age=31536000, immutable').type(type).send(readFileSync(path));
      },
    );
  };
}
