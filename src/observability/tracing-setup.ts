/**
 * Tracing configured by the standard OTEL_* environment variables: spans are exported with OTLP over HTTP (JSON)
 * when an OTLP endpoint is set, and nothing is started otherwise. The SDK is loaded only then.
 */
import type { Tracer, TracerProvider } from '@opentelemetry/api';

/** How an engine traces: the OTEL_* environment (the default), a tracer provider of the caller's, or not at all. */
export type TracingOption = false | { tracerProvider: TracerProvider };

/** A tracer, and how to flush and stop what this engine started for it. */
export interface TracingSetup {
  tracer: Tracer;
  /** Exports what is buffered and stops the exporter (a caller's provider is left alone). */
  shutdown(): Promise<void>;
}

type Environment = Record<string, string | undefined>;

/** Whether the environment asks for traces: an OTLP endpoint is set, and neither the SDK nor traces are disabled. */
export function tracingRequested(env: Environment): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? 'otlp').split(',').map((e) => e.trim().toLowerCase());
  if (!exporters.includes('otlp')) return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim());
}

/**
 * The tracer `option` asks for, or undefined when tracing is off (nothing loaded, nothing started). `warn` hears
 * about settings this exporter cannot honour.
 */
export async function openTracing(
  option: TracingOption | undefined,
  warn: (message: string, facts: Record<string, unknown>) => void,
  env: Environment = process.env,
): Promise<TracingSetup | undefined> {
  if (option === false) return undefined;
  if (option) return { tracer: option.tracerProvider.getTracer('waymark'), shutdown: async () => {} };
  if (!tracingRequested(env)) return undefined;
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/json').trim();
  if (protocol !== 'http/json')
    warn(`OTEL_EXPORTER_OTLP_PROTOCOL is '${protocol}': Waymark exports traces as OTLP over HTTP with JSON`, {
      protocol,
    });
  const [{ BatchSpanProcessor, TracerProvider, ...samplers }, { OTLPTraceExporter }, resources] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': 'waymark' }))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const number = (name: string) => {
    const value = Number(env[name]);
    return env[name] !== undefined && Number.isFinite(value) && value > 0 ? value : undefined;
  };
  const processor = new BatchSpanProcessor({
    exporter: new OTLPTraceExporter(),
    ...optional('scheduledDelayMillis', number('OTEL_BSP_SCHEDULE_DELAY')),
    ...optional('maxQueueSize', number('OTEL_BSP_MAX_QUEUE_SIZE')),
    ...optional('maxExportBatchSize', number('OTEL_BSP_MAX_EXPORT_BATCH_SIZE')),
    ...optional('exportTimeoutMillis', number('OTEL_BSP_EXPORT_TIMEOUT')),
  });
  const sampler = samplerOf(env, samplers, warn);
  const provider = new TracerProvider({ resource, spanProcessors: [processor], ...(sampler ? { sampler } : {}) });
  return { tracer: provider.getTracer('waymark'), shutdown: () => provider.shutdown() };
}

const optional = <K extends string>(key: K, value: number | undefined) =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, number>>;

type Samplers = Pick<
  typeof import('@opentelemetry/sdk-trace'),
  'AlwaysOnSampler' | 'AlwaysOffSampler' | 'TraceIdRatioBasedSampler' | 'ParentBasedSampler'
>;

/** OTEL_TRACES_SAMPLER (and _ARG), as the specification names them. (Default: parentbased_always_on) */
function samplerOf(env: Environment, s: Samplers, warn: (message: string, facts: Record<string, unknown>) => void) {
  const name = (env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on').trim().toLowerCase();
  const ratio = Number(env.OTEL_TRACES_SAMPLER_ARG ?? 1);
  const share = Number.isFinite(ratio) && ratio >= 0 && ratio <= 1 ? ratio : 1;
  switch (name) {
    case 'always_on':
      return new s.AlwaysOnSampler();
    case 'always_off':
      return new s.AlwaysOffSampler();
    case 'traceidratio':
      return new s.TraceIdRatioBasedSampler(share);
    case 'parentbased_always_on':
      return undefined; // the provider's default
    case 'parentbased_always_off':
      return new s.ParentBasedSampler({ root: new s.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new s.ParentBasedSampler({ root: new s.TraceIdRatioBasedSampler(share) });
    default:
      warn(`OTEL_TRACES_SAMPLER '${name}' is not one Waymark knows: it samples parentbased_always_on`, {
        sampler: name,
      });
      return undefined;
  }
}
