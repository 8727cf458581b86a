import { storableValue } from './text.js';
import type { ErrorInfo, Json } from './types.js';

/** Stable error codes. Scripts and tests match on these, never on messages. */
export type ErrorCode =
  | 'E_INVALID_INPUT'
  | 'E_NOT_SERIALIZABLE'
  | 'E_UNKNOWN_WORKFLOW'
  | 'E_UNKNOWN_VERSION'
  | 'E_VERSION_CONFLICT'
  | 'E_RUN_NOT_FOUND'
  | 'E_RUN_FAILED'
  | 'E_RUN_CANCELLED'
  | 'E_NONDETERMINISM'
  | 'E_STEP_FAILED'
  | 'E_STEP_TIMEOUT'
  | 'E_TIMEOUT'
  | 'E_EXPRESSION'
  | 'E_EXPRESSION_TIMEOUT'
  | 'E_EXPRESSION_MEMORY'
  | 'E_LEASE_LOST'
  | 'E_LOCK_HELD'
  | 'E_ENGINE_CLOSED'
  | 'E_SCHEMA_TOO_NEW'
  | 'E_STORE_NOT_FOUND'
  | 'E_STORE'
  | 'E_RUN_EXPIRED'
  | 'E_UNKNOWN_OUTCOME'
  | 'E_VERSION_UNAVAILABLE'
  | 'E_MIGRATION_REFUSED'
  | 'E_INVALID_OUTPUT'
  | 'E_RUN_STATE'
  | 'E_RUN_BUSY'
  | 'E_WOULD_STRAND'
  | 'E_TASK_FAILED'
  | 'E_TASK_NOT_FOUND'
  /** A declarative run went past a limit on what definitions may make the engine do (expression time, loop iterations, sub-workflows, HTTP response size). */
  | 'E_LIMIT_EXCEEDED'
  /** An HTTP task asked for a destination it may not reach (loopback, private, link-local, this machine) and no allow-list entry opens. */
  | 'E_HTTP_REFUSED';

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

/** Throw from a step to fail it at once: its remaining attempts are skipped. */
export class NonRetryableError extends Error {
  override name = 'NonRetryableError';
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

/** Rebuilds a throwable error from its recorded form (used on replay). */
export function fromErrorInfo(info: ErrorInfo): Error {
  if (info.name === 'NonRetryableError') return new NonRetryableError(info.message);
  if (info.code?.startsWith('E_')) {
    const error = new WaymarkError(info.code as ErrorCode, info.message, { details: info.details });
    return error;
  }
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
