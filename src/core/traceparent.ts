/**
 * W3C trace context (https://www.w3.org/TR/trace-context/): a `traceparent` names the span a run, a task or a
 * request continues. Waymark stores it with a run's start and hands it to a task's worker; it never changes one.
 */

/** `00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`, lower case, ids not all zeros. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A traceparent's parts. */
export interface TraceContext {
  traceId: string;
  spanId: string;
  /** Bit 0: the caller records (samples) this trace. */
  flags: number;
}

/** The parts of a valid traceparent, or undefined for anything else (the spec says: ignore it). */
export function parseTraceparent(value: unknown): TraceContext | undefined {
  if (typeof value !== 'string' || value.length > 512) return undefined;
  const match = TRACEPARENT.exec(value.trim());
  if (!match) return undefined;
  const [, version, traceId, spanId, flags] = match as unknown as [string, string, string, string, string];
  if (version === 'ff' || /^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

/** The version-00 traceparent of `context`. */
export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.spanId}-${(context.flags & 0xff).toString(16).padStart(2, '0')}`;
}

/** A valid traceparent as it is (normalised to version 00), or undefined for anything else. */
export function validTraceparent(value: unknown): string | undefined {
  const context = parseTraceparent(value);
  return context ? formatTraceparent(context) : undefined;
}
