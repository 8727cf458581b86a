/** The time forms of a WAIT task's `duration` and `until` inputs (Conductor's schema). Pure: no clock. */
import { WaymarkError } from '../core/errors.js';

const DURATION_PATTERN = new RegExp(
  [
    /^\s*(?:(\d+)\s*(?:days?|d))?/.source,
    /\s*(?:(\d+)\s*(?:hours?|hrs?|h))?/.source,
    /\s*(?:(\d+)\s*(?:minutes?|mins?|m))?/.source,
    /\s*(?:(\d+)\s*(?:seconds?|secs?|s))?\s*$/.source,
  ].join(''),
  'i',
);
const UNIT_MS = [86_400_000, 3_600_000, 60_000, 1_000];

/**
 * Parses a WAIT duration ('10s', '5m', '1h', '1d', '1d 2h 30m',
 * '2 hours') to ms; units in that order, each at most once.
 */
export function parseWaitDuration(text: string): number {
  const match = typeof text === 'string' ? DURATION_PATTERN.exec(text) : null;
  if (!match || match.slice(1).every((part) => part === undefined)) {
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `WAIT duration '${String(text)}' is not a duration: use forms like '30s', '5m', '1h', '1d' or '1d 2h 30m'`,
    );
  }
  return match
    .slice(1)
    .reduce((total, part, index) => total + (part === undefined ? 0 : Number(part) * UNIT_MS[index]!), 0);
}

const UNTIL_PATTERN = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2})(?: (\S+))?)?$/;
const OFFSET_PATTERN = /^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$/i;

/**
 * Parses a WAIT `until` to epoch ms: 'yyyy-MM-dd', 'yyyy-MM-dd HH:mm' or 'yyyy-MM-dd HH:mm z' where z is
 * UTC, GMT, Z or an offset like +05:30 (no zone = UTC); a full ISO 8601 timestamp is accepted too.
 */
export function parseWaitUntil(text: string): number {
  const bad = () =>
    new WaymarkError(
      'E_INVALID_INPUT',
      `WAIT until '${String(text)}' is not a time: use 'yyyy-MM-dd HH:mm', 'yyyy-MM-dd HH:mm z' or 'yyyy-MM-dd'`,
    );
  if (typeof text !== 'string') throw bad();
  const match = UNTIL_PATTERN.exec(text.trim());
  if (!match) {
    const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
    if (Number.isFinite(iso)) return iso;
    throw bad();
  }
  const [, year, month, day, hour = '00', minute = '00', zone] = match;
  const local = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute));
  const check = new Date(local);
  if (
    check.getUTCMonth() !== Number(month) - 1 ||
    check.getUTCDate() !== Number(day) ||
    Number(hour) > 23 ||
    Number(minute) > 59
  )
    throw bad();
  if (zone === undefined || /^(UTC|GMT|Z)$/i.test(zone)) return local;
  const offset = OFFSET_PATTERN.exec(zone);
  if (!offset) throw bad();
  const minutes = (Number(offset[2]) * 60 + Number(offset[3] ?? 0)) * (offset[1] === '-' ? -1 : 1);
  return local - minutes * 60_000;
}
