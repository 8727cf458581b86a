import type { ErrorInfo, EventType, HistoryEvent, Json, OperationKind } from './types.js';

/** What the history recorded for one seq: the operation and everything that happened to it. */
export interface RecordedOperation {
  seq: number;
  kind: OperationKind;
  /** Step or signal name; '' for sleeps and recorded values. */
  name: string;
  events: HistoryEvent[];
}

/** The facts of a divergence: what the history holds at `seq` and what the code asked for. */
export type Divergence = {
  seq: number;
  expected: { kind: OperationKind; name: string };
  got: { kind: OperationKind; name: string };
};

const KIND_OF_EVENT: Partial<Record<EventType, OperationKind>> = {
  step_started: 'step',
  step_completed: 'step',
  step_failed: 'step',
  timer_set: 'sleep',
  timer_fired: 'sleep',
  signal_waiting: 'signal',
  signal_received: 'signal',
  signal_timed_out: 'signal',
  task_scheduled: 'task',
  task_completed: 'task',
  task_failed: 'task',
};

/** Operation kind an event belongs to, or undefined for run-level events. */
export function operationKindOf(event: HistoryEvent): OperationKind | undefined {
  if (event.type === 'value_recorded') return event.data?.kind;
  return KIND_OF_EVENT[event.type];
}

/** Groups a history's operation events by seq, in order; operator actions on a step join its events. */
export function indexHistory(events: readonly HistoryEvent[]): Map<number, RecordedOperation> {
  const bySeq = new Map<number, RecordedOperation>();
  for (const event of events) {
    if (event.type === 'operator_action' && event.seq !== undefined && event.data?.phase !== 'compensation') {
      bySeq.get(event.seq)?.events.push(event);
      continue;
    }
    const kind = operationKindOf(event);
    if (kind === undefined || event.seq === undefined) continue;
    let op = bySeq.get(event.seq);
    if (!op) {
      op = { seq: event.seq, kind, name: event.name ?? '', events: [] };
      bySeq.set(event.seq, op);
    }
    op.events.push(event);
  }
  return bySeq;
}

/** Compares what the code asks for at a seq with what was recorded there. */
export function checkOperation(
  recorded: RecordedOperation | undefined,
  seq: number,
  kind: OperationKind,
  name: string,
): Divergence | undefined {
  if (!recorded) return undefined;
  if (recorded.kind === kind && recorded.name === name) return undefined;
  return { seq, expected: { kind: recorded.kind, name: recorded.name }, got: { kind, name } };
}

/** A divergence for recorded operations the code never reached (it finished without them). */
export function missingOperation(recorded: RecordedOperation, got = '(workflow returned)'): Divergence {
  return {
    seq: recorded.seq,
    expected: { kind: recorded.kind, name: recorded.name },
    got: { kind: 'step', name: got },
  };
}

/** What a divergence says the code did when it never asked for a recorded operation while waiting for others. */
export const NOT_ASKED = '(nothing: the code waits without asking for it)';

export function describeDivergence(d: Divergence): string {
  const show = (x: { kind: string; name: string }) => (x.name ? `${x.kind} '${x.name}'` : x.kind);
  return `history has ${show(d.expected)} at seq ${d.seq} but the code asked for ${show(d.got)}`;
}

/** The state of a step as the history tells it. */
export type StepState =
  | { state: 'new'; attempt: 1 }
  | { state: 'completed'; output: Json | undefined }
  | { state: 'failed'; error: ErrorInfo; attempts: number }
  | { state: 'retrying'; attempt: number; retryAt: number }
  /** An attempt started (non-idempotent steps record it) and never recorded an outcome. */
  | { state: 'unknown'; attempt: number; workerId: string | undefined; startedAt: number };

export function stepState(recorded: RecordedOperation | undefined): StepState {
  let state: StepState = { state: 'new', attempt: 1 };
  for (const event of recorded?.events ?? []) {
    if (event.type === 'step_completed') state = { state: 'completed', output: event.data?.output };
    else if (event.type === 'step_started')
      state = {
        state: 'unknown',
        attempt: event.data?.attempt ?? 1,
        workerId: event.data?.workerId,
        startedAt: event.at,
      };
    else if (event.type === 'step_failed') {
      const attempt = event.data?.attempt ?? 1;
      const retryAt = event.data?.retryAt;
      const error = event.data?.error ?? { name: 'Error', message: 'step failed' };
      state =
        retryAt !== undefined
          ? { state: 'retrying', attempt: attempt + 1, retryAt }
          : { state: 'failed', error, attempts: attempt };
    } else if (event.type === 'operator_action' && event.data?.action === 'retry_step') {
      const tried: number =
        state.state === 'failed'
          ? state.attempts
          : state.state === 'new' || state.state === 'completed'
            ? 0
            : state.attempt;
      state = { state: 'retrying', attempt: tried + 1, retryAt: 0 };
    }
  }
  return state;
}

/** Where compensating one completed step stands. */
export type CompensationState =
  | { state: 'pending'; attempt: number; retryAt: number }
  | { state: 'done' }
  | { state: 'failed'; attempts: number; error: ErrorInfo };

