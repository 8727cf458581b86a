import type { Json } from '../core/types.js';
import type { OverlapPolicy, ScheduleRecord, SlotDecision, SlotOrigin, SlotRecord } from './types.js';

/** A schedules row as both dialects read it (PostgreSQL bigints come as strings). */
export interface ScheduleRow {
  id: string;
  workflow: string;
  version: number | string | null;
  input: string | null;
  cron: string | null;
  timezone: string | null;
  interval_ms: number | string | null;
  start_at: number | string | null;
  end_at: number | string | null;
  jitter_ms: number | string;
  overlap: string;
  catch_up_window_ms: number | string;
  paused: number | string;
  note: string | null;
  created_at: number | string;
  updated_at: number | string;
  last_slot_at: number | string | null;
  next_slot_at: number | string | null;
  next_fire_at: number | string | null;
}

/** A schedule_slots row as both dialects read it. */
export interface SlotRow {
  schedule_id: string;
  slot_at: number | string;
  decision: string;
  origin: string;
  run_id: string | null;
  recorded_at: number | string;
}

const num = (value: number | string | null): number | null => (value === null ? null : Number(value));

/** The columns of a schedules row, in the order `scheduleValues` gives them. */
export const SCHEDULE_COLUMNS = [
  'id',
  'workflow',
  'version',
  'input',
  'cron',
  'timezone',
  'interval_ms',
  'start_at',
  'end_at',
  'jitter_ms',
  'overlap',
  'catch_up_window_ms',
  'paused',
  'note',
  'created_at',
  'updated_at',
  'last_slot_at',
  'next_slot_at',
  'next_fire_at',
] as const;

/** A schedule's column values, in SCHEDULE_COLUMNS order. */
export function scheduleValues(s: ScheduleRecord): (string | number | null)[] {
  const input = s.input === undefined ? null : JSON.stringify(s.input);
  return [
    s.id,
    s.workflow,
    s.version,
    input,
    s.cron,
    s.timezone,
    s.intervalMs,
    s.startAt,
    s.endAt,
    s.jitterMs,
    s.overlap,
    s.catchUpWindowMs,
    s.paused ? 1 : 0,
    s.note,
    s.createdAt,
    s.updatedAt,
    s.lastSlotAt,
    s.nextSlotAt,
    s.nextFireAt,
  ];
}

/** A schedule from its row. */
export function scheduleFromRow(row: ScheduleRow): ScheduleRecord {
  return {
    id: row.id,
    workflow: row.workflow,
    version: num(row.version),
    input: row.input === null ? undefined : (JSON.parse(row.input) as Json),
    cron: row.cron,
    timezone: row.timezone,
    intervalMs: num(row.interval_ms),
    startAt: num(row.start_at),
    endAt: num(row.end_at),
    jitterMs: Number(row.jitter_ms),
    overlap: row.overlap as OverlapPolicy,
    catchUpWindowMs: Number(row.catch_up_window_ms),
    paused: Number(row.paused) === 1,
    note: row.note,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    lastSlotAt: num(row.last_slot_at),
    nextSlotAt: num(row.next_slot_at),
    nextFireAt: num(row.next_fire_at),
  };
}

/** A slot from its row. */
export function slotFromRow(row: SlotRow): SlotRecord {
  return {
    scheduleId: row.schedule_id,
    slotAt: Number(row.slot_at),
    decision: row.decision as SlotDecision,
    origin: row.origin as SlotOrigin,
    runId: row.run_id,
    recordedAt: Number(row.recorded_at),
  };
}

/** A slot's column values: schedule_id, slot_at, decision, origin, run_id, recorded_at. */
export function slotValues(s: SlotRecord): (string | number | null)[] {
  return [s.scheduleId, s.slotAt, s.decision, s.origin, s.runId, s.recordedAt];
}

/** The schedules with buffered slots, by id (both dialects; the partial index of migration 020 serves it). */
export const BUFFERED_SQL = `SELECT * FROM schedules WHERE id IN
  (SELECT schedule_id FROM schedule_slots WHERE decision = 'buffered') ORDER BY id`;
