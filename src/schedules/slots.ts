/**
 * Slot arithmetic of schedules, pure: a schedule's slots are the instants its cron expression (in its time zone) or
 * its interval names, within its start/end bounds. A slot fires at its instant plus a jitter derived from the
 * schedule id and the slot, so every process computes the same firing time.
 */
import { Cron } from 'croner';
import { WaymarkError } from '../core/errors.js';

/** What decides a schedule's slots. */
export interface ScheduleTiming {
  /** A cron expression of 5 fields (minute first) or 6 (second first); null with an interval. */
  cron: string | null;
  /** The IANA time zone the cron expression is read in. (Default: UTC) */
  timezone: string | null;
  /** Slots every this many ms: at multiples of it since the epoch, or since `startAt` when set. */
  intervalMs: number | null;
  /** No slot before this epoch ms (inclusive). (Default: none) */
  startAt: number | null;
  /** No slot at or after this epoch ms. (Default: none) */
  endAt: number | null;
}

/** A slot of a schedule and when it fires (the slot plus its jitter), epoch ms. */
export interface Slot {
  slotAt: number;
  fireAt: number;
}

const crons = new Map<string, Cron>();

/** The parsed cron expression (cached); E_INVALID_INPUT when it is not 5 or 6 fields or croner refuses it. */
export function cronOf(pattern: string, timezone: string | null): Cron {
  const key = `${timezone ?? ''}|${pattern}`;
  const known = crons.get(key);
  if (known) return known;
  const fields = pattern.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6)
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `cron '${pattern}' must have 5 fields (minute hour day month weekday) or 6 (second first), got ${fields}`,
    );
  if (timezone !== null) checkTimezone(timezone);
  let cron: Cron;
  try {
    cron = new Cron(pattern, { timezone: timezone ?? 'UTC', paused: true });
  } catch (error) {
    throw new WaymarkError('E_INVALID_INPUT', `cron '${pattern}' is not valid: ${(error as Error).message}`);
  }
  if (crons.size > 10_000) crons.clear();
  crons.set(key, cron);
  return cron;
}

/** E_INVALID_INPUT unless `timezone` is an IANA time zone this runtime knows ('Europe/Berlin', 'UTC'). */
export function checkTimezone(timezone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new WaymarkError('E_INVALID_INPUT', `time zone '${timezone}' is not an IANA time zone (e.g. Europe/Berlin)`);
  }
}

/** The first slot strictly after `t` (epoch ms), within the bounds; undefined when there is none. */
export function nextSlotAfter(timing: ScheduleTiming, t: number): number | undefined {
  const slot = timing.intervalMs !== null ? nextIntervalSlot(timing, t) : nextCronSlot(timing, t);
  if (slot === undefined || (timing.endAt !== null && slot >= timing.endAt)) return undefined;
  return slot;
}

function nextIntervalSlot(timing: ScheduleTiming, t: number): number {
  const every = timing.intervalMs!;
  const base = timing.startAt ?? 0;
  if (t < base) return base;
  return base + (Math.floor((t - base) / every) + 1) * every;
}

function nextCronSlot(timing: ScheduleTiming, t: number): number | undefined {
  const from = timing.startAt !== null && timing.startAt > t ? timing.startAt - 1 : t;
  const next = cronOf(timing.cron!, timing.timezone).nextRun(new Date(from));
  return next ? next.getTime() : undefined;
}

/** The slots strictly after `after` and at most `upTo` (epoch ms), oldest first, at most `limit` of them. */
export function slotsBetween(timing: ScheduleTiming, after: number, upTo: number, limit: number): number[] {
  const slots: number[] = [];
  let t = after;
  while (slots.length < limit) {
    const next = nextSlotAfter(timing, t);
    if (next === undefined || next > upTo) break;
    slots.push(next);
    t = next;
  }
  return slots;
}

/** The jitter of one slot: 0..maxMs, the same in every process (FNV-1a of the schedule id and the slot). */
export function jitterOf(scheduleId: string, slotAt: number, maxMs: number): number {
  if (maxMs <= 0) return 0;
  let hash = 0x811c9dc5;
  for (const char of `${scheduleId}@${slotAt}`) {
    hash ^= char.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % (maxMs + 1);
}

/** The next `count` slots strictly after `after`, with their firing times. */
export function previewSlots(
  timing: ScheduleTiming,
  scheduleId: string,
  jitterMs: number,
  after: number,
  count: number,
): Slot[] {
  return slotsBetween(timing, after, Number.MAX_SAFE_INTEGER, count).map((slotAt) => ({
    slotAt,
    fireAt: slotAt + jitterOf(scheduleId, slotAt, jitterMs),
  }));
}

/** What is due at `now` of the slots after the last one handled. */
export interface DueSlots {
  /** Slots whose firing time has come, within the catch-up window: fire them, oldest first. */
  due: number[];
  /** Slots whose firing time passed longer ago than the catch-up window: recorded as missed, never fired. */
  missed: number[];
  /** The first slot not yet due, and when it fires; undefined when the schedule has no more slots. */
  next: Slot | undefined;
}

/**
 * Splits the slots after `after` whose firing time is at most `now` into due and missed (older than `catchUpMs`),
 * at most `limit` in all, and says which slot comes next. A slot is missed when `now - fireAt > catchUpMs`.
 */
export function dueSlots(
  timing: ScheduleTiming,
  scheduleId: string,
  jitterMs: number,
  catchUpMs: number,
  after: number,
  now: number,
  limit: number,
): DueSlots {
  const result: DueSlots = { due: [], missed: [], next: undefined };
  let t = after;
  while (result.due.length + result.missed.length < limit) {
    const slotAt = nextSlotAfter(timing, t);
    if (slotAt === undefined) return result;
    const fireAt = slotAt + jitterOf(scheduleId, slotAt, jitterMs);
    if (fireAt > now) {
      result.next = { slotAt, fireAt };
      return result;
    }
    (now - fireAt > catchUpMs ? result.missed : result.due).push(slotAt);
    t = slotAt;
  }
  const slotAt = nextSlotAfter(timing, t);
  if (slotAt !== undefined) result.next = { slotAt, fireAt: slotAt + jitterOf(scheduleId, slotAt, jitterMs) };
  return result;
}

/** The run id of a schedule's slot: `sched:<id>:<slot as ISO 8601>`, the same in every process. */
export function slotRunId(scheduleId: string, slotAt: number): string {
  return `sched:${scheduleId}:${new Date(slotAt).toISOString()}`;
}
