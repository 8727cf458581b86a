/**
 * Firing one slot: the decision the overlap policy takes, the claim that makes it happen once in all processes, and
 * the start of the slot's run (its id derived from the schedule and the slot, so a start elsewhere returns it).
 */
import { isTerminal, type Run } from '../core/types.js';
import type { OverlapPolicy, ScheduleRecord, SlotDecision, SlotOrigin, Store } from '../store/types.js';
import { slotRunId } from './slots.js';

/** What firing needs of the engine: starting and cancelling runs. */
export interface FiringPort {
  store: Store;
  /** Starts the run (or returns the existing one with that id). */
  start(schedule: ScheduleRecord, runId: string): Promise<Run>;
  /** Cancels a run, saying why. */
  cancel(runId: string, reason: string): Promise<void>;
  warn(message: string, facts: Record<string, unknown>): void;
}

/** What happened to a slot: the decision, or 'taken' when it was claimed before (by any process). */
export interface SlotOutcome {
  slotAt: number;
  decision: SlotDecision | 'taken';
  runId: string | null;
}

/** Whether the latest started slot's run is still in flight (starting it if its claim outlived its starter). */
async function previousInFlight(port: FiringPort, schedule: ScheduleRecord): Promise<string | undefined> {
  const [previous] = await port.store.schedules.slots(schedule.id, { limit: 1, decision: 'started' });
  if (!previous?.runId) return undefined;
  const run = (await port.store.getRun(previous.runId)) ?? (await startRun(port, schedule, previous.runId));
  return run && !isTerminal(run.status) ? run.id : undefined;
}

/** Starts a slot's run; a start that fails is warned about and retried by the next look at the schedule. */
async function startRun(port: FiringPort, schedule: ScheduleRecord, runId: string): Promise<Run | undefined> {
  try {
    return await port.start(schedule, runId);
  } catch (error) {
    port.warn(`schedule '${schedule.id}' could not start run '${runId}'`, {
      event: 'schedule_start_failed',
      schedule: schedule.id,
      runId,
      error: String(error),
    });
    return undefined;
  }
}

/** The decision for a new slot under `policy`, given whether the previous run is in flight and slots wait. */
export function overlapDecision(policy: OverlapPolicy, inFlight: boolean, waiting: boolean): SlotDecision {
  switch (policy) {
    case 'allow_all':
    case 'cancel_other':
      return 'started';
    case 'skip':
      return inFlight ? 'skipped' : 'started';
    case 'buffer_one':
      return waiting ? 'skipped' : inFlight ? 'buffered' : 'started';
    case 'buffer_all':
      return inFlight || waiting ? 'buffered' : 'started';
  }
}

/** Fires one slot of `schedule` under `policy` (Default: the schedule's): decides, claims once, starts. */
export async function fireSlot(
  port: FiringPort,
  schedule: ScheduleRecord,
  slotAt: number,
  origin: SlotOrigin,
  policy: OverlapPolicy = schedule.overlap,
): Promise<SlotOutcome> {
  const inFlight = policy === 'allow_all' ? undefined : await previousInFlight(port, schedule);
  const waiting = policy.startsWith('buffer')
    ? (await port.store.schedules.slots(schedule.id, { limit: 1, decision: 'buffered' })).length > 0
    : false;
  const decision = overlapDecision(policy, inFlight !== undefined, waiting);
  const runId = decision === 'started' || decision === 'buffered' ? slotRunId(schedule.id, slotAt) : null;
  const claimed = await port.store.schedules.claimSlot({
    scheduleId: schedule.id,
    slotAt,
    decision,
    origin,
    runId,
    recordedAt: Date.now(),
  });
  if (!claimed) return { slotAt, decision: 'taken', runId: null };
  if (decision === 'started') {
    if (policy === 'cancel_other' && inFlight) await cancelQuietly(port, inFlight, schedule.id);
    await startRun(port, schedule, runId!);
  }
  return { slotAt, decision, runId };
}

async function cancelQuietly(port: FiringPort, runId: string, scheduleId: string): Promise<void> {
  try {
    await port.cancel(runId, `schedule '${scheduleId}' fired again (overlap: cancel_other)`);
  } catch (error) {
    port.warn(`schedule '${scheduleId}' could not cancel run '${runId}'`, { runId, error: String(error) });
  }
}

/**
 * Starts the runs of the newest `limit` started slots whose run does not exist: their claim outlived the process that
 * made it (killed between the claim and the start). Starting an existing id returns it, so a race is harmless.
 */
export async function recoverStarts(port: FiringPort, schedule: ScheduleRecord, limit = 3): Promise<number> {
  let started = 0;
  for (const slot of await port.store.schedules.slots(schedule.id, { limit, decision: 'started' })) {
    if (!slot.runId || (await port.store.getRun(slot.runId))) continue;
    if (await startRun(port, schedule, slot.runId)) started++;
  }
  return started;
}

/** Records a slot missed by more than the catch-up window; false when it was claimed before. */
export function recordMissed(port: FiringPort, schedule: ScheduleRecord, slotAt: number): Promise<boolean> {
  return port.store.schedules.claimSlot({
    scheduleId: schedule.id,
    slotAt,
    decision: 'missed',
    origin: 'schedule',
    runId: null,
    recordedAt: Date.now(),
  });
}

/**
 * Starts the oldest buffered slot's run once the previous run is no longer in flight (one process wins each slot);
 * the run id, when one started.
 */
export async function startBuffered(port: FiringPort, schedule: ScheduleRecord): Promise<string | undefined> {
  const [oldest] = await port.store.schedules.slots(schedule.id, { limit: 1, decision: 'buffered', oldestFirst: true });
  if (!oldest || (await previousInFlight(port, schedule))) return undefined;
  const runId = oldest.runId ?? slotRunId(schedule.id, oldest.slotAt);
  if (!(await port.store.schedules.startBuffered(schedule.id, oldest.slotAt, runId))) return undefined;
  await startRun(port, schedule, runId);
  return runId;
}
