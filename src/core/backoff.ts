import { MAX_DURATION_MS } from './duration.js';
import { WaymarkError } from './errors.js';
import type { RetryPolicy } from './types.js';

/** A retry policy with every default filled in. */
export type ResolvedRetryPolicy = Required<RetryPolicy>;

export const DEFAULT_RETRY: ResolvedRetryPolicy = {
  maxAttempts: 3,
  initialDelayMs: 1_000,
  backoff: 'exponential',
  maxDelayMs: 60_000,
  multiplier: 2,
  jitter: 0.1,
};

/** Fills defaults and rejects nonsense (negative delays, zero attempts, unknown backoff). */
export function resolveRetryPolicy(policy: RetryPolicy | undefined, what: string): ResolvedRetryPolicy {
  const resolved = { ...DEFAULT_RETRY, ...stripUndefined(policy ?? {}) };
  const bad = (reason: string) => new WaymarkError('E_INVALID_INPUT', `${what}: retry.${reason}`);
  if (!Number.isInteger(resolved.maxAttempts) || resolved.maxAttempts < 1)
    throw bad('maxAttempts must be an integer >= 1');
  if (!(resolved.initialDelayMs >= 0 && resolved.initialDelayMs <= MAX_DURATION_MS))
    throw bad('initialDelayMs must be >= 0 and at most 100 years');
  if (!(resolved.maxDelayMs >= 0 && resolved.maxDelayMs <= MAX_DURATION_MS))
    throw bad('maxDelayMs must be >= 0 and at most 100 years');
  if (!(resolved.multiplier >= 1)) throw bad('multiplier must be >= 1');
  if (!(resolved.jitter >= 0 && resolved.jitter <= 1)) throw bad('jitter must be between 0 and 1');
  if (!['fixed', 'linear', 'exponential'].includes(resolved.backoff)) {
    throw bad(`backoff must be 'fixed', 'linear' or 'exponential', got '${resolved.backoff}'`);
  }
  return resolved;
}

/**
 * Delay before the attempt after `failedAttempt` (1-based). `random` in [0, 1) spreads the jitter;
 * 0.5 means none. Pure: the caller supplies randomness and records the result.
 */
export function retryDelayMs(policy: ResolvedRetryPolicy, failedAttempt: number, random: number): number {
  const { initialDelayMs, backoff, multiplier, maxDelayMs, jitter } = policy;
  let delay: number;
  if (backoff === 'fixed') delay = initialDelayMs;
  else if (backoff === 'linear') delay = initialDelayMs * failedAttempt;
  else delay = initialDelayMs * multiplier ** (failedAttempt - 1);
  delay = Math.min(delay, maxDelayMs);
  const spread = delay * jitter * (random * 2 - 1);
  return Math.max(0, Math.round(Math.min(delay + spread, maxDelayMs)));
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
