import type Database from 'better-sqlite3';
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

const SET_ALL = SCHEDULE_COLUMNS.slice(1)
  .filter((c) => c !== 'created_at')
  .map((c) => `${c} = @${c}`)
  .join(', ');

/** Schedules and their slots on SQLite. */
export class SqliteSchedules implements ScheduleStore {
  private readonly sql;

  constructor(private readonly db: Database.Database) {
    this.sql = {
      create: db.prepare(
        `INSERT INTO schedules (${SCHEDULE_COLUMNS.join(', ')}) VALUES (${SCHEDULE_COLUMNS.map(() => '?').join(', ')})
         ON CONFLICT (id) DO NOTHING`,
      ),
      get: db.prepare('SELECT * FROM schedules WHERE id = ?'),
      list: db.prepare('SELECT * FROM schedules ORDER BY id'),
      save: db.prepare(`UPDATE schedules SET ${SET_ALL} WHERE id = @id`),
      removeSlots: db.prepare('DELETE FROM schedule_slots WHERE schedule_id = ?'),
      remove: db.prepare('DELETE FROM schedules WHERE id = ?'),
      claim: db.prepare(
        `INSERT INTO schedule_slots (schedule_id, slot_at, decision, origin, run_id, recorded_at)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (schedule_id, slot_at) DO NOTHING`,
      ),
      startBuffered: db.prepare(
        `UPDATE schedule_slots SET decision = 'started', run_id = ?
         WHERE schedule_id = ? AND slot_at = ? AND decision = 'buffered'`,
      ),
      advance: db.prepare(
        `UPDATE schedules SET last_slot_at = ?, next_slot_at = ?, next_fire_at = ?
         WHERE id = ? AND (last_slot_at IS NULL OR last_slot_at < ?)`,
      ),
      due: db.prepare(
        `SELECT * FROM schedules WHERE paused = 0 AND next_fire_at IS NOT NULL AND next_fire_at <= ?
         ORDER BY next_fire_at LIMIT ?`,
      ),
      nextFireAt: db.prepare('SELECT MIN(next_fire_at) AS at FROM schedules WHERE paused = 0'),
      withBufferedSlots: db.prepare(BUFFERED_SQL),
    };
  }

  async create(schedule: ScheduleRecord): Promise<boolean> {
    return this.sql.create.run(...scheduleValues(schedule)).changes === 1;
  }

  async get(id: string): Promise<ScheduleRecord | undefined> {
    const row = this.sql.get.get(id) as ScheduleRow | undefined;
    return row && scheduleFromRow(row);
  }

  async list(): Promise<ScheduleRecord[]> {
    return (this.sql.list.all() as ScheduleRow[]).map(scheduleFromRow);
  }

  async save(schedule: ScheduleRecord): Promise<boolean> {
    const values = scheduleValues(schedule);
    const named = Object.fromEntries(SCHEDULE_COLUMNS.map((c, i) => [c, values[i]]));
    return this.sql.save.run(named).changes === 1;
  }

  async remove(id: string): Promise<boolean> {
    return this.db.transaction(() => {
      this.sql.removeSlots.run(id);
      return this.sql.remove.run(id).changes === 1;
    })();
  }

  async claimSlot(slot: SlotRecord): Promise<boolean> {
    return this.sql.claim.run(...slotValues(slot)).changes === 1;
  }

  async startBuffered(scheduleId: string, slotAt: number, runId: string): Promise<boolean> {
    return this.sql.startBuffered.run(runId, scheduleId, slotAt).changes === 1;
  }

  async slots(
    scheduleId: string,
    options: { limit: number; decision?: SlotDecision; oldestFirst?: boolean },
  ): Promise<SlotRecord[]> {
    const order = options.oldestFirst ? 'ASC' : 'DESC';
    const where = options.decision ? 'AND decision = ?' : '';
    const params = options.decision ? [scheduleId, options.decision, options.limit] : [scheduleId, options.limit];
    const rows = this.db
      .prepare(`SELECT * FROM schedule_slots WHERE schedule_id = ? ${where} ORDER BY slot_at ${order} LIMIT ?`)
      .all(...params) as SlotRow[];
    return rows.map(slotFromRow);
  }

  async advance(id: string, lastSlotAt: number, next: { slotAt: number; fireAt: number } | null): Promise<boolean> {
    return this.sql.advance.run(lastSlotAt, next?.slotAt ?? null, next?.fireAt ?? null, id, lastSlotAt).changes === 1;
  }

  async due(now: number, limit: number): Promise<ScheduleRecord[]> {
    return (this.sql.due.all(now, limit) as ScheduleRow[]).map(scheduleFromRow);
  }

  async withBufferedSlots(): Promise<ScheduleRecord[]> {
    return (this.sql.withBufferedSlots.all() as ScheduleRow[]).map(scheduleFromRow);
  }

  async nextFireAt(): Promise<number | undefined> {
    const { at } = this.sql.nextFireAt.get() as { at: number | null };
    return at ?? undefined;
  }
}
