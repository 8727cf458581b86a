import { parseDuration } from '../core/duration.js';
import { WaymarkError } from '../core/errors.js';
import { roundTrip } from '../core/json.js';
import {
  checkOperation,
  deliveryOrder,
  indexHistory,
  missingOperation,
  NOT_ASKED,
  patchDecision,
  patchMarkers,
  recordedValue,
} from '../core/replay.js';
import {
  signalState,
  sleepState,
  stepState,
  type Divergence,
  type RecordedOperation,
  type SignalState,
  type StepState,
} from '../core/replay.js';
import { taskState, type TaskOpState } from '../core/tasks.js';
import type { HistoryEvent, Json, OperationKind } from '../core/types.js';
import { stepFailedError } from './attempt.js';
import { taskFailedError, type TaskOptions } from './task-op.js';
import { never } from './waits.js';
import {
  checkOperationName,
  checkStepOptions,
  resolveStepOptions,
  type StepInfo,
  type StepOptions,
  type WorkflowContext,
  type WorkflowDefinition,
} from './workflow.js';

/** A step the history has not settled: the frontier runs it (or stops there). */
export interface StepCall {
  seq: number;
  name: string;
  fn: (info: StepInfo) => unknown;
  options: StepOptions;
  /** What the history says of it: new, retrying, unknown, or failed under a policy other than 'fail'. */
  state: StepState;
}

export interface SleepCall {
  seq: number;
  ms: number;
  /** The wake time the history recorded (undefined when the timer is new). */
  until: number | undefined;
}

export interface SignalCall {
  seq: number;
  name: string;
  timeoutMs: number | undefined;
  state: SignalState | undefined;
}

export interface TaskCall {
  seq: number;
  type: string;
  input: Json;
  options: TaskOptions;
  state: TaskOpState;
}

export type ValueKind = 'now' | 'random' | 'uuid';

/**
 * What happens to operations the history cannot answer: the executor runs them and hands their results
 * back through `ReplayEngine.live`; the verifier stops there.
 */
export interface Frontier {
  step(call: StepCall): Promise<unknown>;
  sleep(call: SleepCall): Promise<void>;
  signal(call: SignalCall): Promise<Json | null>;
  task(call: TaskCall): Promise<Json>;
  value(seq: number, kind: ValueKind): Json;
  /** ctx.patched() reached the frontier: the marker is recorded (`deprecated` for deprecatePatch). */
  markPatch(id: string, deprecated: boolean): void;
  /**
   * A recorded step output before it is delivered; resolving false stops the replay (the verifier's schema check;
   * undefined: nothing to check).
   */
  checkRecorded?(
    seq: number,
    name: string,
    options: StepOptions,
    output: Json | undefined,
  ): Promise<boolean> | undefined;
  /** The code asked for something other than the history holds, or never asked for a recorded operation. */
  diverged(divergence: Divergence): void;
  /** The execution has stopped: new operations neither run nor settle. */
  stopped(): boolean;
}

export interface ReplayOptions {
  /** The run's id, as ctx.runId shows it. (Default: '(replay)') */
  runId?: string;
  /** Called whenever every result has been delivered and the code is quiescent. (Default: none) */
  onQuiet?: () => void;
  /** Keep the recorded completed steps the code reaches in `replayedSteps` (the saga needs them). (Default: false) */
  keepSteps?: boolean;
}

/** A result waiting for its turn to reach the workflow code. */
interface Slot {
  /** The recorded operation this slot delivers (absent for results made now). */
  seq?: number;
  /** Hands the result to the code; set once the code has asked for the operation. */
  settle?: () => void;
  /** False while a live result's checkpoint is being committed, or a recorded output is being checked. */
  ready: boolean;
}

/** A recorded step whose completion replay returned: the saga undoes these. */
export interface ReplayedStep {
  seq: number;
  name: string;
  output: Json | undefined;
  options: StepOptions;
  /** Index of its completion in the history. */
  order: number;
}

