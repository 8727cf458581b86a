import type { FastifyInstance, FastifyRequest } from 'fastify';
import { validTraceparent } from '../core/traceparent.js';
import type { SpanHandle, Telemetry } from '../runtime/telemetry.js';

const spans = new WeakMap<FastifyRequest, SpanHandle>();
const traceparents = new WeakMap<FastifyRequest, string>();

/**
 * The W3C traceparent a run started by this request continues: the request's span when tracing is on, else the
 * caller's valid `traceparent` header (an invalid one is ignored, as the specification says), else none.
 */
export function traceparentOf(request: FastifyRequest): string | undefined {
  return traceparents.get(request);
}

/**
 * Every request continues its caller's trace: with tracing on, it gets a span (a child of its `traceparent` header,
 * named for its route) whose traceparent runs it starts record; with tracing off they record the header's.
 */
export function installRequestTracing(app: FastifyInstance, telemetry: Telemetry): void {
  app.addHook('onRequest', async (request) => {
    const incoming = validTraceparent(request.headers.traceparent);
    if (!telemetry.tracing) {
      if (incoming !== undefined) traceparents.set(request, incoming);
      return;
    }
    const route = request.routeOptions.url;
    const span = telemetry.startSpan(route ? `${request.method} ${route}` : request.method, {
      parent: incoming,
      kind: 'server',
      attributes: {
        'http.request.method': request.method,
        'url.path': request.url.split('?', 1)[0]!,
        ...(route ? { 'http.route': route } : {}),
      },
    });
    spans.set(request, span);
    if (span.traceparent !== undefined) traceparents.set(request, span.traceparent);
  });
  app.addHook('onResponse', async (request, reply) => {
    const span = spans.get(request);
    if (!span) return;
    span.set({ 'http.response.status_code': reply.statusCode });
    span.end(reply.statusCode >= 500 ? `HTTP ${reply.statusCode}` : undefined);
  });
}
