import { WaymarkError, toErrorInfo } from '../core/errors.js';
import { roundTrip } from '../core/json.js';
import type { NewTask, Task } from '../core/tasks.js';
import { compensationStates, describeDivergence, missingOperation, type Divergence } from '../core/replay.js';
import {
  currentEpoch,
  type AttentionReason,
  type ErrorInfo,
  type HistoryEvent,
  type Json,
  type NewEvent,
  type Run,
} from '../core/types.js';
import type { ClaimedRun, CommitOutcome, PendingSignal, RunCommit, RunUpdate } from '../store/types.js';
import { faultPoint } from './faults.js';
import type { ExecutorHost, ReleaseHow } from './host.js';
import { ReplayEngine, type Frontier, type SleepCall, type ValueKind } from './replay-engine.js';
import { signalOperation, type SignalOpPort } from './signal-op.js';
import { stepOperation, type StepOpPort } from './step-op.js';
import { taskOperation, type TaskOpPort } from './task-op.js';
import { abandonedExecution } from './refused-commits.js';
import { runCompensations, type CompletedStep } from './saga.js';
import { runTakeover, type Takeover, type TakeoverPort } from './takeover.js';
import { ExecutionTrace } from './execution-trace.js';
import { attentionFor, never, suspensionOf, type PendingWait } from './waits.js';
import type { WorkflowDefinition } from './workflow.js';

/**
 * Where an execution is. `executing`: the workflow runs, and suspends once idle; `held`: it waits only on remote
 * tasks and stays hot (lease and memory kept) for up to `taskHoldMs`; `taken_over`: a takeover (saga, operator's
 * action, expiry, pause) or a park ends the run and the workflow goes no further; `stopped`: this execution
 * commits nothing more of its own (suspended, finished, lost, diverged, or the engine closed).
 */
export type ExecutionPhase = 'executing' | 'held' | 'taken_over' | 'stopped';

/**
 * Executes one run in memory while hot, on the replay engine: recorded results are handed back in the
 * history's delivery order, new steps run and checkpoint each outcome before the workflow sees it, and the
 * run suspends (releasing memory and lease) when it must wait. At its frontier it hands over to the saga, an
 * operator's action or the run's expiry when one applies.
 */
export class RunExecutor {
  readonly runId: string;
  private readonly replay: ReplayEngine;
  private readonly signals: PendingSignal[];
  private readonly waits = new Set<PendingWait>();
  private readonly abort = new AbortController();
  /** Steps completed by this execution (the replay engine keeps the recorded ones). */
  private readonly completed: CompletedStep[] = [];
  private readonly expiresAt: number | undefined;
  /** The events of the run's current epoch: what replay reads. */
  private readonly history: HistoryEvent[];
  private buffer: NewEvent[] = [];
  private consumed: number[] = [];
  private newTasks: NewTask[] = []; // tasks scheduled and task reports recorded by the buffered events
  private consumedTasks: string[] = [];
  private readonly taskOutcomes: Map<string, Task>;
  private nextPos: number;
  private inflight = 0;
  /** The idle check queued for the end of this event-loop turn, if one is. */
  private idleCheck: NodeJS.Immediate | undefined;
  private idleWaiters: (() => void)[] = [];
  private phase: ExecutionPhase = 'executing';
  /** The takeover due at the frontier (saga, operator's action, expiry, pause), once one is. */
  private takeover: Takeover | undefined;
  /** The run was held hot for its tasks as long as it may: the next idle check suspends it. Reset by a delivery. */
  private holdSpent = false;
  private holdTimer: NodeJS.Timeout | undefined;
  /** The run's row says `waiting` while it is held hot: the next commit sets it `running` again. */
  private shownWaiting = false;
  /** This execution's spans and step counts. */
  private readonly trace: ExecutionTrace;

  constructor(
    private readonly claimed: ClaimedRun,
    private readonly definition: WorkflowDefinition,
    private readonly host: ExecutorHost,
  ) {
    this.runId = claimed.run.id;
    this.history = currentEpoch(claimed.history, claimed.run.epoch);
    this.replay = new ReplayEngine(definition, this.history, this.frontier(), {
      runId: this.runId,
      onQuiet: () => this.scheduleIdleCheck(),
      keepSteps: true,
    });
    this.nextPos = claimed.history.length;
    this.signals = [...claimed.signals];
    this.taskOutcomes = new Map((claimed.taskOutcomes ?? []).map((t) => [t.taskId, t]));
    const types = new Set(this.history.map((e) => e.type));
    if (types.has('compensation_started') && !types.has('run_compensated')) this.takeover = { kind: 'compensate' };
    else if (claimed.pendingAction) this.takeover = { kind: 'action', action: claimed.pendingAction };
    if (!types.has('run_expired')) this.expiresAt = claimed.run.expiresAt?.getTime();
    this.trace = new ExecutionTrace(host.telemetry, claimed.run, claimed.history);
  }

