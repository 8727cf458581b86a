/** How PostgreSQL errors are told apart: the connection failing, one item's data, or a transient clash. */

const sqlState = (error: unknown): string => String((error as { code?: unknown }).code ?? '');

/**
 * Errors that mean the connection, not the statement, failed: admin shutdown, crash, dropped socket, or the
 * connection ending under the query (pg raises a bare Error then, with no SQLSTATE and no system code).
 */
export function isConnectionError(error: unknown): boolean {
  const code = sqlState(error);
  const bare = error instanceof Error && Object.getPrototypeOf(error) === Error.prototype && code === '';
  return code.startsWith('57P') || code.startsWith('08') || code === 'ECONNRESET' || code === 'EPIPE' || bare;
}

/** PostgreSQL text cannot hold U+0000: a lookup by such a value finds nothing (and must not be sent). */
export function hasNul(...texts: (string | undefined)[]): boolean {
  return texts.some((text) => typeof text === 'string' && text.includes('\u0000'));
}

/** A step outcome (or a run id) written twice. */
export function isUniqueViolation(error: unknown): boolean {
  return sqlState(error) === '23505';
}

/**
 * An error one item's data caused (text or JSON the server refuses, a number out of range, a constraint, a
 * value too large): SQLSTATE classes 22, 23 and 54. The same batch without that item can succeed.
 */
export function isDataError(error: unknown): boolean {
  return /^(22|23|54)[0-9A-Z]{3}$/.test(sqlState(error));
}

/** A deadlock or serialization failure: the whole transaction can simply be tried again. */
export function isTransientClash(error: unknown): boolean {
  return sqlState(error) === '40P01' || sqlState(error) === '40001';
}
