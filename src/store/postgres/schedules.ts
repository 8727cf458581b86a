import type pg from 'pg';
import {
  BUFFERED_SQL,
  SCHEDULE_COLUMNS,
  scheduleFromRow,
  scheduleValues,
  slotFromRow,
  slotValues,
  type ScheduleRow,
  type SlotRow,
} from '../schedule-rows.js';
import type { ScheduleRecord, ScheduleStore, SlotDecision, SlotRecord } from '../types.js';

const PLACES = SCHEDULE_COLUMNS.map((_, i) => `$${i + 1}`).join(', ');
/** The columns `save` replaces: all but created_at ($1 is the id). */
const SAVED = SCHEDULE_COLUMNS.filter((c) => c !== 'created_at');
const SET_ALL = SAVED.slice(1)
  .map((c, i) => `${c} = $${i + 2}`)
  .join(', ');
const CREATED_AT = SCHEDULE_COLUMNS.indexOf('created_at');

/** Schedules and their slots on PostgreSQL. */
export class PostgresSchedules implements ScheduleStore {
  constructor(private readonly pool: pg.Pool) {}

  async create(schedule: ScheduleRecord): Promise<boolean> {
    const { rowCount } = await this.pool.query({
      name: 'wm_create_schedule',
      text: `INSERT INTO schedules (${SCHEDULE_COLUMNS.join(', ')}) VALUES (${PLACES}) ON CONFLICT (id) DO NOTHING`,
      values: scheduleValues(schedule),
    });
    return rowCount === 1;
  }

  async get(id: string): Promise<ScheduleRecord | undefined> {
    const { rows } = await this.pool.query<ScheduleRow>({
      name: 'wm_get_schedule',
      text: 'SELECT * FROM schedules WHERE id = $1',
      values: [id],
    });
    return rows[0] && scheduleFromRow(rows[0]);
  }

  async list(): Promise<ScheduleRecord[]> {
    const { rows } = await this.pool.query<ScheduleRow>({
      name: 'wm_list_schedules',
      text: 'SELECT * FROM schedules ORDER BY id',
    });
    return rows.map(scheduleFromRow);
  }

  async save(schedule: ScheduleRecord): Promise<boolean> {
    const { rowCount } = await this.pool.query({
      name: 'wm_save_schedule',
      text: `UPDATE schedules SET ${SET_ALL} WHERE id = $1`,
      values: scheduleValues(schedule).filter((_, i) => i !== CREATED_AT),
    });
    return rowCount === 1;
  }

  async remove(id: string): Promise<boolean> {
    const { rows } = await this.pool.query<{ removed: boolean }>({
      name: 'wm_remove_schedule',
      text: `WITH slots AS (DELETE FROM schedule_slots WHERE schedule_id = $1),
             gone AS (DELETE FROM schedules WHERE id = $1 RETURNING id)
             SELECT EXISTS (SELECT 1 FROM gone) AS removed`,
      values: [id],
    });
    return rows[0]!.removed;
  }

  async claimSlot(slot: SlotRecord): Promise<boolean> {
    const { rowCount } = await this.pool.query({
      name: 'wm_claim_slot',
      text: `INSERT INTO schedule_slots (schedule_id, slot_at, decision, origin, run_id, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (schedule_id, slot_at) DO NOTHING`,
      values: slotValues(slot),
    });
    return rowCount === 1;
  }

  async startBuffered(scheduleId: string, slotAt: number, runId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query({
      name: 'wm_start_buffered_slot',
      text: `UPDATE schedule_slots SET decision = 'started', run_id = $1
             WHERE schedule_id = $2 AND slot_at = $3 AND decision = 'buffered'`,
      values: [runId, scheduleId, slotAt],
    });
    return rowCount === 1;
  }

  async slots(
    scheduleId: string,
    options: { limit: number; decision?: SlotDecision; oldestFirst?: boolean },
  ): Promise<SlotRecord[]> {
    const order = options.oldestFirst ? 'ASC' : 'DESC';
    const { rows } = await this.pool.query<SlotRow>({
      text: `SELECT * FROM schedule_slots WHERE schedule_id = $1 AND ($2::text IS NULL OR decision = $2)
             ORDER BY slot_at ${order} LIMIT $3`,
      values: [scheduleId, options.decision ?? null, options.limit],
    });
    return rows.map(slotFromRow);
  }

  async advance(id: string, lastSlotAt: number, next: { slotAt: number; fireAt: number } | null): Promise<boolean> {
    const { rowCount } = await this.pool.query({
      name: 'wm_advance_schedule',
      text: `UPDATE schedules SET last_slot_at = $1, next_slot_at = $2, next_fire_at = $3
             WHERE id = $4 AND (last_slot_at IS NULL OR last_slot_at < $1)`,
      values: [lastSlotAt, next?.slotAt ?? null, next?.fireAt ?? null, id],
    });
    return rowCount === 1;
  }

  async due(now: number, limit: number): Promise<ScheduleRecord[]> {
    const { rows } = await this.pool.query<ScheduleRow>({
      name: 'wm_due_schedules',
      text: `SELECT * FROM schedules WHERE paused = 0 AND next_fire_at IS NOT NULL AND next_fire_at <= $1
             ORDER BY next_fire_at LIMIT $2`,
      values: [now, limit],
    });
    return rows.map(scheduleFromRow);
  }

  async withBufferedSlots(): Promise<ScheduleRecord[]> {
    const { rows } = await this.pool.query<ScheduleRow>({ name: 'wm_schedules_buffering', text: BUFFERED_SQL });
    return rows.map(scheduleFromRow);
  }

  async nextFireAt(): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ at: string | null }>({
      name: 'wm_next_schedule_fire',
      text: 'SELECT MIN(next_fire_at) AS at FROM schedules WHERE paused = 0',
    });
    return rows[0]!.at === null ? undefined : Number(rows[0]!.at);
  }
}