/**
 * The one replay engine: it decides what each ctx call returns for a run's history, for execution and for
 * verification alike. Results reach the code in the history's delivery order, one at a time, the code
 * running to quiescence (a macrotask turn) between two deliveries, so every operation gets the same seq on
 * replay as when it first ran, whatever the timing was. Operations the history cannot answer go to the
 * frontier; their results come back through `live` and are delivered after every recorded one, in the
 * order their events were recorded.
 */
export class ReplayEngine {
  readonly recorded: Map<number, RecordedOperation>;
  readonly ctx: WorkflowContext;
  /** Recorded completed steps the code has reached, for the saga (with `keepSteps`). */
  readonly replayedSteps: ReplayedStep[] = [];
  /** Patch gates that kept this history on their old branch. */
  readonly oldBranches = new Set<string>();
  private readonly visited = new Set<number>();
  private readonly markers: Set<string>;
  private readonly maxRecordedSeq: number;
  private readonly queue: Slot[];
  private readonly recordedSlots = new Map<number, Slot>();
  private readonly completionIndex = new Map<number, number>();
  private readonly quietWaiters: (() => void)[] = [];
  private nextSeq = 0;
  private settling = false;
  private halted = false;
  private returned = false;

  constructor(
    private readonly definition: WorkflowDefinition,
    history: readonly HistoryEvent[],
    private readonly frontier: Frontier,
    private readonly options: ReplayOptions = {},
  ) {
    this.recorded = indexHistory(history);
    this.markers = patchMarkers(history);
    this.maxRecordedSeq = Math.max(-1, ...this.recorded.keys());
    this.queue = deliveryOrder(history).map((seq) => {
      const slot: Slot = { seq, ready: false };
      this.recordedSlots.set(seq, slot);
      return slot;
    });
    history.forEach((event, index) => {
      if (event.type === 'step_completed' && event.seq !== undefined) this.completionIndex.set(event.seq, index);
    });
    this.ctx = this.context(definition, options.runId ?? '(replay)');
  }

  /** Runs the workflow function; resolves or rejects as it does. Later ctx calls are refused. */
  run(input: Json): Promise<unknown> {
    this.settling = true;
    afterQuiescence(this);
    return Promise.resolve()
      .then(() => this.definition.run(this.ctx, input))
      .finally(() => {
        this.returned = true;
      });
  }

