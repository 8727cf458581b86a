/** A schedule as callers write it, checked and turned into the stored record (and back for updates). */
import { parseDuration } from '../core/duration.js';
import { WaymarkError } from '../core/errors.js';
import type { Duration, Json } from '../core/types.js';
import type { OverlapPolicy, ScheduleRecord } from '../store/types.js';
import { checkTimezone, cronOf, nextSlotAfter, jitterOf, type ScheduleTiming } from './slots.js';

/** The overlap policies, the default first. */
export const OVERLAP_POLICIES: readonly OverlapPolicy[] = [
  'skip',
  'buffer_one',
  'buffer_all',
  'cancel_other',
  'allow_all',
];

/** The catch-up window when none is given: slots missed by more than this are not fired. (1 minute) */
export const DEFAULT_CATCH_UP_MS = 60_000;

/** A time as callers give it: epoch ms, an ISO 8601 string or a Date. */
export type TimeInput = number | string | Date;

/** What a schedule does: which workflow it starts with which input, and when. */
export interface ScheduleSpec {
  /** The schedule's id: letters, digits, '.', '_', '-' (at most 128). Its runs are `sched:<id>:<slot ISO>`. */
  id: string;
  workflow: string;
  /** Pin the runs to this version. (Default: none, the route's current version; canaries apply) */
  version?: number | null;
  /** Each run's input. (Default: none) */
  input?: Json;
  /** A cron expression: 5 fields (minute first) or 6 (second first). Either this or `interval`. */
  cron?: string;
  /** The IANA time zone `cron` is read in. (Default: UTC) */
  timezone?: string;
  /** Slots every this long ('1h', '30s' or ms), aligned to the epoch or to `startAt`. Either this or `cron`. */
  interval?: Duration;
  /** No slot before this time. (Default: none) */
  startAt?: TimeInput | null;
  /** No slot at or after this time. (Default: none) */
  endAt?: TimeInput | null;
  /** Each slot fires up to this much later, the same delay in every process. (Default: 0) */
  jitter?: Duration;
  /** What to do when the previous firing's run is still in flight. (Default: 'skip') */
  overlap?: OverlapPolicy;
  /** After downtime, slots missed by more than this are recorded as missed, not fired. (Default: '1m') */
  catchUpWindow?: Duration;
  /** Created paused. (Default: false) */
  paused?: boolean;
  /** Why it is paused. (Default: none) */
  note?: string;
}

/** The changes `update` takes: any field of the spec but the id. */
export type ScheduleChanges = Partial<Omit<ScheduleSpec, 'id'>>;

const invalid = (message: string) => new WaymarkError('E_INVALID_INPUT', message);

/** E_INVALID_INPUT unless `id` is a valid schedule id. */
export function checkScheduleId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(id))
    throw invalid(`schedule id must be 1-128 letters, digits, '.', '_' or '-', got ${JSON.stringify(id)}`);
}

/** Epoch ms of a time input; E_INVALID_INPUT naming `what` when it is none. */
export function timeOf(value: TimeInput, what: string): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isSafeInteger(ms) || ms < 0) throw invalid(`${what} must be epoch ms or an ISO 8601 time, got ${value}`);
  return ms;
}

/** The timing of a stored schedule. */
export function timingOf(s: ScheduleRecord): ScheduleTiming {
  return { cron: s.cron, timezone: s.timezone, intervalMs: s.intervalMs, startAt: s.startAt, endAt: s.endAt };
}

/** The stored record of a spec (checked), its clock positioned at `now`: its first slot is the first after now. */
export function recordOf(spec: ScheduleSpec, now: number): ScheduleRecord {
  checkScheduleId(spec.id);
  return positioned(applyChanges(undefined, spec, now), now);
}

/** The record after `changes` (checked); `previous` absent for a new schedule from `spec`. */
export function applyChanges(
  previous: ScheduleRecord | undefined,
  changes: ScheduleChanges & { id?: string },
  now: number,
): ScheduleRecord {
  const c = changes;
  const base: ScheduleRecord = previous ?? {
    id: c.id!,
    workflow: '',
    version: null,
    input: undefined,
    cron: null,
    timezone: null,
    intervalMs: null,
    startAt: null,
    endAt: null,
    jitterMs: 0,
    overlap: 'skip',
    catchUpWindowMs: DEFAULT_CATCH_UP_MS,
    paused: false,
    note: null,
    createdAt: now,
    updatedAt: now,
    lastSlotAt: null,
    nextSlotAt: null,
    nextFireAt: null,
  };
  const next: ScheduleRecord = { ...base, updatedAt: now };
  if (c.workflow !== undefined) next.workflow = c.workflow;
  if (typeof next.workflow !== 'string' || next.workflow === '') throw invalid('schedule workflow must be a name');
  if (c.version !== undefined) next.version = c.version;
  if (next.version !== null && (!Number.isSafeInteger(next.version) || next.version < 1))
    throw invalid(`schedule version must be a positive integer or null, got ${next.version}`);
  if ('input' in c) next.input = c.input;
  if (c.cron !== undefined || c.interval !== undefined) {
    if (c.cron !== undefined && c.interval !== undefined)
      throw invalid('a schedule has a cron expression or an interval, not both');
    next.cron = c.cron ?? null;
    next.intervalMs = c.interval === undefined ? null : parseDuration(c.interval, 'schedule interval');
    if (next.intervalMs !== null) next.timezone = null;
  }
  if (c.timezone !== undefined) next.timezone = c.timezone;
  if (next.cron === null && next.intervalMs === null)
    throw invalid('a schedule needs a cron expression or an interval');
  if (next.intervalMs !== null && next.intervalMs < 1000) throw invalid('schedule interval must be at least 1s');
  if (next.timezone !== null) {
    if (next.cron === null) throw invalid('a time zone applies to a cron expression, not to an interval');
    checkTimezone(next.timezone);
  }
  if (next.cron !== null) cronOf(next.cron, next.timezone);
  if (c.startAt !== undefined) next.startAt = c.startAt === null ? null : timeOf(c.startAt, 'schedule startAt');
  if (c.endAt !== undefined) next.endAt = c.endAt === null ? null : timeOf(c.endAt, 'schedule endAt');
  if (next.startAt !== null && next.endAt !== null && next.endAt <= next.startAt)
    throw invalid('schedule endAt must be after startAt');
  if (c.jitter !== undefined) next.jitterMs = parseDuration(c.jitter, 'schedule jitter');
  if (c.overlap !== undefined) next.overlap = c.overlap;
  if (!OVERLAP_POLICIES.includes(next.overlap))
    throw invalid(`schedule overlap must be one of ${OVERLAP_POLICIES.join(', ')}, got ${next.overlap}`);
  if (c.catchUpWindow !== undefined) next.catchUpWindowMs = parseDuration(c.catchUpWindow, 'schedule catchUpWindow');
  if (c.paused !== undefined) next.paused = Boolean(c.paused);
  if (c.note !== undefined) next.note = c.note;
  return next;
}

/**
 * The record with its clock at `now` (or where it already was, if later): slots at or before it count as handled, so
 * a new or changed schedule fires from its next slot on and a resumed one does not fire the slots of its pause.
 */
export function positioned(s: ScheduleRecord, now: number): ScheduleRecord {
  const position = Math.max(s.lastSlotAt ?? 0, now);
  const slotAt = nextSlotAfter(timingOf(s), position);
  return {
    ...s,
    lastSlotAt: position,
    nextSlotAt: slotAt ?? null,
    nextFireAt: slotAt === undefined ? null : slotAt + jitterOf(s.id, slotAt, s.jitterMs),
  };
}
