import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

/** Levels the one line per request can be logged at; 'silent' logs none. */
export type RequestLogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * Fastify's per-request log lines, quieted: one line per answered request at `level` (Default: debug, so a
 * polling worker does not fill the log at info), a request that failed at error as before.
 */
export class RequestLogs extends LogController {
  constructor(private readonly level: RequestLogLevel) {
    super();
  }

  override incomingRequest(): void {} // the answer's line says it all

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) {
      super.requestCompleted(error, request, reply);
      return;
    }
    if (this.level === 'silent') return;
    reply.log[this.level](
      {
        method: request.method,
        url: request.url,
        route: request.routeOptions.url,
        statusCode: reply.statusCode,
        responseTimeMs: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request answered',
    );
  }
}
