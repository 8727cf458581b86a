import { storableValue } from './text.js';
import type { ErrorInfo, Json } from './types.js';

/**
 * What kind of failure a code is: `invalid` input (400), `not_found` (404), `conflict` or wrong state (409),
 * `unavailable` for now (503), `internal` (500). HTTP statuses on every surface follow the kind.
 */
export type ErrorKind = 'invalid' | 'not_found' | 'conflict' | 'unavailable' | 'internal';

/** What a code means and how a caller reacts to it. */
export interface ErrorSpec {
  kind: ErrorKind;
  /** Whether the same request (or step attempt) may succeed later unchanged. */
  retryable: boolean;
  /** One line saying what happened. */
  meaning: string;
  /** HTTP status when it is not the kind's: each exception says why. (Default: the kind's status) */
  status?: number;
}

/**
 * Every error code Waymark raises, with its kind, whether a retry can help, and its meaning. Scripts and tests
 * match on codes, never on messages; a code is added here first (`ErrorCode` is this table's keys).
 */
export const ERRORS = {
  E_INVALID_INPUT: {
    kind: 'invalid',
    retryable: false,
    meaning: 'bad input (a field, option or value): nothing was written',
  },
  E_NOT_SERIALIZABLE: { kind: 'invalid', retryable: false, meaning: 'a value is not JSON data the history can hold' },
  E_EXPRESSION: {
    kind: 'invalid',
    retryable: false,
    meaning: 'an expression of a declarative definition failed (syntax, throw, result not JSON)',
  },
  E_EXPRESSION_TIMEOUT: { kind: 'invalid', retryable: false, meaning: 'an expression ran longer than its time limit' },
  E_EXPRESSION_MEMORY: { kind: 'invalid', retryable: false, meaning: 'an expression used more than its memory limit' },
  E_LIMIT_EXCEEDED: {
    kind: 'invalid',
    retryable: false,
    meaning: 'a declarative run went past a limit on what definitions may make the engine do',
  },
  E_HTTP_REFUSED: {
    kind: 'invalid',
    retryable: false,
    meaning: 'an HTTP task asked for a destination it may not reach (loopback, private, this machine)',
  },
  E_DEFINITION_REFUSED: {
    kind: 'invalid',
    retryable: false,
    meaning: 'the server refused some of the definitions sent to it (the CLI reports which)',
  },
  E_UNKNOWN_WORKFLOW: { kind: 'not_found', retryable: false, meaning: 'no workflow of that name is registered' },
  E_UNKNOWN_VERSION: { kind: 'not_found', retryable: false, meaning: 'the workflow has no such version' },
  E_RUN_NOT_FOUND: { kind: 'not_found', retryable: false, meaning: 'no run has that id' },
  E_TASK_NOT_FOUND: {
    kind: 'not_found',
    retryable: false,
    meaning: 'no task (or task definition) has that id or name',
  },
  E_KEY_NOT_FOUND: { kind: 'not_found', retryable: false, meaning: 'no API key has that key id' },
  E_REPORT_NOT_FOUND: { kind: 'not_found', retryable: false, meaning: 'no kept deploy report has that id' },
  E_SCHEDULE_NOT_FOUND: { kind: 'not_found', retryable: false, meaning: 'no schedule has that id' },
  E_SCHEDULE_EXISTS: { kind: 'conflict', retryable: false, meaning: 'a schedule with that id exists already' },
  E_JOB_NOT_FOUND: { kind: 'not_found', retryable: false, meaning: 'this server has no bulk job of that id' },
  E_EVENT_HANDLER_NOT_FOUND: { kind: 'not_found', retryable: false, meaning: 'no event handler has that name' },
  E_EVENT_HANDLER_EXISTS: { kind: 'conflict', retryable: false, meaning: 'an event handler of that name exists' },
  E_BROKER_NOT_CONFIGURED: {
    kind: 'invalid',
    retryable: false,
    meaning: 'a queue names a broker (nats:, amqp:) this engine has no connection settings for',
  },
  E_BROKER: { kind: 'unavailable', retryable: true, meaning: 'a message broker failed or cannot be reached' },
  E_STORE_NOT_FOUND: {
    kind: 'not_found',
    retryable: false,
    meaning: 'the store named does not exist (nothing was created)',
  },
  E_VERSION_CONFLICT: {
    kind: 'conflict',
    retryable: false,
    meaning: 'that name and version are registered with another definition',
  },
  E_VERSION_UNAVAILABLE: {
    kind: 'conflict',
    retryable: false,
    meaning: 'the version takes no new starts (draining, retired, quarantined)',
  },
  E_RUN_STATE: {
    kind: 'conflict',
    retryable: false,
    meaning: "the run's (or version's, or rollout's) state does not allow it",
  },
  E_RUN_BUSY: {
    kind: 'conflict',
    retryable: true,
    meaning: 'the run changed meanwhile or is executing on a worker: nothing was changed, try again',
  },
  E_ROLLOUT_BUSY: {
    kind: 'conflict',
    retryable: true,
    meaning: 'the rollout changed meanwhile or another process holds it: nothing was changed, try again',
  },
  E_LOCK_HELD: {
    kind: 'conflict',
    retryable: true,
    meaning: 'another run holds the target lock: it frees when that run ends',
  },
  E_WOULD_STRAND: {
    kind: 'conflict',
    retryable: false,
    meaning: 'closing this worker would leave runs no live worker serves',
  },
  E_MIGRATION_REFUSED: {
    kind: 'conflict',
    retryable: false,
    meaning: 'the migration threw or its validate refused the transformed history',
  },
  E_NONDETERMINISM: {
    kind: 'conflict',
    retryable: false,
    meaning: "the workflow's code diverges from the run's history",
  },
  E_LEASE_LOST: {
    kind: 'conflict',
    retryable: false,
    meaning: 'this process no longer holds the run: another worker goes on with it',
  },
  E_RUN_FAILED: { kind: 'conflict', retryable: false, meaning: 'the awaited run failed (its error is in the details)' },
  E_RUN_CANCELLED: {
    kind: 'conflict',
    retryable: false,
    meaning: 'the run was cancelled (or compensated) by an operator',
  },
  E_RUN_EXPIRED: { kind: 'conflict', retryable: false, meaning: 'the run outlived its lifetime' },
  E_TERMINATED: {
    kind: 'conflict',
    retryable: false,
    meaning: 'a TERMINATE task ended the declarative run as FAILED or TERMINATED (details.status)',
  },
  E_UNKNOWN_OUTCOME: {
    kind: 'conflict',
    retryable: false,
    meaning: 'a step with effects was interrupted: whether it took effect is for an operator to say',
  },
  E_TIMEOUT: {
    kind: 'unavailable',
    retryable: true,
    meaning: 'a wait ran out of time (for a run to finish, an HTTP answer, a replay)',
    // Over HTTP it is a wait the caller bounded (timeoutMs) running out: nothing failed on the server, so a 4xx
    // and not 503/504 (which monitors count as server faults); 408, the request's own time being up.
    status: 408,
  },
  E_STEP_TIMEOUT: {
    kind: 'unavailable',
    retryable: true,
    meaning: 'a step attempt ran longer than its timeout (the step is retried)',
  },
  E_STORE: { kind: 'unavailable', retryable: true, meaning: 'the store failed or cannot be reached' },
  E_ENGINE_CLOSED: {
    kind: 'unavailable',
    retryable: true,
    meaning: 'this engine is closed or shutting down: ask again, or ask another',
  },
  E_SERVER_UNREACHABLE: { kind: 'unavailable', retryable: true, meaning: 'the CLI could not reach the Waymark server' },
  E_STEP_FAILED: {
    kind: 'internal',
    retryable: false,
    meaning: 'a step failed for good (after its attempts, or a NonRetryableError)',
  },
  E_TASK_FAILED: {
    kind: 'internal',
    retryable: false,
    meaning: 'a task failed for good (after its attempts, or a terminal error)',
  },
  E_NON_RETRYABLE: {
    kind: 'internal',
    retryable: false,
    meaning: 'a step threw NonRetryableError: its remaining attempts are skipped',
  },
  E_INVALID_OUTPUT: {
    kind: 'internal',
    retryable: true,
    meaning: "a step's output does not match its declared schema (the attempt is retried)",
  },
  E_SCHEMA_TOO_NEW: {
    kind: 'internal',
    retryable: false,
    meaning: "the store's schema is newer than this code: upgrade Waymark",
  },
  E_INTERNAL: {
    kind: 'internal',
    retryable: true,
    meaning: 'an unexpected failure (see the server log), most often a passing one',
  },
} satisfies Record<string, ErrorSpec>;

