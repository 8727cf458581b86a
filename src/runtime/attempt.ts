import { NonRetryableError, WaymarkError, fromErrorInfo, toErrorInfo } from '../core/errors.js';
import { roundTrip } from '../core/json.js';
import { schemaIssues, type OutputSchema } from '../core/schema.js';
import type { ErrorInfo, Json } from '../core/types.js';

/** How one attempt of a step (or a compensation) ended, with what the audit trail records about it. */
export type AttemptResult<T> =
  | { ok: true; value: T; startedAt: number; durationMs: number }
  | { ok: false; error: ErrorInfo; retryable: boolean; startedAt: number; durationMs: number };

/**
 * Runs `fn` once, bounded by `timeoutMs` (the attempt's signal aborts on timeout or when `parent` aborts).
 * Thrown errors become results; NonRetryableError and unserialisable outputs are not retryable.
 */
export async function runAttempt<T>(
  fn: (signal: AbortSignal) => Promise<T> | T,
  options: { timeoutMs: number | undefined; what: string; parent: AbortSignal; check?: (value: T) => T | Promise<T> },
): Promise<AttemptResult<T>> {
  // Only an attempt with a timeout needs a signal of its own (AbortSignal.any is costly on the hot path).
  const timeout = options.timeoutMs === undefined ? undefined : new AbortController();
  const forward = () => timeout?.abort(options.parent.reason);
  if (timeout) options.parent.addEventListener('abort', forward, { once: true });
  const signal = timeout?.signal ?? options.parent;
  const startedAt = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const run = Promise.resolve().then(() => fn(signal));
    const raw =
      options.timeoutMs === undefined
        ? await run
        : await Promise.race([
            run,
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => {
                const error = new WaymarkError(
                  'E_STEP_TIMEOUT',
                  `${options.what} timed out after ${options.timeoutMs} ms`,
                );
                timeout!.abort(error);
                reject(error);
              }, options.timeoutMs);
            }),
          ]);
    const value = options.check ? await options.check(raw) : raw;
    return { ok: true, value, startedAt, durationMs: Date.now() - startedAt };
  } catch (error) {
    const info = toErrorInfo(error);
    const retryable = !(error instanceof NonRetryableError) && info.code !== 'E_NOT_SERIALIZABLE';
    return { ok: false, error: info, retryable, startedAt, durationMs: Date.now() - startedAt };
  } finally {
    clearTimeout(timer);
    if (timeout) options.parent.removeEventListener('abort', forward);
  }
}

/** The error a workflow sees for a step that failed for good (the same on replay). */
export function stepFailedError(name: string, seq: number, attempts: number, cause: ErrorInfo): WaymarkError {
  const plural = attempts === 1 ? 'attempt' : 'attempts';
  return new WaymarkError('E_STEP_FAILED', `step '${name}' failed after ${attempts} ${plural}: ${cause.message}`, {
    details: { step: name, seq, attempts, error: cause as unknown as Json },
    cause: fromErrorInfo(cause),
  });
}

/**
 * A step's output as the history will hold it, checked against the step's declared schema (E_INVALID_OUTPUT,
 * retryable).
 */
export async function checkedOutput<T>(raw: T, step: string, options: { output?: OutputSchema }): Promise<T> {
  const value = roundTrip(raw, `output of step '${step}'`);
  if (!options.output) return value;
  const issues = await schemaIssues(options.output, value as Json | undefined);
  if (issues)
    throw new WaymarkError(
      'E_INVALID_OUTPUT',
      `output of step '${step}' does not match its schema: ${issues.join('; ')}`,
      { details: { step, issues } },
    );
  return value;
}
