/**
 * The history as a typed, versioned contract: every event type and the data it records. Fields a writer
 * leaves out (or an older format did not record) are optional; everything here is JSON, as it is stored.
 */
import type { Divergence } from './replay.js';
import type { TaskStatus } from './tasks.js';
import type {
  AttentionReason,
  ErrorInfo,
  EventType,
  FailurePolicy,
  Json,
  OperationKind,
  OperatorAction,
  StepEffect,
} from './types.js';

/** An event that records nothing beyond its type, seq and name. */
export type NoData = Record<string, never>;

/** Who ran a step or compensation attempt, when, and for how long. */
export type AttemptAudit = { attempt: number; workerId: string; startedAt: number; durationMs: number };

/** An operator's skip of a parked step or compensation: who, why. */
export type SkippedBy = { by?: string; reason?: string; skipped?: boolean };

/** The first event of every epoch: what the run runs, with what. */
export type RunStartedData = {
  workflow: string;
  version: number;
  input: Json;
  /** The history's format (see HISTORY_FORMAT). (Default: 1) */
  format?: number;
  /** Epoch ms when the run's lifetime ends. */
  expiresAt?: number;
  /** The target lock the run holds or queues for. */
  lock?: { key: string; onConflict: 'reject' | 'queue' };
  /** The W3C traceparent of the start: the run's executions are traced as its children. */
  traceparent?: string;
};

/** A non-idempotent step's attempt is about to run (an outcome never recorded after it is unknown). */
export type StepStartedData = { attempt: number; workerId: string; effect: StepEffect };

/** A step's outcome: its attempt's audit, or an operator's skip, or a migration's inserted step. */
export type StepCompletedData = Partial<AttemptAudit> &
  SkippedBy & {
    effect?: StepEffect;
    output?: Json;
    /** The migration that inserted the step. */
    migrated?: string;
  };

/** A step attempt failed; `retryAt` when it is retried. */
export type StepFailedData = AttemptAudit & { effect: StepEffect; error: ErrorInfo; retryAt?: number };

/** Why compensation started: a step failed under 'compensate', an operator asked, or the run expired. */
export type CompensationStartedData =
  | { reason: 'step_failed'; step: string; seq: number; attempts: number; error: ErrorInfo }
  | { reason: 'operator'; actor: string; why: string }
  | { reason: 'expired' };

/** A completed step was undone (or an operator marked its compensation done). */
export type CompensationCompletedData = Partial<AttemptAudit> & SkippedBy;

/** A compensation attempt failed; `retryAt` when it is retried. */
export type CompensationFailedData = AttemptAudit & { error: ErrorInfo; retryAt?: number };

export type RunCompensatedData = { undone: string[]; notUndone: string[] };

/** An operator action (or a restart / rerun, which start a new epoch), with who and why. */
export type OperatorActionData = {
  action: OperatorAction | 'restart' | 'rerun';
  actor: string;
  reason: string;
  /** The parked step a retry or skip applies to. */
  step?: string;
  /** Set when the retry or skip applies to the step's compensation. */
  phase?: 'compensation';
  /** Restart / rerun: the epoch run again, and the version it runs now. */
  fromEpoch?: number;
  version?: number;
};

export type RunExpiredData = { policy: FailurePolicy; expiresAt: number };

export type TimerSetData = { until: number };

/** `until`: when the wait times out, if it does. */
export type SignalWaitingData = { until?: number };

export type SignalReceivedData = { payload: Json; signalId: number };

/** A task attempt handed to remote workers. */
export type TaskScheduledData = { taskId: string; attempt: number; ref: string; input: Json; visibleAt: number };

/** What every worker's final report on a task attempt records. */
export type TaskReportData = {
  taskId: string;
  attempt: number;
  ref: string;
  status: TaskStatus;
  workerId: string | null;
};

export type TaskCompletedData = TaskReportData & { output: Json };

/** A failed attempt that is retried (`retry: true`), or the task's final failure (with its error). */
export type TaskFailedData = TaskReportData &
  ({ reason: string; retry: true } | { reason: string; retry?: false; error: ErrorInfo });

/** ctx.now() / ctx.random() / ctx.uuid(): the value it returned. */
export type ValueRecordedData = { kind: Extract<OperationKind, 'now' | 'random' | 'uuid'>; value: Json };

export type PatchMarkerData = { id: string; deprecated: boolean };

export type RunUpgradedData = { from: number; to: number; actor: string; reason: string };

/** `fromEpoch`: the epoch the migration continued from (a rollback returns to it). */
/** `fromWaitSeq`: the seq the run waited at in the epoch it left (a rollback shows the wait there again). */
export type RunMigratedData = RunUpgradedData & { migration: string; fromEpoch: number; fromWaitSeq?: number };

export type MigrationRolledBackData = { migration: string; from: number; to: number; actor: string; reason: string };

/** `output`: absent when the workflow returned nothing. */
export type RunCompletedData = { output?: Json };

export type RunFailedData = { error: ErrorInfo };