  /** The run as it was claimed. */
  get run(): Run {
    return this.claimed.run;
  }

  /** This execution's span's traceparent (the start's when tracing is off). */
  get traceparent(): string | undefined {
    return this.trace.traceparent;
  }

  /** Starts the workflow function; completion, failure, suspension and parking are committed by the executor. */
  start(): void {
    this.trace.begin();
    this.noteExpiry();
    this.replay
      .run(this.claimed.run.input)
      .then(
        (output) => this.finish(output),
        (error) => this.fail(error),
      )
      .catch((error) =>
        this.host.warn('run execution failed unexpectedly', { runId: this.runId, error: String(error) }),
      );
  }

  /** Hands a signal sent while the run is hot to a matching wait; returns false when the run is not waiting for it. */
  offerSignal(signal: PendingSignal): boolean {
    if (this.phase === 'stopped') return false;
    for (const wait of this.waits) {
      if (wait.kind === 'signal' && wait.name === signal.name && wait.deliver) {
        wait.deliver(signal);
        return true;
      }
    }
    if (!this.signals.some((s) => s.id === signal.id)) this.signals.push(signal);
    return false;
  }

  /** Hands a worker's final report on one of this run's tasks over in memory; false when no wait took it. */
  offerTask(task: Task): boolean {
    if (this.phase === 'stopped' || task.runId !== this.runId) return false;
    const wait = [...this.waits].find((w) => w.kind === 'task' && w.taskId === task.taskId);
    if (!wait?.resume) return false;
    this.taskOutcomes.set(task.taskId, task);
    wait.resume();
    return true;
  }

  /** The task attempts this run waits on while it is held hot (their reports may reach another process). */
  heldTasks(): string[] {
    if (this.phase !== 'held') return [];
    return [...this.waits].flatMap((w) => (w.kind === 'task' && w.taskId ? [w.taskId] : []));
  }

  /** Stops executing (engine closing): nothing more is committed for this run by this executor. */
  stop(): void {
    this.halt();
    this.trace.end('stopped');
    this.abort.abort(new WaymarkError('E_ENGINE_CLOSED', 'engine closed'));
  }

  /** The executor gives the run up (see ExecutorHost.released); its span ends. */
  private release(how: ReleaseHow, dueAt?: number): void {
    this.trace.end(how);
    this.host.released(this.runId, how, dueAt);
  }

  /** Ends this execution: nothing more of the workflow runs or is committed by it. */
  private halt(): void {
    this.clearHold();
    this.phase = 'stopped';
    this.replay.halt();
  }

  /** The workflow goes no further in this execution: a takeover or a park ends the run. */
  private enterTakeover(): void {
    this.clearHold();
    if (this.phase !== 'stopped') this.phase = 'taken_over';
  }

  /** Whether the workflow may still go on in this execution (no takeover or stop has begun). */
  private workflowGoesOn(): boolean {
    return this.phase === 'executing' || this.phase === 'held';
  }

  /** What the replay engine does with operations the history cannot answer: run them here. */
  private frontier(): Frontier {
    return {
      step: (call) => stepOperation(this.stepPort(), call),
      sleep: (call) => this.sleep(call),
      signal: (call) => signalOperation(this.signalPort(), call),
      task: (call) => taskOperation(this.taskPort(), call),
      value: (seq, kind) => this.value(seq, kind),
      markPatch: (id, deprecated) => this.buffer.push({ type: 'patch_marker', data: { id, deprecated } }),
      diverged: (divergence) => this.diverge(divergence),
      stopped: () => this.phase === 'stopped',
    };
  }

  /** Queues a result whose event was just recorded: it reaches the code at its turn, after `ready`. */
  private deliver<T>(result: () => T, ready?: Promise<unknown>): Promise<T> {
    this.clearHold();
    return this.replay.live(ready, result);
  }

