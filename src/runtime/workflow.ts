import { createHash } from 'node:crypto';
import { WaymarkError } from '../core/errors.js';
import type { Duration, Json, RetryPolicy } from '../core/types.js';

/** What a step function is told about the attempt it runs. */
export interface StepInfo {
  /** Stable for this step of this run across retries, crashes and workers: pass it to external APIs. */
  idempotencyKey: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborted when the attempt times out or the engine closes. */
  signal: AbortSignal;
  runId: string;
  step: string;
}

export interface StepOptions {
  /** How failed attempts are retried. (Default: 3 attempts, 1 s exponential backoff up to 60 s) */
  retry?: RetryPolicy;
  /** Time allowed for one attempt before it fails with E_STEP_TIMEOUT. (Default: no limit) */
  timeoutMs?: Duration;
}

export interface SignalWaitOptions {
  /** Give up after this long and resolve with null. (Default: wait forever) */
  timeoutMs?: Duration;
}

/** The API a workflow function uses. Everything that may differ between executions goes through it. */
export interface WorkflowContext {
  readonly runId: string;
  readonly workflow: string;
  readonly version: number;
  /** Runs `fn` once for this run (retried per policy); its output is checkpointed before the run goes on. */
  step<T>(name: string, fn: (info: StepInfo) => Promise<T> | T, options?: StepOptions): Promise<T>;
  /** A durable timer: the run holds no memory while it sleeps and wakes after restarts. */
  sleep(duration: Duration): Promise<void>;
  /** Waits for a signal sent with `engine.signal`; resolves null when the timeout passes first. */
  waitForSignal<T = Json>(name: string, options?: SignalWaitOptions): Promise<T | null>;
  /** Replay-safe clock (epoch ms). */
  now(): number;
  /** Replay-safe random number in [0, 1). */
  random(): number;
  /** Replay-safe random UUID. */
  uuid(): string;
}

export interface WorkflowConfig<I, O> {
  /** Letters, digits and . _ - : only. */
  name: string;
  /** Positive integer; a registered name+version is immutable. */
  version: number;
  run(ctx: WorkflowContext, input: I): Promise<O>;
  /** Step options every step of this workflow starts from. (Default: none) */
  stepDefaults?: StepOptions;
}

/** A defined workflow version, ready to hand to `Engine.open`. */
export interface WorkflowDefinition<I = any, O = any> extends WorkflowConfig<I, O> {
  /** Hash of the code and options, recorded when the version is registered. */
  readonly fingerprint: string;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Checks a workflow definition and fingerprints it. Bad definitions fail here, before anything runs. */
export function defineWorkflow<I = Json, O = Json>(config: WorkflowConfig<I, O>): WorkflowDefinition<I, O> {
  if (config === null || typeof config !== 'object') {
    throw new WaymarkError('E_INVALID_INPUT', 'defineWorkflow needs an object { name, version, run }');
  }
  if (typeof config.name !== 'string' || !NAME_PATTERN.test(config.name)) {
    throw new WaymarkError('E_INVALID_INPUT', `workflow name '${String(config.name)}' is invalid: use letters, digits and . _ - : (max 128)`);
  }
  if (!Number.isInteger(config.version) || config.version < 1) {
    throw new WaymarkError('E_INVALID_INPUT', `workflow '${config.name}': version must be a positive integer, got ${String(config.version)}`);
  }
  if (typeof config.run !== 'function') {
    throw new WaymarkError('E_INVALID_INPUT', `workflow '${config.name}' v${config.version}: run must be an async function (ctx, input)`);
  }
  const fingerprint = createHash('sha256')
    .update(`${config.name}\n${config.version}\n${config.run.toString()}\n${JSON.stringify(config.stepDefaults ?? {})}`)
    .digest('hex')
    .slice(0, 16);
  return Object.freeze({ ...config, fingerprint });
}

/** Validates a step or signal name: a non-empty string of at most 200 characters. */
export function checkOperationName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw new WaymarkError('E_INVALID_INPUT', `${what} name must be a non-empty string of at most 200 characters`);
  }
  return name;
}