export type RunCancelledData = { actor: string; reason: string };

/** Why a run was parked for an operator, with the facts of its reason (each field says which reasons carry it). */
export type RunParkedData = {
  reason: AttentionReason;
  /** unknown_outcome, step_failed, compensation_failed: the step and its seq. */
  step?: string;
  seq?: number;
  /** unknown_outcome: the attempt that started, where and when. */
  attempt?: number;
  workerId?: string | null;
  startedAt?: number;
  /** step_failed, compensation_failed: attempts made and the last error. */
  attempts?: number;
  error?: ErrorInfo;
  /** compensation_failed: steps undone and still to undo. */
  done?: string[];
  pending?: string[];
  /** nondeterminism: what the history holds and what the code asked for. */
  divergence?: Divergence;
  /** expired: when the lifetime ended. */
  expiresAt?: number;
  /** invalid_value: the store's refusal and the events of the refused checkpoint (types, seqs, names). */
  refused?: { type: EventType; seq?: number; name?: string }[];
};

/** The data each history event type records. */
export type EventData = {
  run_started: RunStartedData;
  step_started: StepStartedData;
  step_completed: StepCompletedData;
  step_failed: StepFailedData;
  compensation_started: CompensationStartedData;
  compensation_completed: CompensationCompletedData;
  compensation_failed: CompensationFailedData;
  run_compensated: RunCompensatedData;
  operator_action: OperatorActionData;
  run_expired: RunExpiredData;
  timer_set: TimerSetData;
  timer_fired: NoData;
  signal_waiting: SignalWaitingData;
  signal_received: SignalReceivedData;
  signal_timed_out: NoData;
  task_scheduled: TaskScheduledData;
  task_completed: TaskCompletedData;
  task_failed: TaskFailedData;
  value_recorded: ValueRecordedData;
  patch_marker: PatchMarkerData;
  run_upgraded: RunUpgradedData;
  run_migrated: RunMigratedData;
  migration_rolled_back: MigrationRolledBackData;
  run_completed: RunCompletedData;
  run_failed: RunFailedData;
  run_cancelled: RunCancelledData;
  run_parked: RunParkedData;
};

/**
 * EventData names every EventType, and nothing else, and all its
 * data is JSON (as it is stored): this fails to compile otherwise.
 */
type CheckEventData<T extends { [K in EventType]: Json }, Extra extends never> = [T, Extra];
export type CheckedEventData = CheckEventData<EventData, Exclude<keyof EventData, EventType>>;

/**
 * The history's format, recorded in each epoch's `run_started` (absent: 1). Format 1 histories delivered each
 * result as it completed and the position of its settling event approximates that order; from format 2 the
 * executor delivers results in exactly the order of their settling events. Both replay by that order.
 */
export const HISTORY_FORMAT = 2;

/**
 * One entry of a run's history, of type `T` (a union of types gives the union of
 * their events). `pos` orders events; `seq` ties an event to a ctx operation.
 */
export type HistoryEventOf<T extends EventType> = {
  [K in T]: {
    pos: number;
    /** The history epoch: a migration continues the run in a new one; replay reads only the run's current epoch. */
    epoch?: number;
    type: K;
    seq?: number;
    name?: string;
    at: number;
    data?: EventData[K];
  };
}[T];

/** One entry of a run's history: narrow on `type` to read its data. */
export type HistoryEvent = HistoryEventOf<EventType>;

/** An event before the store has given it its place (and its epoch). */
export type NewEvent = {
  [T in EventType]: Omit<HistoryEventOf<T>, 'pos' | 'at' | 'epoch'> & { at?: number };
}[EventType];

/**
 * An event as a store row holds it: type and data not yet tied
 * together (the store's row mapper turns it into a HistoryEvent).
 */
export type StoredEvent = {
  pos: number;
  epoch?: number;
  type: string;
  seq?: number;
  name?: string;
  at: number;
  data?: Json;
};

/** Whether an event is about a remote task attempt (each of them carries its taskId). */
export function isTaskEvent(
  event: HistoryEvent,
): event is HistoryEventOf<'task_scheduled' | 'task_completed' | 'task_failed'> {
  return event.type === 'task_scheduled' || event.type === 'task_completed' || event.type === 'task_failed';
}

/** The format a history was written in (see HISTORY_FORMAT). */
export function historyFormat(events: readonly HistoryEvent[]): number {
  const started = events.find((e) => e.type === 'run_started');
  const format = started?.data?.format;
  return typeof format === 'number' ? format : 1;
}

/** The events of a run's current epoch (what replay reads). */
export function currentEpoch(events: readonly HistoryEvent[], epoch: number): HistoryEvent[] {
  return events.filter((e) => (e.epoch ?? 0) === epoch);
}

/** A recorded event as a new one (its place and epoch left for the store to give), e.g. to copy it into a new epoch. */
export function toNewEvent({ pos: _pos, epoch: _epoch, ...event }: HistoryEvent): NewEvent {
  return event;
}