  private stepPort(): StepOpPort {
    return {
      runId: this.runId,
      workerId: this.host.workerId,
      abortSignal: this.abort.signal,
      yieldToTakeover: () => this.yieldToTakeover(),
      stopped: () => this.phase === 'stopped',
      record: (event) => this.buffer.push(event),
      completed: (step) => this.completed.push({ ...step, order: this.nextPos + this.buffer.length }),
      flush: () => this.flush(),
      deliver: (result, ready) => this.deliver(result, ready),
      waitFor: (wait) => this.waitFor(wait),
      executing: (delta) => {
        this.inflight += delta;
        if (delta < 0) this.scheduleIdleCheck();
      },
      park: (reason, message, details) => this.park(reason, message, details),
      compensate: (error) => this.beginCompensation(error),
      attemptStarted: (name, seq, attempt) => this.trace.attempt(name, seq, attempt),
    };
  }

  private sleep({ seq, ms, until: recorded }: SleepCall): Promise<void> {
    if (this.yieldToTakeover()) return never();
    const until = recorded ?? Date.now() + ms;
    if (recorded === undefined) this.buffer.push({ type: 'timer_set', seq, data: { until } });
    if (Date.now() >= until) {
      this.buffer.push({ type: 'timer_fired', seq });
      return this.deliver(() => undefined);
    }
    return this.waitFor({ kind: 'sleep', seq, until });
  }

  private value(seq: number, kind: ValueKind): Json {
    if (this.yieldToTakeover())
      throw new WaymarkError('E_ENGINE_CLOSED', 'this execution of the run has been taken over');
    const value = kind === 'now' ? Date.now() : kind === 'random' ? Math.random() : crypto.randomUUID();
    this.buffer.push({ type: 'value_recorded', seq, data: { kind, value } });
    return value;
  }

  private signalPort(): SignalOpPort {
    return {
      yieldToTakeover: () => this.yieldToTakeover(),
      record: (event) => this.buffer.push(event),
      deliver: (result) => this.deliver(result),
      take: (wanted) => {
        const index = this.signals.findIndex((s) => s.name === wanted);
        return index >= 0 ? this.signals.splice(index, 1)[0] : undefined;
      },
      consume: (id) => this.consumed.push(id),
      hold: (wait) => this.waits.add(wait) && this.scheduleIdleCheck(),
      remove: (wait) => this.waits.delete(wait),
    };
  }

  private taskPort(): TaskOpPort {
    const { workflow, version } = this.claimed.run;
    return {
      ...{ runId: this.runId, workflow, version },
      yieldToTakeover: () => this.yieldToTakeover(),
      record: (event) => this.buffer.push(event),
      deliver: (result) => this.deliver(result),
      schedule: (task) => this.newTasks.push(this.trace.task(task)),
      outcome: (taskId) => this.taskOutcomes.get(taskId),
      consume: (taskId) => this.consumedTasks.push(taskId) && this.taskOutcomes.delete(taskId),
      waitFor: (wait) =>
        new Promise<void>((resolve) => {
          wait.resume = () => {
            this.waits.delete(wait);
            resolve();
          };
          this.waitFor(wait);
        }),
    };
  }

  /** Registers a wait the run cannot pass in memory; the promise settles only if the wait is met while hot. */
  private waitFor(wait: PendingWait): Promise<never> {
    this.waits.add(wait);
    this.scheduleIdleCheck();
    return never();
  }

