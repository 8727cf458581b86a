import { WaymarkError } from './errors.js';
import type { Duration } from './types.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The longest duration anything waits: 100 years, so every deadline is a whole ms that every store keeps. */
export const MAX_DURATION_MS = 36_500 * 86_400_000;

/**
 * Parses a duration (ms number, or '500ms' / '30s' / '1m' / '2h' / '3d',
 * combinable as '1h30m') to whole ms (rounded up), at most 100 years.
 */
export function parseDuration(duration: Duration, what = 'duration'): number {
  const ms = Math.ceil(parseMs(duration, what));
  if (ms > MAX_DURATION_MS)
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `${what} must be at most 100 years (${MAX_DURATION_MS} ms), got ${ms} ms`,
    );
  return ms;
}

function parseMs(duration: Duration, what: string): number {
  if (typeof duration === 'number') {
    if (!Number.isFinite(duration) || duration < 0) {
      throw new WaymarkError('E_INVALID_INPUT', `${what} must be a non-negative number of ms, got ${duration}`);
    }
    return atMostMax(duration, what);
  }
  const text = String(duration).trim();
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/g)];
  const consumed = parts.map((p) => p[0]).join('');
  if (parts.length === 0 || consumed.replace(/\s/g, '') !== text.replace(/\s/g, '')) {
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `${what} '${text}' is not a duration: use ms or forms like '30s', '1m', '2h', '3d'`,
    );
  }
  return atMostMax(
    parts.reduce((total, [, amount, unit]) => total + Number(amount) * UNIT_MS[unit!]!, 0),
    what,
  );
}

function atMostMax(ms: number, what: string): number {
  if (ms > MAX_DURATION_MS)
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `${what} must be at most 100 years (${MAX_DURATION_MS} ms), got ${ms} ms`,
    );
  return ms;
}
