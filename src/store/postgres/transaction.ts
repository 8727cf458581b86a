import type pg from 'pg';
import { WaymarkError } from '../../core/errors.js';

/**
 * SQLSTATEs of text PostgreSQL cannot store: a NUL character (22021,
 * 22P05 in jsonb), or a lone surrogate escape in jsonb (22P02).
 */
const UNSTORABLE_TEXT = new Set(['22021', '22P05']);

/**
 * A statement refused for text PostgreSQL cannot store, as the bad input it is (E_INVALID_INPUT: nothing was
 * written); anything else as it was.
 */
export function unstorableTextError(error: unknown): unknown {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const surrogate = code === '22P02' && typeof message === 'string' && /surrogate|json/i.test(message);
  if (typeof code !== 'string' || !(UNSTORABLE_TEXT.has(code) || surrogate)) return error;
  return new WaymarkError(
    'E_INVALID_INPUT',
    `the value holds text PostgreSQL cannot store (a NUL character or a lone surrogate): ${String(message)}`,
    { cause: error },
  );
}

/** Runs `fn` in a transaction on one pooled connection; a connection that cannot even roll back is discarded. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  // A connection that dies while checked out emits 'error' besides failing its query: absorb the event.
  const onError = () => (broken = true);
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => (broken = true));
    throw unstorableTextError(error);
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
