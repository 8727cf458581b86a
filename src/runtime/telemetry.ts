/**
 * What the kernel tells about its work as it does it: counts and durations for metrics, spans for traces. The
 * kernel calls this port and knows nothing of Prometheus or OpenTelemetry; the observability layer implements it.
 * Every method is cheap and never throws; NO_TELEMETRY does nothing at all.
 */

/** How a run came to be started: a call on an engine, the /v1 API, the Conductor API, a parent run, an operator, a
 * schedule. */
export type StartTrigger = 'call' | 'http' | 'conductor' | 'sub_workflow' | 'restart' | 'rerun' | 'schedule';

export const START_TRIGGERS: readonly StartTrigger[] = [
  'call',
  'http',
  'conductor',
  'sub_workflow',
  'restart',
  'rerun',
  'schedule',
];

/** How a run's execution came to a stop an operator cares about: it ended, or it was parked for one. */
export type RunOutcome = 'completed' | 'failed' | 'cancelled' | 'compensated' | 'parked';

/** How one step attempt ended: its output, a failure that is retried, a failure for good. */
export type StepOutcome = 'completed' | 'retried' | 'failed';

/** Attribute values a span carries. */
export type SpanAttributes = Record<string, string | number | boolean>;

export interface SpanOptions {
  /** The W3C traceparent of the parent span. (Default: none: the span starts a trace) */
  parent?: string;
  /** Traceparents of spans this one is linked to (e.g. the runs a commit batch carried). (Default: none) */
  links?: string[];
  attributes?: SpanAttributes;
  /** (Default: 'internal') */
  kind?: 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  /** When the span began, epoch ms. (Default: now) */
  startedAt?: number;
}

/** A started span; `end` once. */
export interface SpanHandle {
  /** This span's W3C traceparent (its children's parent); undefined when tracing is off. */
  readonly traceparent: string | undefined;
  /** Adds attributes known only later (an outcome). */
  set(attributes: SpanAttributes): void;
  /** Ends the span; with `error`, its status is an error with that message. */
  end(error?: string): void;
}

/** The port the kernel reports through. */
export interface Telemetry {
  /** Whether spans are recorded: false makes `startSpan` return a handle that does nothing. */
  readonly tracing: boolean;
  startSpan(name: string, options?: SpanOptions): SpanHandle;
  runStarted(workflow: string, version: number, trigger: StartTrigger): void;
  /** `seconds`: from the run's creation to now. */
  runFinished(workflow: string, version: number, outcome: RunOutcome, seconds: number): void;
  stepAttempt(workflow: string, version: number, step: string, outcome: StepOutcome, seconds: number): void;
  /** One group commit of `size` checkpoints took `seconds`. */
  commitBatch(size: number, seconds: number): void;
  /** A due run was claimed `seconds` after it became due. */
  claimed(lagSeconds: number): void;
  /** A poll for `taskType` handed out tasks that had waited these many seconds each (none: an empty poll). */
  taskPolled(taskType: string, waitedSeconds: number[]): void;
}

const NO_SPAN: SpanHandle = { traceparent: undefined, set: () => {}, end: () => {} };

/** Telemetry that records nothing (an engine without metrics and traces; tests of the kernel alone). */
export const NO_TELEMETRY: Telemetry = {
  tracing: false,
  startSpan: () => NO_SPAN,
  runStarted: () => {},
  runFinished: () => {},
  stepAttempt: () => {},
  commitBatch: () => {},
  claimed: () => {},
  taskPolled: () => {},
};

/** The no-op span (what `startSpan` gives while tracing is off). */
export const noSpan = (): SpanHandle => NO_SPAN;
