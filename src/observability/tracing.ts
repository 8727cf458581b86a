/**
 * Spans through an OpenTelemetry tracer, with parents and links named by W3C traceparents (what the kernel stores
 * and hands on). Loaded only when tracing is on.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Link,
  type Span,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';
import { formatTraceparent, parseTraceparent } from '../core/traceparent.js';
import type { SpanAttributes, SpanHandle, SpanOptions } from '../runtime/telemetry.js';

const KINDS: Record<NonNullable<SpanOptions['kind']>, SpanKind> = {
  internal: SpanKind.INTERNAL,
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
};

/** The remote span a traceparent names, or undefined for an invalid one. */
function spanContextOf(traceparent: string | undefined): SpanContext | undefined {
  const context = parseTraceparent(traceparent);
  if (!context) return undefined;
  return { traceId: context.traceId, spanId: context.spanId, traceFlags: context.flags, isRemote: true };
}

/** A span the kernel ends once; its traceparent is what children and workers continue. */
class OtelSpan implements SpanHandle {
  private ended = false;
  readonly traceparent: string;

  constructor(private readonly span: Span) {
    const context = span.spanContext();
    this.traceparent = formatTraceparent({
      traceId: context.traceId,
      spanId: context.spanId,
      flags: context.traceFlags,
    });
  }

  set(attributes: SpanAttributes): void {
    if (!this.ended) this.span.setAttributes(attributes);
  }

  end(error?: string): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) this.span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    this.span.end();
  }
}

/** Starts spans on `tracer`. */
export function spanStarter(tracer: Tracer): (name: string, options?: SpanOptions) => SpanHandle {
  return (name, options = {}) => {
    const parent = spanContextOf(options.parent);
    const context = parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
    const links: Link[] = [];
    for (const traceparent of options.links ?? []) {
      const linked = spanContextOf(traceparent);
      if (linked) links.push({ context: linked });
    }
    const span = tracer.startSpan(
      name,
      {
        kind: KINDS[options.kind ?? 'internal'],
        ...(options.attributes ? { attributes: options.attributes } : {}),
        ...(links.length > 0 ? { links } : {}),
        ...(options.startedAt !== undefined ? { startTime: options.startedAt } : {}),
      },
      context,
    );
    return new OtelSpan(span);
  };
}
