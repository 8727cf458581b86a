import { createHash } from 'node:crypto';
import { WaymarkError } from '../core/errors.js';
import { checkStorableText } from '../core/json.js';
import { parseDuration } from '../core/duration.js';
import { isOutputSchema, type OutputSchema } from '../core/schema.js';
import type { TaskOptions } from './task-op.js';
import type { Duration, FailurePolicy, Json, RetryPolicy, StepEffect } from '../core/types.js';

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
  /** This attempt's W3C traceparent, to continue the trace in calls the step makes; absent when it is not traced. */
  traceparent?: string;
}

/** What a compensation is told: the same key scheme as steps, for its own retries. */
export interface CompensationInfo {
  idempotencyKey: string;
  attempt: number;
  signal: AbortSignal;
}

// biome-ignore lint/suspicious/noExplicitAny: definitions of any input/output types must be assignable here
export interface StepOptions<T = any> {
  /** What the step does to the world. (Default: 'none') */
  effect?: StepEffect;
  /**
   * May an attempt whose outcome is unknown run again (with the same key)? (Default: true for effect 'none', else
   * false)
   */
  idempotent?: boolean;
  /** Undoes the completed step; required for `effect: 'reversible'`. Durable, checkpointed and retried like a step. */
  compensate?: (output: T, info: CompensationInfo) => Promise<void> | void;
  /** How failed attempts are retried. (Default: 3 attempts, 1 s exponential backoff up to 60 s) */
  retry?: RetryPolicy;
  /** Time allowed for one attempt before it fails with E_STEP_TIMEOUT. (Default: no limit) */
  timeoutMs?: Duration;
  /** After the last attempt: fail the run, unwind the saga, or park for an operator. (Default: 'fail') */
  onFailure?: FailurePolicy;
  /**
   * A Standard Schema (zod, valibot...) the step's output must satisfy; checked on every attempt and by deploy checks.
   * (Default: none)
   */
  output?: OutputSchema;
}

/** A target lock a workflow's runs hold for their whole life. */
export interface LockOptions<I> {
  /** The target key from the run's input, e.g. `(input) => 'cluster:' + input.cluster`. */
  key: (input: I) => string;
  /** A second start for a held key: refuse it (E_LOCK_HELD) or queue it (FIFO, status waiting). (Default: 'reject') */
  onConflict?: 'reject' | 'queue';
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
  step<T>(name: string, fn: (info: StepInfo) => Promise<T> | T, options?: StepOptions<T>): Promise<T>;
  /** A durable timer: the run holds no memory while it sleeps and wakes after restarts. */
  sleep(duration: Duration): Promise<void>;
  /**
   * Dispatches a task to remote workers polling for `type` (any language, over HTTP) and resolves with the
   * output a worker reports; the run holds no memory meanwhile. Throws E_TASK_FAILED after the last attempt.
   */
  task<T = Json>(type: string, input: Json, options?: TaskOptions): Promise<T>;
  /** Waits for a signal sent with `engine.signal`; resolves null when the timeout passes first. */
  waitForSignal<T = Json>(name: string, options?: SignalWaitOptions): Promise<T | null>;
  /**
   * A patch gate: true for runs that reach this point on code with the patch (the decision is recorded),
   * false when replaying a history made before it. Branch on it to change code under in-flight runs.
   */
  patched(id: string): boolean;
  /** Marks a patch whose old branch is gone: new runs record it, old histories still replay. */
  deprecatePatch(id: string): void;
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
  /** Options of named steps, checked when the workflow is defined; inline options override them. */
  steps?: Record<string, StepOptions>;
  /** Hold a target lock for each run's life. (Default: none) */
  lock?: LockOptions<I>;
  /** Longest a run may live; then `onExpire` applies. Overridable per start. (Default: unbounded) */
  maxLifetimeMs?: Duration;
  /** What an expired run does. (Default: 'fail') */
  onExpire?: FailurePolicy;
  /**
   * A declarative version's graph (JSON) it was compiled from: stored, so every engine can serve it. (Default: none)
   */
  source?: Json;
}

/** Highest workflow version: the stores keep versions as 32-bit integers. */
export const MAX_VERSION = 2_147_483_647;