/** Stable error codes: the keys of ERRORS. */
export type ErrorCode = keyof typeof ERRORS;

/** HTTP status of each kind. */
const KIND_STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
  internal: 500,
};

/** Whether `code` is one of ERRORS (a recorded error may carry a code of the user's own). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/** The spec of `code`; a code outside the table (a user's own) is an internal, non-retryable failure. */
export function errorSpec(code: string): ErrorSpec {
  return isErrorCode(code) ? ERRORS[code] : { kind: 'internal', retryable: false, meaning: 'a failure of the code' };
}

/** The HTTP status of `code` on every surface (/v1 and /api): the table's exception, else its kind's. */
export function httpStatusOf(code: string): number {
  const spec = errorSpec(code);
  return spec.status ?? KIND_STATUS[spec.kind];
}

/** Whether asking again unchanged may succeed. */
export function isRetryable(code: string): boolean {
  return errorSpec(code).retryable;
}

/** Every error Waymark raises on purpose. `code` is stable; `details` carries the facts. */
export class WaymarkError extends Error {
  override name = 'WaymarkError';
  readonly code: ErrorCode;
  readonly details: Json | undefined;

  constructor(code: ErrorCode, message: string, options: { details?: Json; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
}

/** Throw from a step to fail it at once: its remaining attempts are skipped. (Default code: E_NON_RETRYABLE) */
export class NonRetryableError extends WaymarkError {
  override name = 'NonRetryableError';

  constructor(message: string, options: { code?: ErrorCode; details?: Json; cause?: unknown } = {}) {
    super(options.code ?? 'E_NON_RETRYABLE', message, options);
  }
}

/**
 * Turns anything thrown into the form recorded in the history and on the run, made storable: a NUL or a
 * lone surrogate in its message, stack or details becomes U+FFFD (see text.ts).
 */
export function toErrorInfo(error: unknown): ErrorInfo {
  return storableValue(describeError(error));
}

function describeError(error: unknown): ErrorInfo {
  if (error instanceof WaymarkError) {
    const info: ErrorInfo = { name: error.name, message: error.message, code: error.code };
    if (error.details !== undefined) info.details = error.details;
    // A NonRetryableError comes from the step's own code: where it was thrown is worth keeping.
    const stack = error instanceof NonRetryableError ? trimStack(error.stack) : undefined;
    if (stack) info.stack = stack;
    return info;
  }
  if (error instanceof Error) {
    const info: ErrorInfo = { name: error.name, message: error.message };
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') info.code = code;
    const stack = trimStack(error.stack);
    if (stack) info.stack = stack;
    return info;
  }
  return { name: 'Error', message: typeof error === 'string' ? error : safeString(error) };
}

/**
 * Rebuilds a throwable error from its recorded form (used on replay). A NonRetryableError recorded without a
 * code (before it had one) comes back with E_NON_RETRYABLE; an `E_...` code outside ERRORS (a user's own) is
 * kept as it was recorded.
 */
export function fromErrorInfo(info: ErrorInfo): Error {
  const code = info.code as ErrorCode | undefined;
  if (info.name === 'NonRetryableError') return new NonRetryableError(info.message, { code, details: info.details });
  if (code?.startsWith('E_')) return new WaymarkError(code, info.message, { details: info.details });
  const error = new Error(info.message);
  error.name = info.name;
  return error;
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The first frames of a stack (the message line dropped), so the audit trail stays small. (Default: 5 frames) */
export function trimStack(stack: string | undefined, frames = 5): string | undefined {
  if (!stack) return undefined;
  const lines = stack.split('\n').filter((line) => line.trimStart().startsWith('at '));
  return lines.length
    ? lines
        .slice(0, frames)
        .map((line) => line.trim())
        .join('\n')
    : undefined;
}