/** Compensation progress by the seq of the step being undone, read from the whole history. */
export function compensationStates(events: readonly HistoryEvent[]): Map<number, CompensationState> {
  const states = new Map<number, CompensationState>();
  for (const event of events) {
    if (event.seq === undefined) continue;
    if (event.type === 'compensation_completed') states.set(event.seq, { state: 'done' });
    else if (event.type === 'compensation_failed') {
      const attempt = event.data?.attempt ?? 1;
      const retryAt = event.data?.retryAt;
      states.set(
        event.seq,
        retryAt !== undefined
          ? { state: 'pending', attempt: attempt + 1, retryAt }
          : {
              state: 'failed',
              attempts: attempt,
              error: event.data?.error ?? { name: 'Error', message: 'compensation failed' },
            },
      );
    } else if (
      event.type === 'operator_action' &&
      event.data?.phase === 'compensation' &&
      event.data.action === 'retry_step'
    ) {
      const current = states.get(event.seq);
      const tried: number =
        current?.state === 'failed' ? current.attempts : current?.state === 'pending' ? current.attempt - 1 : 0;
      states.set(event.seq, { state: 'pending', attempt: tried + 1, retryAt: 0 });
    }
  }
  return states;
}

/** The state of a sleep: set (with its wake time) and whether it has fired. */
export function sleepState(recorded: RecordedOperation | undefined): { until: number; fired: boolean } | undefined {
  if (!recorded) return undefined;
  const set = recorded.events.find((e) => e.type === 'timer_set');
  const until = set?.data?.until ?? 0;
  return { until, fired: recorded.events.some((e) => e.type === 'timer_fired') };
}

/** The state of a signal wait: received (with payload), timed out, or still waiting (until its timeout). */
export type SignalState =
  | { state: 'received'; payload: Json | undefined }
  | { state: 'timed_out' }
  | { state: 'waiting'; until: number | undefined };

export function signalState(recorded: RecordedOperation | undefined): SignalState | undefined {
  if (!recorded) return undefined;
  for (const event of recorded.events) {
    if (event.type === 'signal_received') return { state: 'received', payload: event.data?.payload };
    if (event.type === 'signal_timed_out') return { state: 'timed_out' };
  }
  const waiting = recorded.events.find((e) => e.type === 'signal_waiting');
  return { state: 'waiting', until: waiting?.data?.until };
}

/**
 * The delivery order of a history: the seqs whose results reached the workflow code, in the order they did.
 * A result is delivered at the event that settled its operation for good (a step's completion or final
 * failure, a timer firing, a signal received or timed out, a task's completion or final failure); replay
 * hands results over in this order, the code running to quiescence between two deliveries.
 */
export function deliveryOrder(events: readonly HistoryEvent[]): number[] {
  const settledAt = new Map<number, number>();
  const steps = new Map<number, HistoryEvent[]>();
  events.forEach((event, index) => {
    if (event.seq === undefined) return;
    if (
      event.type === 'step_started' ||
      event.type === 'step_completed' ||
      event.type === 'step_failed' ||
      (isStepAction(event) && steps.has(event.seq))
    ) {
      const seen = steps.get(event.seq) ?? [];
      seen.push(event);
      steps.set(event.seq, seen);
      const state = stepState({ seq: event.seq, kind: 'step', name: event.name ?? '', events: seen }).state;
      if (state === 'completed' || state === 'failed') settledAt.set(event.seq, index);
      else settledAt.delete(event.seq);
      return;
    }
    if (settledAt.has(event.seq)) return;
    if (SETTLING_EVENTS.has(event.type) && !(event.type === 'task_failed' && event.data?.retry))
      settledAt.set(event.seq, index);
  });
  return [...settledAt.entries()].sort((a, b) => a[1] - b[1]).map(([seq]) => seq);
}

const SETTLING_EVENTS: ReadonlySet<EventType> = new Set([
  'timer_fired',
  'signal_received',
  'signal_timed_out',
  'task_completed',
  'task_failed',
]);

/** An operator's retry or skip of a step (not of a compensation): it changes the step's state. */
function isStepAction(event: HistoryEvent): boolean {
  return event.type === 'operator_action' && event.data?.phase !== 'compensation';
}

/** Where a recorded step's completion sits in the history (compensation runs in reverse of it). */
export function completionPos(recorded: RecordedOperation): number {
  return recorded.events.find((e) => e.type === 'step_completed')?.pos ?? 0;
}

/** The value recorded for ctx.now() / ctx.random() / ctx.uuid(). */
export function recordedValue(recorded: RecordedOperation): Json | undefined {
  const first = recorded.events[0];
  return first?.type === 'value_recorded' ? first.data?.value : undefined;
}

/** Patch ids whose markers the history carries. */
export function patchMarkers(events: readonly HistoryEvent[]): Set<string> {
  return new Set(events.flatMap((e) => (e.type === 'patch_marker' && e.data ? [e.data.id] : [])));
}

/**
 * ctx.patched(id): true when the history carries the marker; false while replaying a history made before
 * the patch (recorded operations still lie ahead); at the frontier the new code runs and the marker is recorded.
 */
export function patchDecision(
  markers: ReadonlySet<string>,
  id: string,
  replaying: boolean,
): 'patched' | 'unpatched' | 'record' {
  if (markers.has(id)) return 'patched';
  return replaying ? 'unpatched' : 'record';
}