/** A defined workflow version, ready to hand to `Engine.open`. */
// biome-ignore lint/suspicious/noExplicitAny: definitions of any input/output types must be assignable here
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
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `workflow name '${String(config.name)}' is invalid: use letters, digits and . _ - : (max 128)`,
    );
  }
  if (!Number.isInteger(config.version) || config.version < 1 || config.version > MAX_VERSION) {
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `workflow '${config.name}': version must be a positive integer (at most ${MAX_VERSION}), got ` +
        `${String(config.version)}`,
    );
  }
  if (typeof config.run !== 'function') {
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `workflow '${config.name}' v${config.version}: run must be an async function (ctx, input)`,
    );
  }
  const where = `workflow '${config.name}' v${config.version}`;
  checkStepOptions(config.stepDefaults ?? {}, `${where} stepDefaults`, false);
  for (const [step, options] of Object.entries(config.steps ?? {}))
    checkStepOptions({ ...config.stepDefaults, ...options }, `${where} step '${step}'`);
  if (config.lock !== undefined && typeof config.lock?.key !== 'function') {
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `${where}: lock.key must be a function of the input returning the target key`,
    );
  }
  if (config.lock?.onConflict !== undefined && !['reject', 'queue'].includes(config.lock.onConflict)) {
    throw new WaymarkError('E_INVALID_INPUT', `${where}: lock.onConflict must be 'reject' or 'queue'`);
  }
  if (config.maxLifetimeMs !== undefined) parseDuration(config.maxLifetimeMs, `${where} maxLifetimeMs`);
  checkPolicy(config.onExpire, `${where} onExpire`);
  const fingerprint = createHash('sha256')
    .update(`${config.name}\n${config.version}\n${config.run.toString()}\n${describeOptions(config)}`)
    .digest('hex')
    .slice(0, 16);
  return Object.freeze({ ...config, fingerprint });
}

/** Merges step options: workflow defaults, then the named step's declaration, then the call's own. */
export function resolveStepOptions(
  definition: WorkflowDefinition,
  name: string,
  inline: StepOptions | undefined,
): StepOptions {
  return { ...definition.stepDefaults, ...definition.steps?.[name], ...inline };
}

/** Whether a step may run again after an unknown outcome. */
export function isIdempotent(options: StepOptions): boolean {
  return options.idempotent ?? (options.effect ?? 'none') === 'none';
}

/** Rejects contradictory step options (a reversible step without compensate, unknown values). */
export function checkStepOptions(options: StepOptions, where: string, complete = true): void {
  const bad = (reason: string) => new WaymarkError('E_INVALID_INPUT', `${where}: ${reason}`);
  if (options.effect !== undefined && !['none', 'reversible', 'irreversible'].includes(options.effect)) {
    throw bad(`effect must be 'none', 'reversible' or 'irreversible', got '${String(options.effect)}'`);
  }
  if (options.idempotent !== undefined && typeof options.idempotent !== 'boolean')
    throw bad('idempotent must be a boolean');
  if (options.compensate !== undefined && typeof options.compensate !== 'function')
    throw bad('compensate must be a function (output, info)');
  if (complete && options.effect === 'reversible' && !options.compensate)
    throw bad('a reversible step needs a compensate function');
  if (options.compensate && options.effect !== undefined && options.effect !== 'reversible')
    throw bad(`compensate is only for reversible steps, not '${options.effect}'`);
  if (options.timeoutMs !== undefined) parseDuration(options.timeoutMs, `${where} timeoutMs`);
  if (options.output !== undefined && !isOutputSchema(options.output))
    throw bad('output must be a Standard Schema validator (zod, valibot, ...)');
  checkPolicy(options.onFailure, `${where} onFailure`);
}

function checkPolicy(policy: unknown, where: string): void {
  if (policy !== undefined && !['fail', 'compensate', 'escalate'].includes(policy as string)) {
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `${where} must be 'fail', 'compensate' or 'escalate', got '${String(policy)}'`,
    );
  }
}

/** Step and lifetime options as text for the fingerprint (functions by their source). */
// biome-ignore lint/suspicious/noExplicitAny: definitions of any input/output types must be assignable here
function describeOptions(config: WorkflowConfig<any, any>): string {
  return JSON.stringify(
    {
      stepDefaults: config.stepDefaults,
      steps: config.steps,
      lock: config.lock,
      maxLifetimeMs: config.maxLifetimeMs,
      onExpire: config.onExpire,
    },
    (_key, value: unknown) =>
      typeof value === 'function'
        ? value.toString()
        : isOutputSchema(value)
          ? `schema:${value['~standard'].vendor}`
          : value,
  );
}

/** Validates a step, signal, task or patch name: a non-empty string of at most 200 characters, storable text. */
export function checkOperationName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw new WaymarkError('E_INVALID_INPUT', `${what} name must be a non-empty string of at most 200 characters`);
  }
  return checkStorableText(name, `${what} name`);
}

/** The lock key for a run's input; a key function that throws or returns a non-string is bad input. */
export function lockKeyOf(definition: WorkflowDefinition, input: Json | undefined): string {
  let key: unknown;
  try {
    key = definition.lock!.key(input);
  } catch (error) {
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `lock key of workflow '${definition.name}' failed for this input: ${(error as Error).message}`,
    );
  }
  if (typeof key !== 'string' || key.length === 0) {
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `lock key of workflow '${definition.name}' must be a non-empty string, got ${JSON.stringify(key)}`,
    );
  }
  return checkStorableText(key, `lock key of workflow '${definition.name}'`);
}
