/** The failures a declarative run meets at a limit or a refused destination: not retried, with a stable code. */
import { NonRetryableError, type ErrorCode } from '../core/errors.js';

/** A failure that no retry can help, with a stable code in the history (as `error.code`). */
export function refusal(code: ErrorCode, message: string): NonRetryableError {
  return new NonRetryableError(message, { code });
}

/** A run went past one of the limits: `limit` names the option. */
export function limitExceeded(limit: string, message: string): NonRetryableError {
  return refusal('E_LIMIT_EXCEEDED', `${message} (limit: ${limit})`);
}
