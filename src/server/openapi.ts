import type { FastifyInstance, RouteOptions } from 'fastify';

type Schema = Record<string, unknown>;

/** What a route's `schema` may hold beyond validation: the OpenAPI operation's words. */
export interface RouteDoc {
  summary?: string;
  description?: string;
  tags?: string[];
  operationId?: string;
  /** Leave the route out of the document. (Default: false) */
  hide?: boolean;
  params?: Schema;
  querystring?: Schema;
  body?: Schema;
  /** The body may be left out (every field has a default). (Default: false) */
  optionalBody?: boolean;
  /** By status code; a schema, or `{ description, content: { <media type>: { schema } } }`. */
  response?: Record<string, Schema>;
}

declare module 'fastify' {
  /** A route's documentation, read by the OpenAPI document (validation ignores it). */
  interface FastifySchema {
    summary?: string;
    description?: string;
    tags?: string[];
    operationId?: string;
    hide?: boolean;
    optionalBody?: boolean;
  }
}

/** Document title and version. (Default: 'Waymark API', '1') */
export interface OpenApiInfo {
  title?: string;
  version?: string;
  description?: string;
}

interface Operation {
  method: string;
  path: string;
  doc: RouteDoc;
  /** What a caller needs on a server with auth (see core/roles.ts). */
  role?: string;
}

/**
 * Collects every route registered after it (plugins included) through an onRoute hook, and serves
 * GET /openapi.json: an OpenAPI 3.1 document built from the routes' JSON schemas and `components`.
 * Register it before the routes.
 */
export function collectOpenApi(app: FastifyInstance, components: Record<string, Schema>, info: OpenApiInfo = {}): void {
  const operations: Operation[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const doc = (route.schema ?? {}) as RouteDoc;
    if (doc.hide) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods)
      if (method !== 'HEAD')
        operations.push({ method: method.toLowerCase(), path: route.url, doc, role: route.config?.role });
  });
  let cached: Schema | undefined;
  app.get(
    '/openapi.json',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'This API described as an OpenAPI 3.1 document',
        tags: ['meta'],
        response: { 200: { type: 'object', description: 'the OpenAPI document' } },
      },
    },
    async () => (cached ??= openApiDocument(operations, components, info)),
  );
}

/** The OpenAPI 3.1 document of `operations`. */
export function openApiDocument(
  operations: Operation[],
  components: Record<string, Schema>,
  info: OpenApiInfo,
): Schema {
  const paths: Record<string, Record<string, Schema>> = {};
  for (const { method, path, doc, role } of operations) {
    const openPath = path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const byMethod = paths[openPath] ?? {};
    paths[openPath] = byMethod;
    byMethod[method] = { ...operation(method, openPath, doc), ...(role ? { 'x-waymark-role': role } : {}) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: info.title ?? 'Waymark API',
      version: info.version ?? '1',
      ...(info.description ? { description: info.description } : {}),
    },
    paths,
    components: { schemas: components },
  };
}

function operation(method: string, path: string, doc: RouteDoc): Schema {
  const parameters = [...parametersOf(doc.params, 'path'), ...parametersOf(doc.querystring, 'query')];
  const op: Schema = {
    operationId: doc.operationId ?? operationId(method, path),
    summary: doc.summary ?? `${method.toUpperCase()} ${path}`,
  };
  if (doc.description) op.description = doc.description;
  if (doc.tags) op.tags = doc.tags;
  if (parameters.length > 0) op.parameters = parameters;
  if (doc.body) {
    op.requestBody = { required: doc.optionalBody !== true, content: { 'application/json': { schema: doc.body } } };
  }
  const responses: Record<string, Schema> = {};
  for (const [status, schema] of Object.entries(doc.response ?? {})) responses[status] = response(status, schema);
  if (!Object.keys(responses).some((s) => s.startsWith('4')))
    responses['4XX'] = response('4XX', { $ref: '#/components/schemas/Error' });
  responses['5XX'] = response('5XX', { $ref: '#/components/schemas/Error', description: 'server error' });
  op.responses = responses;
  return op;
}

function parametersOf(schema: Schema | undefined, where: 'path' | 'query'): Schema[] {
  if (!schema) return [];
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
      ...(rest.type === 'array' ? { style: 'form', explode: false } : {}),
    };
  });
}

function response(status: string, schema: Schema): Schema {
  if (schema.content)
    return { description: (schema.description as string | undefined) ?? statusText(status), content: schema.content };
  const { description, ...rest } = schema;
  return {
    description: (description as string | undefined) ?? statusText(status),
    ...(Object.keys(rest).length > 0 || status !== '204' ? { content: { 'application/json': { schema: rest } } } : {}),
  };
}

function statusText(status: string): string {
  const words: Record<string, string> = {
    '200': 'OK',
    '201': 'created',
    '202': 'accepted',
    '204': 'no content',
    '4XX': 'bad request, or refused',
    '5XX': 'server error',
  };
  return words[status] ?? `status ${status}`;
}

/** `post /v1/runs/{id}/signals/{name}` -> `postV1RunsIdSignalsName`. */
function operationId(method: string, path: string): string {
  const words = path.split(/[^A-Za-z0-9]+/).filter((w) => w !== '');
  return method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}
