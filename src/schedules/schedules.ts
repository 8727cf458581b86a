/**
 * `engine.schedules`: durable rules that start runs at times. Every engine sharing a store may fire them: each slot is
 * claimed once in the store and its run id derives from the schedule and the slot, so a slot starts one run at most.
 */
import { mapConcurrently } from '../versions/concurrently.js';
import { WaymarkError } from '../core/errors.js';
import type { OverlapPolicy, ScheduleRecord, SlotRecord, Store } from '../store/types.js';
import { fireSlot, recordMissed, recoverStarts, startBuffered, type FiringPort, type SlotOutcome } from './firing.js';
import { dueSlots, previewSlots, slotsBetween, type ScheduleTiming, type Slot } from './slots.js';
import {
  applyChanges,
  checkScheduleId,
  positioned,
  recordOf,
  timeOf,
  timingOf,
  type ScheduleChanges,
  type ScheduleSpec,
  type TimeInput,
} from './spec.js';

export type { ScheduleChanges, ScheduleSpec, TimeInput } from './spec.js';
export type { SlotOutcome } from './firing.js';

/** Most slots one look at a schedule handles; the rest wait for the next look (which comes at once). */
const SLOTS_PER_LOOK = 500;
/** Due schedules looked at at once. (Default: 32) */
const LOOK_LANES = 32;
/** Most slots one backfill fires. */
export const MAX_BACKFILL_SLOTS = 10_000;
/** Most firings a preview lists. */
export const MAX_PREVIEW = 1000;

/** What the schedules need of their engine. */
export interface SchedulesPort extends FiringPort {
  /** The clock, epoch ms. (Tests give their own.) */
  now(): number;
  /** Called after a change that may bring the next firing closer, so the loop looks again. */
  changed(): void;
}

/** Schedules: create, change, pause, fire now, backfill, preview; and the clock's look at due slots. */
export class Schedules {
  constructor(private readonly port: SchedulesPort) {}

  private get store(): Store {
    return this.port.store;
  }

  /** Creates a schedule; E_SCHEDULE_EXISTS when the id is taken, E_UNKNOWN_WORKFLOW/VERSION when it names none. */
  async create(spec: ScheduleSpec): Promise<ScheduleRecord> {
    const record = recordOf(spec, this.port.now());
    await this.checkWorkflow(record);
    if (!(await this.store.schedules.create(record)))
      throw new WaymarkError('E_SCHEDULE_EXISTS', `schedule '${record.id}' exists already`, {
        details: { id: record.id },
      });
    this.port.changed();
    return record;
  }

  /** The schedule; E_SCHEDULE_NOT_FOUND when there is none. */
  async get(id: string): Promise<ScheduleRecord> {
    checkScheduleId(id);
    const found = await this.store.schedules.get(id);
    if (!found) throw new WaymarkError('E_SCHEDULE_NOT_FOUND', `there is no schedule '${id}'`, { details: { id } });
    return found;
  }

  /** Every schedule, by id. */
  list(): Promise<ScheduleRecord[]> {
    return this.store.schedules.list();
  }

  /** A schedule's slots, newest first: what each firing decided and the run it started. (Default limit: 50) */
  async slots(id: string, limit = 50): Promise<SlotRecord[]> {
    await this.get(id);
    return this.store.schedules.slots(id, { limit });
  }

  /** Changes a schedule; it fires from its next slot after now under the new rule. */
  async update(id: string, changes: ScheduleChanges): Promise<ScheduleRecord> {
    const now = this.port.now();
    const record = positioned(applyChanges(await this.get(id), { ...changes, id }, now), now);
    await this.checkWorkflow(record);
    return this.save(record);
  }

  /** Stops firing until `resume`; `note` says why. */
  async pause(id: string, note?: string): Promise<ScheduleRecord> {
    const record = await this.get(id);
    return this.save({ ...record, paused: true, note: note ?? record.note, updatedAt: this.port.now() });
  }

  /** Fires again from the next slot after now (the slots of the pause are not fired); `note` replaces the pause's. */
  async resume(id: string, note?: string): Promise<ScheduleRecord> {
    const now = this.port.now();
    const record = await this.get(id);
    return this.save(positioned({ ...record, paused: false, note: note ?? null, updatedAt: now }, now));
  }

  /** Deletes a schedule and its slots; its runs stay. */
  async delete(id: string): Promise<void> {
    checkScheduleId(id);
    if (!(await this.store.schedules.remove(id)))
      throw new WaymarkError('E_SCHEDULE_NOT_FOUND', `there is no schedule '${id}'`, { details: { id } });
  }

  /** Fires a slot now (also while paused), under the overlap policy given or the schedule's. */
  async trigger(id: string, options: { overlap?: OverlapPolicy } = {}): Promise<SlotOutcome> {
    const record = await this.get(id);
    return fireSlot(this.port, record, this.port.now(), 'trigger', options.overlap);
  }