  /**
   * Queues a result made now (its event just recorded): it reaches the code after every earlier result,
   * once `ready` resolves (its checkpoint committed). A `ready` that never resolves never delivers.
   */
  live<T>(ready: Promise<unknown> | undefined, result: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const slot: Slot = { ready: ready === undefined, settle: () => settleWith(result, resolve, reject) };
      this.queue.push(slot);
      if (ready)
        ready.then(
          () => {
            slot.ready = true;
            this.pump();
          },
          () => {},
        );
      else this.pump();
    });
  }

  /** Stops delivering: nothing more reaches the code. */
  halt(): void {
    this.halted = true;
  }

  /** True once every recorded and live result has been delivered and the code is quiescent. */
  get quiet(): boolean {
    return !this.settling && this.queue.length === 0;
  }

  /** Resolves when `quiet` holds. */
  whenQuiet(): Promise<void> {
    if (this.quiet) return Promise.resolve();
    return new Promise((resolve) => this.quietWaiters.push(resolve));
  }

  /** True while recorded operations still lie ahead (patch gates keep old branches then). */
  get replaying(): boolean {
    return this.nextSeq <= this.maxRecordedSeq;
  }

  /** A recorded operation the code never asked for, if any. */
  unvisited(): RecordedOperation | undefined {
    return [...this.recorded.values()].find((op) => !this.visited.has(op.seq));
  }

  /** How many operations the code asked for. */
  get asked(): number {
    return this.visited.size;
  }

  /** Delivers the queue's head if its turn has come. */
  private pump(): void {
    if (this.settling || this.halted) return;
    const head = this.queue[0];
    if (!head) {
      this.quietNow();
      return;
    }
    if (!head.settle || !head.ready) return;
    this.queue.shift();
    this.settling = true;
    head.settle();
    afterQuiescence(this);
  }

  /**
   * The code has run to quiescence after a delivery: a recorded head it never asked for is a divergence. (Called by the
   * turn scheduler.)
   */
  afterTurn(): void {
    this.settling = false;
    if (this.halted) return;
    let head = this.queue[0];
    while (head && head.seq !== undefined && !head.settle && this.returned) {
      this.queue.shift(); // the workflow returned before asking for it: nothing waits for that result
      head = this.queue[0];
    }
    if (head && head.seq !== undefined && !head.settle) {
      const op = this.recorded.get(head.seq)!;
      this.halt();
      this.frontier.diverged(missingOperation(op, NOT_ASKED));
      return;
    }
    this.pump();
  }

  private quietNow(): void {
    for (const resolve of this.quietWaiters.splice(0)) resolve();
    this.options.onQuiet?.();
  }

  /** A recorded result: it reaches the code at its place in the delivery order. */
  private recordedResult<T>(seq: number, result: () => T, check?: Promise<boolean>): Promise<T> {
    const slot = this.recordedSlots.get(seq);
    return new Promise<T>((resolve, reject) => {
      // not in the delivery order: cannot happen for a settled operation
      if (!slot) return settleWith(result, resolve, reject);
      slot.settle = () => settleWith(result, resolve, reject);
      slot.ready = check === undefined;
      if (check)
        void check.then((ok) => {
          if (!ok) return this.halt();
          slot.ready = true;
          this.pump();
        });
      this.pump();
    });
  }

  /** A recorded result that never reaches the code (a step failed under 'compensate' or 'escalate'). */
  private consumeRecorded(seq: number): void {
    const slot = this.recordedSlots.get(seq);
    if (!slot) return;
    slot.settle = () => {};
    slot.ready = true;
    this.pump();
  }

  /** Assigns the next seq and checks it against the history; throws E_NONDETERMINISM on divergence. */
  private enter(kind: OperationKind, name: string): { seq: number; recorded: RecordedOperation | undefined } {
    if (this.halted || this.frontier.stopped())
      throw new WaymarkError('E_ENGINE_CLOSED', 'this execution of the run has stopped');
    const seq = this.nextSeq++;
    const recorded = this.recorded.get(seq);
    const divergence = checkOperation(recorded, seq, kind, name);
    if (divergence) {
      this.halt();
      this.frontier.diverged(divergence);
      throw new WaymarkError('E_NONDETERMINISM', `the code diverged from its history at seq ${seq}`, {
        details: divergence as unknown as Json,
      });
    }
    this.visited.add(seq);
    return { seq, recorded };
  }

  /** Async ctx calls made after the run stopped, or after the workflow returned, never settle. */
  private refused(): boolean {
    return this.halted || this.returned || this.frontier.stopped();
  }

  private context(definition: WorkflowDefinition, runId: string): WorkflowContext {
    return {
      runId,
      workflow: definition.name,
      version: definition.version,
      // biome-ignore-start lint/suspicious/noExplicitAny: ctx's signatures are generic in T, the engine's are not
      step: (name, fn, options) => rejecting(() => this.step(name, fn, options)) as Promise<any>,
      sleep: (duration) => rejecting(() => this.sleep(duration)),
      waitForSignal: (name, options) => rejecting(() => this.waitForSignal(name, options)) as Promise<any>,
      task: (type, input, options) => rejecting(() => this.task(type, input, options)) as Promise<any>,
      // biome-ignore-end lint/suspicious/noExplicitAny: (see above)
      patched: (id) => this.patched(id, true),
      deprecatePatch: (id) => void this.patched(id, false),
      now: () => this.value('now') as number,
      random: () => this.value('random') as number,
      uuid: () => this.value('uuid') as string,
    };
  }

  private step(name: string, fn: (info: StepInfo) => unknown, inline: StepOptions | undefined): Promise<unknown> {
    if (this.refused()) return never();
    checkOperationName(name, 'step');
    const { seq, recorded } = this.enter('step', name);
    const options = resolveStepOptions(this.definition, name, inline);
    // the definition's own were checked when it was defined
    if (inline !== undefined) checkStepOptions(options, `step '${name}'`);
    const state = stepState(recorded);
    if (state.state === 'completed') {
      if (this.options.keepSteps)
        this.replayedSteps.push({
          seq,
          name,
          output: state.output,
          options,
          order: this.completionIndex.get(seq) ?? 0,
        });
      return this.recordedResult(
        seq,
        () => state.output,
        this.frontier.checkRecorded?.(seq, name, options, state.output),
      );
    }
    if (state.state === 'failed') {
      if ((options.onFailure ?? 'fail') === 'fail')
        return this.recordedResult(seq, () => failWith(stepFailedError(name, seq, state.attempts, state.error)));
      this.consumeRecorded(seq);
    }
    return this.frontier.step({ seq, name, fn, options, state });
  }

  private sleep(duration: unknown): Promise<void> {
    if (this.refused()) return never();
    const ms = parseDuration(duration as number | string, 'sleep duration');
    const { seq, recorded } = this.enter('sleep', '');
    const state = sleepState(recorded);
    if (state?.fired) return this.recordedResult(seq, () => undefined);
    return this.frontier.sleep({ seq, ms, until: state?.until });
  }

  private waitForSignal(name: string, options: { timeoutMs?: number | string } = {}): Promise<Json | null> {
    if (this.refused()) return never();
    checkOperationName(name, 'signal');
    const timeoutMs =
      options.timeoutMs === undefined ? undefined : parseDuration(options.timeoutMs, 'signal timeoutMs');
    const { seq, recorded } = this.enter('signal', name);
    const state = signalState(recorded);
    if (state?.state === 'received') return this.recordedResult(seq, () => state.payload ?? null);
    if (state?.state === 'timed_out') return this.recordedResult(seq, () => null);
    return this.frontier.signal({ seq, name, timeoutMs, state });
  }

  private task(type: string, input: unknown, options: TaskOptions = {}): Promise<Json> {
    if (this.refused()) return never();
    checkOperationName(type, 'task');
    const json = roundTrip(input, 'task input') as Json;
    const { seq, recorded } = this.enter('task', type);
    const state = taskState(recorded);
    if (state.state === 'completed') return this.recordedResult(seq, () => state.output ?? null);
    if (state.state === 'failed')
      return this.recordedResult(seq, () =>
        failWith(taskFailedError(type, options.ref ?? type, state.attempts, state.error)),
      );
    return this.frontier.task({ seq, type, input: json, options, state });
  }

  /** Decides a patch gate (see patchDecision); `gate` false for deprecatePatch, which only records. */
  private patched(id: string, gate: boolean): boolean {
    checkOperationName(id, 'patch');
    const decision = patchDecision(this.markers, id, this.replaying);
    if (decision === 'record') {
      this.markers.add(id);
      this.frontier.markPatch(id, !gate);
      return true;
    }
    if (decision === 'unpatched' && gate) this.oldBranches.add(id);
    return decision === 'patched' || !gate;
  }

  private value(kind: ValueKind): Json {
    const { seq, recorded } = this.enter(kind, '');
    if (recorded) return recordedValue(recorded) ?? null;
    return this.frontier.value(seq, kind);
  }
}

/** Callbacks for the next turn of the event loop: one setImmediate serves every replay waiting for it. */
const nextTurn: ReplayEngine[] = [];

/** Calls `engine.afterTurn()` once the code has run to quiescence: at the next turn of the event loop. */
function afterQuiescence(engine: ReplayEngine): void {
  nextTurn.push(engine);
  if (nextTurn.length === 1) setImmediate(runTurn);
}

function runTurn(): void {
  const due = nextTurn.splice(0);
  for (const engine of due) {
    try {
      engine.afterTurn();
    } catch (error) {
      // One replay's failure must not leave the others of this turn waiting forever: it surfaces on its own.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

/** An async ctx call's synchronous failure (bad arguments, a divergence) as the rejection the code awaits. */
function rejecting<T>(call: () => Promise<T>): Promise<T> {
  try {
    return call();
  } catch (error) {
    return Promise.reject(error);
  }
}

function settleWith<T>(result: () => T, resolve: (value: T) => void, reject: (error: unknown) => void): void {
  try {
    resolve(result());
  } catch (error) {
    reject(error);
  }
}

function failWith(error: Error): never {
  throw error;
}
