/**
 * An engine's telemetry: its Prometheus metrics always, its OpenTelemetry spans when tracing is on. This is
 * what the kernel's Telemetry port is given.
 */
import { NO_TELEMETRY, type Telemetry } from '../runtime/telemetry.js';
import type { Store } from '../store/types.js';
import { summariseVersions } from '../versions/accounting.js';
import { loadRollouts } from '../versions/rollout.js';
import { WaymarkMetrics, type MetricsOptions } from './metrics.js';
import { openTracing, type TracingOption } from './tracing-setup.js';

/** What an engine observes itself with. */
export interface EngineTelemetry {
  telemetry: Telemetry;
  metrics: WaymarkMetrics;
  /** Flushes and stops the span exporter, if this engine started one. */
  close(): Promise<void>;
}

/** Metrics on the registry `metrics` names (reading gauges from `store`), and tracing as `tracing` says. */
export async function openTelemetry(
  store: Store,
  options: { metrics?: MetricsOptions; tracing?: TracingOption },
  warn: (message: string, facts: Record<string, unknown>) => void,
): Promise<EngineTelemetry> {
  const metrics = new WaymarkMetrics(options.metrics ?? {}, store.dialect, async () => {
    const [versions, rollouts, backlog] = await Promise.all([
      summariseVersions(store),
      loadRollouts(store),
      store.tasks.backlog(),
    ]);
    return { versions, rollouts, backlog };
  });
  const tracing = await openTracing(options.tracing, warn);
  const startSpan = tracing ? (await import('./tracing.js')).spanStarter(tracing.tracer) : NO_TELEMETRY.startSpan;
  const telemetry: Telemetry = {
    tracing: tracing !== undefined,
    startSpan,
    runStarted: (workflow, version, trigger) => metrics.runStarted(workflow, version, trigger),
    runFinished: (workflow, version, outcome, seconds) => metrics.runFinished(workflow, version, outcome, seconds),
    stepAttempt: (workflow, version, step, outcome, seconds) =>
      metrics.stepAttempt(workflow, version, step, outcome, seconds),
    commitBatch: (size, seconds) => metrics.commitBatched(size, seconds),
    claimed: (lagSeconds) => metrics.claimed(lagSeconds),
    taskPolled: (taskType, waited) => metrics.taskPolled(taskType, waited),
  };
  return {
    telemetry,
    metrics,
    close: async () => {
      await tracing?.shutdown().catch((error) => warn('exporting the last spans failed', { error: String(error) }));
    },
  };
}