  /** Once no step executes, every result is delivered and the workflow is blocked on waits, the run suspends. */
  private scheduleIdleCheck(): void {
    if (this.inflight === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    if (this.idleCheck || this.phase === 'stopped') return;
    this.idleCheck = setImmediate(() => {
      this.idleCheck = undefined;
      if (this.phase !== 'executing' || this.inflight > 0 || !this.replay.quiet || this.waits.size === 0) return;
      if (!this.holdSpent && this.host.holdTasksMs > 0 && [...this.waits].every((w) => w.kind === 'task'))
        return void this.holdHot();
      void this.suspend();
    });
  }

  /**
   * Keeps a run that waits only on tasks hot for a while: what it scheduled is committed (workers can poll
   * it), and a report reaching this process is handed over in memory. Then it suspends.
   */
  private async holdHot(): Promise<void> {
    this.phase = 'held';
    this.holdTimer = setTimeout(() => {
      this.holdTimer = undefined;
      if (this.phase === 'held') this.phase = 'executing';
      this.holdSpent = true;
      this.scheduleIdleCheck();
    }, this.host.holdTasksMs);
    const { waitingFor } = suspensionOf([...this.waits], this.expiresAt);
    this.shownWaiting = true;
    // its due time stays: if this process dies, the run is claimed again once the lease expires
    await this.flush({ status: 'waiting', waitingFor });
  }

  /** Ends a hold now (an operator is about to change the run): the run suspends; resolves once that is committed. */
  async releaseHold(): Promise<void> {
    if (this.phase !== 'held') return;
    this.clearHold();
    this.holdSpent = true;
    await this.suspend();
  }

  /** A result arrived: the run is no longer held (it may be held again when it next waits). */
  private clearHold(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    if (this.phase === 'held') this.phase = 'executing';
    this.holdSpent = false;
  }

  private async suspend(): Promise<void> {
    const { dueAt, waitingFor } = suspensionOf([...this.waits], this.expiresAt);
    this.halt();
    faultPoint('suspension');
    const ok = await this.flush({ status: 'waiting', waitingFor, dueAt: dueAt ?? null, releaseLease: true }, true);
    if (ok) this.release('suspended', dueAt);
  }

  private async finish(output: unknown): Promise<void> {
    if (!this.workflowGoesOn()) return;
    await this.idle();
    if (!this.workflowGoesOn()) return;
    if (this.yieldToTakeover()) return;
    const unvisited = this.replay.unvisited();
    if (unvisited) return this.diverge(missingOperation(unvisited));
    let json: Json | undefined;
    try {
      json = roundTrip(output, 'workflow output') as Json | undefined;
    } catch (error) {
      return this.fail(error);
    }
    this.buffer.push({ type: 'run_completed', data: json === undefined ? {} : { output: json } });
    const update: RunUpdate = { status: 'completed', waitingFor: null };
    if (json !== undefined) update.output = json;
    await this.end(update);
  }

  private async fail(error: unknown): Promise<void> {
    if (!this.workflowGoesOn()) return;
    if (error instanceof WaymarkError && error.code === 'E_NONDETERMINISM') return; // already parked
    await this.idle();
    if (!this.workflowGoesOn()) return;
    if (this.yieldToTakeover()) return;
    const info = toErrorInfo(error);
    this.buffer.push({ type: 'run_failed', data: { error: info } });
    await this.end({ status: 'failed', error: info, waitingFor: null });
  }

  /** Notes the run's expiry once its lifetime is over: the expiry takeover is then due (it applies `onExpire`). */
  private noteExpiry(): void {
    if (this.expiresAt === undefined || this.takeover || Date.now() < this.expiresAt) return;
    this.takeover = { kind: 'expire' };
  }

  /**
   * Hands the run to a due takeover (saga, operator's action, expiry, pause), which starts once nothing else
   * executes and every recorded result is delivered; returns true when the workflow must not go past this point.
   */
  private yieldToTakeover(): boolean {
    this.noteExpiry();
    if (!this.takeover && this.host.paused(this.claimed.run.workflow, this.claimed.run.version))
      this.takeover = { kind: 'pause' };
    if (!this.takeover) return false;
    if (this.workflowGoesOn()) {
      this.enterTakeover();
      void this.idle().then(() => runTakeover(this.takeoverPort(), this.takeover!));
    }
    return true;
  }

  private takeoverPort(): TakeoverPort {
    return {
      runId: this.runId,
      expiresAt: this.expiresAt,
      onExpire: this.definition.onExpire ?? 'fail',
      record: (event) => this.buffer.push(event),
      end: (update) => this.end(update),
      park: (reason, message, details) => this.park(reason, message, details),
      compensate: (error, commitFirst) => this.beginCompensation(error, commitFirst),
      pause: async () => {
        // Its version was quarantined: commit what is recorded, then hand the run back; no worker claims it until
        // activated.
        if (this.buffer.length === 0 || (await this.flush(undefined, true))) this.release('abandoned');
        this.halt();
      },
    };
  }

  /** Commits the final update (with what was recorded): the run is over. */
  private async end(update: RunUpdate): Promise<void> {
    this.halt();
    if (await this.flush(update, true)) this.release('finished');
  }

  /** Commits the move to `compensating` (with whatever was recorded) and unwinds the saga in this executor. */
  private async beginCompensation(error: ErrorInfo | undefined, commitFirst = true): Promise<void> {
    this.enterTakeover();
    this.waits.clear();
    if (commitFirst) {
      const update: RunUpdate = { status: 'compensating', waitingFor: null, clearPendingAction: true };
      if (error) update.error = error;
      if (!(await this.flush(update, true))) return;
    }
    const progress = compensationStates(this.history);
    await runCompensations({
      runId: this.runId,
      workerId: this.host.workerId,
      signal: this.abort.signal,
      completed: [...this.replay.replayedSteps, ...this.completed],
      progress,
      record: (event) => this.buffer.push(event),
      commit: (update) => this.flush(update, true),
      done: (how, dueAt) => {
        this.halt();
        this.release(how, dueAt);
      },
    });
  }

  /** Parks the run in needs_attention for an operator, with the facts of why. */
  private async park(reason: AttentionReason, message: string, details: { [key: string]: Json }): Promise<never> {
    this.halt();
    this.buffer.push({ type: 'run_parked', data: { ...details, reason } });
    const attention = attentionFor(reason, message, details);
    if (await this.flush({ status: 'needs_attention', attention, waitingFor: null }, true)) this.release('parked');
    return never();
  }

  /** Parks the run in needs_attention with the divergence; nothing else of this execution is committed. */
  private diverge(divergence: Divergence): void {
    if (this.phase === 'stopped') return;
    const message = `run '${this.runId}' diverged from its history: ${describeDivergence(divergence)}`;
    const error = new WaymarkError('E_NONDETERMINISM', message, { details: divergence as unknown as Json });
    this.halt();
    this.abort.abort(error);
    this.buffer = [{ type: 'run_parked', data: { reason: 'nondeterminism', divergence } }];
    this.consumed = [];
    this.newTasks = [];
    this.consumedTasks = [];
    const attention: ErrorInfo = {
      ...toErrorInfo(error),
      details: { reason: 'nondeterminism', ...(divergence as unknown as Record<string, Json>) },
    };
    delete attention.stack;
    void this.flush({ status: 'needs_attention', attention, waitingFor: null }, true).then((ok) => {
      if (ok) this.release('parked');
    });
  }

  /**
   * Resolves once no step executes and every result has reached the code (a workflow may return while an un-awaited
   * step still runs).
   */
  private async idle(): Promise<void> {
    while (this.inflight > 0 || !this.replay.quiet) {
      await (this.inflight > 0
        ? new Promise<void>((resolve) => this.idleWaiters.push(resolve))
        : this.replay.whenQuiet());
    }
  }

  /**
   * Commits buffered events (and a run update) and waits for the commit. A rejected commit means
   * another worker owns the run now: this execution stops at once. An operator action reported by the
   * store is taken over at the workflow's next operation.
   */
  private async flush(update?: RunUpdate, final = false): Promise<boolean> {
    if (this.phase === 'stopped' && !final) await never();
    const commit: RunCommit = {
      runId: this.runId,
      workerId: this.host.workerId,
      fromPos: this.nextPos,
      events: this.buffer,
    };
    if (!update && this.shownWaiting && this.phase !== 'held' && !this.holdSpent)
      update = { status: 'running', waitingFor: null };
    if (update && update.status !== 'waiting') this.shownWaiting = false;
    if (update) commit.update = update;
    if (this.consumed.length) commit.consumedSignals = this.consumed;
    if (this.newTasks.length) commit.newTasks = this.newTasks;
    if (this.consumedTasks.length) commit.consumedTasks = this.consumedTasks;
    this.nextPos += this.buffer.length;
    this.buffer = [];
    this.consumed = [];
    this.newTasks = [];
    this.consumedTasks = [];
    let outcome: CommitOutcome | undefined;
    try {
      outcome = await this.host.commit(commit);
    } catch (error) {
      this.host.warn('commit failed; the run resumes from its last checkpoint', {
        runId: this.runId,
        error: String(error),
      });
    }
    if (outcome?.ok) {
      if (outcome.pendingAction && !this.takeover && !update?.clearPendingAction)
        this.takeover = { kind: 'action', action: outcome.pendingAction };
      return true;
    }
    this.halt();
    this.abort.abort(new WaymarkError('E_LEASE_LOST', 'this execution of the run was abandoned'));
    this.release(abandonedExecution(this.host, this.runId, outcome));
    if (!final) await never();
    return false;
  }
}