  /**
   * Fires each slot in [from, to) through the same claim as the clock, oldest first, so a slot fired before is not
   * fired again ('taken'); under the overlap policy given or the schedule's. At most MAX_BACKFILL_SLOTS slots.
   */
  async backfill(
    id: string,
    range: { from: TimeInput; to: TimeInput },
    options: { overlap?: OverlapPolicy } = {},
  ): Promise<SlotOutcome[]> {
    const record = await this.get(id);
    const from = timeOf(range.from, 'backfill from');
    const to = timeOf(range.to, 'backfill to');
    if (to <= from) throw new WaymarkError('E_INVALID_INPUT', 'backfill to must be after from');
    const slots = slotsBetween(timingOf(record), from - 1, to - 1, MAX_BACKFILL_SLOTS + 1);
    if (slots.length > MAX_BACKFILL_SLOTS)
      throw new WaymarkError('E_INVALID_INPUT', `backfill covers more than ${MAX_BACKFILL_SLOTS} slots: narrow it`);
    const outcomes: SlotOutcome[] = [];
    for (const slotAt of slots) outcomes.push(await fireSlot(this.port, record, slotAt, 'backfill', options.overlap));
    return outcomes;
  }

  /** The next `count` firings after `from` (Default: now), with their jitter. (Default count: 10) */
  async preview(id: string, count = 10, from?: TimeInput): Promise<Slot[]> {
    const record = await this.get(id);
    const after = from === undefined ? Math.max(this.port.now(), record.lastSlotAt ?? 0) : timeOf(from, 'from');
    return previewSlots(timingOf(record), record.id, record.jitterMs, after, checkCount(count));
  }

  /**
   * The clock's look: fires the due slots of every due schedule (missed ones recorded), starts buffered slots whose
   * previous run ended; returns when the next slot fires, if any schedule has one.
   */
  async fireDue(): Promise<number | undefined> {
    for (;;) {
      const now = this.port.now();
      const due = await this.store.schedules.due(now, 100);
      // Schedules are independent: several are looked at at once (their starts share group commits).
      const looked = await mapConcurrently(due, LOOK_LANES, (schedule) => this.look(schedule, now));
      const more = looked.some(Boolean);
      if (!more && due.length < 100) break;
    }
    await this.startBufferedSlots();
    return this.store.schedules.nextFireAt();
  }

  /** Handles one due schedule's slots up to `now`; true when more slots remain for another look. */
  private async look(schedule: ScheduleRecord, now: number): Promise<boolean> {
    const after = schedule.lastSlotAt ?? schedule.createdAt;
    const { jitterMs, catchUpWindowMs } = schedule;
    const slots = dueSlots(timingOf(schedule), schedule.id, jitterMs, catchUpWindowMs, after, now, SLOTS_PER_LOOK);
    await recoverStarts(this.port, schedule);
    for (const slotAt of slots.missed) await recordMissed(this.port, schedule, slotAt);
    for (const slotAt of slots.due) await fireSlot(this.port, schedule, slotAt, 'schedule');
    const last = Math.max(...slots.missed, ...slots.due);
    if (Number.isFinite(last)) await this.store.schedules.advance(schedule.id, last, slots.next ?? null);
    else if (!slots.next) await this.store.schedules.advance(schedule.id, now, null);
    return slots.missed.length + slots.due.length >= SLOTS_PER_LOOK;
  }

  private async startBufferedSlots(): Promise<void> {
    for (const schedule of await this.store.schedules.withBufferedSlots())
      if (schedule.overlap.startsWith('buffer')) await startBuffered(this.port, schedule);
  }

  private async save(record: ScheduleRecord): Promise<ScheduleRecord> {
    if (!(await this.store.schedules.save(record)))
      throw new WaymarkError('E_SCHEDULE_NOT_FOUND', `there is no schedule '${record.id}'`, {
        details: { id: record.id },
      });
    this.port.changed();
    return record;
  }

  private async checkWorkflow(record: ScheduleRecord): Promise<void> {
    const versions = (await this.store.listWorkflowVersions()).filter((v) => v.workflow === record.workflow);
    if (versions.length === 0)
      throw new WaymarkError('E_UNKNOWN_WORKFLOW', `workflow '${record.workflow}' is not registered`, {
        details: { workflow: record.workflow },
      });
    if (record.version !== null && !versions.some((v) => v.version === record.version))
      throw new WaymarkError('E_UNKNOWN_VERSION', `workflow '${record.workflow}' has no version ${record.version}`, {
        details: { workflow: record.workflow, version: record.version },
      });
  }
}

/** The next `count` firings of a timing not stored (Conductor's nextFewSchedules), after `from`. */
export function previewTiming(timing: ScheduleTiming, count: number, from: number): Slot[] {
  return previewSlots(timing, '', 0, from, checkCount(count));
}

function checkCount(count: number): number {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_PREVIEW)
    throw new WaymarkError('E_INVALID_INPUT', `preview count must be 1-${MAX_PREVIEW}, got ${count}`);
  return count;
}
