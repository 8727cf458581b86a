import { resolveRetryPolicy, retryDelayMs, type ResolvedRetryPolicy } from '../core/backoff.js';
import { parseDuration } from '../core/duration.js';
import { WaymarkError, toErrorInfo } from '../core/errors.js';
import { roundTrip } from '../core/json.js';
import type { NewTask, Task } from '../core/tasks.js';
import { checkOperation, compensationStates, completionPos, describeDivergence, indexHistory, missingOperation } from '../core/replay.js';
import { patchDecision, patchMarkers, recordedValue, sleepState, stepState, type Divergence, type RecordedOperation } from '../core/replay.js';
import { currentEpoch, type AttentionReason, type ErrorInfo, type HistoryEvent, type Json, type NewEvent, type OperationKind } from '../core/types.js';
import type { ClaimedRun, CommitOutcome, PendingSignal, RunCommit, RunUpdate } from '../store/types.js';
import { checkedOutput, runAttempt, stepFailedError } from './attempt.js';
import type { ExecutorHost } from './host.js';
import { signalOperation } from './signal-op.js';
import { taskOperation, type TaskOpPort } from './task-op.js';
import { runCompensations, type CompletedStep } from './saga.js';
import { runTakeover, type Takeover, type TakeoverPort } from './takeover.js';
import { attentionFor, never, suspensionOf, type PendingWait } from './waits.js';
import { checkOperationName, checkStepOptions, isIdempotent, resolveStepOptions, type StepInfo, type StepOptions, type WorkflowContext, type WorkflowDefinition } from './workflow.js';

/**
 * Executes one run in memory while hot: replays its history, runs new steps, checkpoints each outcome
 * before the workflow goes on, suspends (releasing memory and lease) when it must wait, and at its
 * frontier hands over to the saga, an operator's action or the run's expiry when one applies.
 */
export class RunExecutor {
  readonly runId: string;
  private readonly recorded: Map<number, RecordedOperation>;
  private readonly visited = new Set<number>();
  private readonly signals: PendingSignal[];
  private readonly waits = new Set<PendingWait>();
  private readonly abort = new AbortController();
  private readonly completed: CompletedStep[] = [];
  private readonly expiresAt: number | undefined;
  private readonly markers: Set<string>;
  /** The events of the run's current epoch: what replay reads. */
  private readonly history: HistoryEvent[];
  private readonly maxRecordedSeq: number;
  private buffer: NewEvent[] = [];
  private consumed: number[] = [];
  private newTasks: NewTask[] = []; // tasks scheduled and task reports recorded by the buffered events
  private consumedTasks: string[] = [];
  private readonly taskOutcomes: Map<string, Task>;
  private nextPos: number;
  private nextSeq = 0;
  private inflight = 0;
  private idleCheckScheduled = false;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  private takeover: Takeover | undefined;
  private tookOver = false;

  constructor(
    private readonly claimed: ClaimedRun,
    private readonly definition: WorkflowDefinition,
    private readonly host: ExecutorHost,
  ) {
    this.runId = claimed.run.id;
    this.history = currentEpoch(claimed.history, claimed.run.epoch);
    this.recorded = indexHistory(this.history);
    this.maxRecordedSeq = Math.max(-1, ...this.recorded.keys());
    this.nextPos = claimed.history.length;
    this.signals = [...claimed.signals];
    this.taskOutcomes = new Map((claimed.taskOutcomes ?? []).map((t) => [t.taskId, t]));
    this.markers = patchMarkers(this.history);
    const types = new Set(this.history.map((e) => e.type));
    if (types.has('compensation_started') && !types.has('run_compensated')) this.takeover = { kind: 'compensate' };
    else if (claimed.pendingAction) this.takeover = { kind: 'action', action: claimed.pendingAction };
    if (!types.has('run_expired')) this.expiresAt = claimed.run.expiresAt?.getTime();
  }

  /** Starts the workflow function; completion, failure, suspension and parking are committed by the executor. */
  start(): void {
    this.checkExpiry();
    const ctx = this.context();
    Promise.resolve()
      .then(() => this.definition.run(ctx, this.claimed.run.input))
      .then(
        (output) => this.finish(output),
        (error) => this.fail(error),
      )
      .catch((error) => this.host.warn('run execution failed unexpectedly', { runId: this.runId, error: String(error) }));
  }

  /** Hands a signal sent while the run is hot to a matching wait; returns false when the run is not waiting for it. */
  offerSignal(signal: PendingSignal): boolean {
    if (this.stopped) return false;
    for (const wait of this.waits) {
      if (wait.kind === 'signal' && wait.name === signal.name && wait.deliver) {
        wait.deliver(signal);
        return true;
      }
    }
    if (!this.signals.some((s) => s.id === signal.id)) this.signals.push(signal);
    return false;
  }

  /** Stops executing (engine closing): nothing more is committed for this run by this executor. */
  stop(): void {
    this.stopped = true;
    this.abort.abort(new WaymarkError('E_ENGINE_CLOSED', 'engine closed'));
  }

  private context(): WorkflowContext {
    const run = this.claimed.run;
    return {
      runId: run.id,
      workflow: run.workflow,
      version: run.version,
      step: (name, fn, options) => this.step(name, fn, options),
      sleep: (duration) => this.sleep(duration),
      waitForSignal: (name, options) => this.waitForSignal(name, options) as Promise<any>,
      task: (type, input, options) => (this.stopped ? never() : (taskOperation(this.taskPort(), checkOperationName(type, 'task'), roundTrip(input, 'task input') as Json, options) as Promise<any>)),
      patched: (id) => this.patched(id, true),
      deprecatePatch: (id) => void this.patched(id, false),
      now: () => this.value('now', () => Date.now()) as number,
      random: () => this.value('random', () => Math.random()) as number,
      uuid: () => this.value('uuid', () => crypto.randomUUID()) as string,
    };
  }

  /** Assigns the next seq and checks it against the history; throws E_NONDETERMINISM on divergence. */
  private enter(kind: OperationKind, name: string): { seq: number; recorded: RecordedOperation | undefined } {
    if (this.stopped) throw new WaymarkError('E_ENGINE_CLOSED', 'this execution of the run has stopped');
    const seq = this.nextSeq++;
    const recorded = this.recorded.get(seq);
    const divergence = checkOperation(recorded, seq, kind, name);
    if (divergence) this.diverge(divergence);
    this.visited.add(seq);
    return { seq, recorded };
  }

  private async step<T>(name: string, fn: (info: StepInfo) => Promise<T> | T, inline?: StepOptions<T>): Promise<T> {
    if (this.stopped) return never();
    checkOperationName(name, 'step');
    const { seq, recorded } = this.enter('step', name);
    const options = resolveStepOptions(this.definition, name, inline);
    checkStepOptions(options, `step '${name}'`);
    const state = stepState(recorded);
    if (state.state === 'completed') {
      this.completed.push({ seq, name, output: state.output, options, order: completionPos(recorded!) });
      return state.output as T;
    }
    if (this.atFrontier()) return never();
    const policy = resolveRetryPolicy(options.retry, `step '${name}'`);
    if (state.state === 'failed') {
      if ((options.onFailure ?? 'fail') === 'fail') throw stepFailedError(name, seq, state.attempts, state.error);
      return this.failStep(seq, name, options, state.attempts, state.error);
    }
    if (state.state === 'unknown' && !isIdempotent(options)) {
      const details = { reason: 'unknown_outcome', step: name, seq, attempt: state.attempt, workerId: state.workerId ?? null, startedAt: state.startedAt };
      const message = `step '${name}' (attempt ${state.attempt}) started on ${state.workerId ?? 'a worker'} and never recorded an outcome; it is not idempotent, so it is not run again blindly`;
      return this.park('unknown_outcome', message, details);
    }
    if (state.state === 'retrying' && Date.now() < state.retryAt) return this.waitFor({ kind: 'retry', seq, name, until: state.retryAt });
    const attempt = state.state === 'new' ? 1 : state.attempt;
    this.inflight++;
    let outcome: { output: T } | { retryAt: number };
    try {
      outcome = await this.attempt(seq, name, fn, options, attempt, policy);
    } finally {
      this.inflight--;
      this.scheduleIdleCheck();
    }
    if ('output' in outcome) return outcome.output;
    return this.waitFor({ kind: 'retry', seq, name, until: outcome.retryAt });
  }

  /** Runs one attempt and checkpoints its outcome: the output, a scheduled retry, or the final failure. */
  private async attempt<T>(
    seq: number,
    name: string,
    fn: (info: StepInfo) => Promise<T> | T,
    options: StepOptions<T>,
    attempt: number,
    policy: ResolvedRetryPolicy,
  ): Promise<{ output: T } | { retryAt: number }> {
    const workerId = this.host.workerId;
    const effect = options.effect ?? 'none';
    if (!isIdempotent(options)) {
      // Recorded before the effect: a crash from here on leaves an outcome that is known to be unknown.
      this.buffer.push({ type: 'step_started', seq, name, data: { attempt, workerId, effect } });
      await this.flush();
    }
    const timeoutMs = options.timeoutMs === undefined ? undefined : parseDuration(options.timeoutMs, `step '${name}' timeoutMs`);
    const key = `${this.runId}:${seq}:${name}`;
    const result = await runAttempt((signal) => fn({ idempotencyKey: key, attempt, signal, runId: this.runId, step: name }), {
      timeoutMs,
      what: `step '${name}'`,
      parent: this.abort.signal,
      check: (raw) => checkedOutput(raw, name, options),
    });
    if (this.stopped) return never();
    const audit = { attempt, workerId, effect, startedAt: result.startedAt, durationMs: result.durationMs };
    if (result.ok) {
      const data: { [key: string]: Json } = { ...audit };
      if (result.value !== undefined) data.output = result.value as Json;
      this.completed.push({ seq, name, output: result.value as Json, options, order: this.nextPos + this.buffer.length });
      this.buffer.push({ type: 'step_completed', seq, name, data });
      await this.flush();
      return { output: result.value };
    }
    const error = result.error as unknown as Json;
    if (result.retryable && attempt < policy.maxAttempts) {
      const retryAt = Date.now() + retryDelayMs(policy, attempt, Math.random());
      this.buffer.push({ type: 'step_failed', seq, name, data: { ...audit, error, retryAt } });
      await this.flush();
      return { retryAt };
    }
    this.buffer.push({ type: 'step_failed', seq, name, data: { ...audit, error } });
    if ((options.onFailure ?? 'fail') === 'fail') {
      await this.flush();
      throw stepFailedError(name, seq, attempt, result.error);
    }
    return this.failStep(seq, name, options, attempt, result.error);
  }

  /** A step failed for good under 'compensate' or 'escalate': unwind the saga or park for an operator. */
  private async failStep(seq: number, name: string, options: StepOptions, attempts: number, error: ErrorInfo): Promise<never> {
    const facts = { step: name, seq, attempts, error: error as unknown as Json };
    if (options.onFailure === 'compensate') {
      this.buffer.push({ type: 'compensation_started', data: { reason: 'step_failed', ...facts } });
      const failure = toErrorInfo(stepFailedError(name, seq, attempts, error));
      delete failure.stack;
      await this.beginCompensation(failure);
      return never();
    }
    return this.park('step_failed', `step '${name}' failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${error.message}`, { reason: 'step_failed', ...facts });
  }

  private async sleep(duration: unknown): Promise<void> {
    if (this.stopped) return never();
    const ms = parseDuration(duration as number | string, 'sleep duration');
    const { seq, recorded } = this.enter('sleep', '');
    const state = sleepState(recorded);
    if (state?.fired) return;
    if (this.atFrontier()) return never();
    const until = state?.until ?? Date.now() + ms;
    if (!state) this.buffer.push({ type: 'timer_set', seq, data: { until } });
    if (Date.now() >= until) {
      this.buffer.push({ type: 'timer_fired', seq });
      return;
    }
    return this.waitFor({ kind: 'sleep', seq, until });
  }

  private waitForSignal(name: string, options?: { timeoutMs?: number | string }): Promise<Json | null> {
    if (this.stopped) return never();
    return signalOperation(
      {
        enter: (kind, op) => this.enter(kind, op),
        atFrontier: () => this.atFrontier(),
        record: (event) => this.buffer.push(event),
        take: (wanted) => {
          const index = this.signals.findIndex((s) => s.name === wanted);
          return index >= 0 ? this.signals.splice(index, 1)[0] : undefined;
        },
        consume: (id) => this.consumed.push(id),
        hold: (wait) => this.waits.add(wait) && this.scheduleIdleCheck(),
        remove: (wait) => this.waits.delete(wait),
      },
      checkOperationName(name, 'signal'),
      options,
    );
  }

  /** Decides a patch gate (see patchDecision); `gate` false for deprecatePatch, which only records. */
  private patched(id: string, gate: boolean): boolean {
    checkOperationName(id, 'patch');
    const replaying = this.nextSeq <= this.maxRecordedSeq;
    const decision = patchDecision(this.markers, id, replaying);
    if (decision === 'record') {
      this.markers.add(id);
      this.buffer.push({ type: 'patch_marker', data: { id, deprecated: !gate } });
      return true;
    }
    return decision === 'patched' || !gate;
  }

  private value(kind: 'now' | 'random' | 'uuid', make: () => Json): Json {
    const { seq, recorded } = this.enter(kind, '');
    if (recorded) return recordedValue(recorded) ?? null;
    if (this.atFrontier()) throw new WaymarkError('E_ENGINE_CLOSED', 'this execution of the run has been taken over');
    const value = make();
    this.buffer.push({ type: 'value_recorded', seq, data: { kind, value } });
    return value;
  }

  /** Registers a wait the run cannot pass in memory; the promise resolves only if the wait is met while hot. */
  private waitFor(wait: PendingWait): Promise<never> {
    this.waits.add(wait);
    this.scheduleIdleCheck();
    return never();
  }

  /** Once no step is executing and the workflow is blocked on waits, the run suspends. */
  private scheduleIdleCheck(): void {
    if (this.inflight === 0 && this.idleWaiters.length > 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    if (this.idleCheckScheduled || this.stopped) return;
    this.idleCheckScheduled = true;
    setImmediate(() => {
      this.idleCheckScheduled = false;
      if (this.stopped || this.tookOver || this.inflight > 0 || this.waits.size === 0) return;
      void this.suspend();
    });
  }

  private async suspend(): Promise<void> {
    const { dueAt, waitingFor } = suspensionOf([...this.waits], this.expiresAt);
    this.stopped = true;
    const ok = await this.flush({ status: 'waiting', waitingFor, dueAt: dueAt ?? null, releaseLease: true }, true);
    if (ok) this.host.released(this.runId, 'suspended', dueAt);
  }

  private async finish(output: unknown): Promise<void> {
    if (this.stopped || this.tookOver) return;
    await this.idle();
    if (this.stopped || this.tookOver) return;
    if (this.atFrontier()) return;
    const unvisited = [...this.recorded.values()].find((op) => !this.visited.has(op.seq));
    if (unvisited) return this.diverge(missingOperation(unvisited), false);
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
    if (this.stopped || this.tookOver) return;
    if (error instanceof WaymarkError && error.code === 'E_NONDETERMINISM') return; // already parked
    await this.idle();
    if (this.stopped || this.tookOver) return;
    if (this.atFrontier()) return;
    const info = toErrorInfo(error);
    this.buffer.push({ type: 'run_failed', data: { error: info as unknown as Json } });
    await this.end({ status: 'failed', error: info, waitingFor: null });
  }

  /** Records the run's expiry once its lifetime is over (the takeover then applies `onExpire`). */
  private checkExpiry(): void {
    if (this.expiresAt === undefined || this.takeover || Date.now() < this.expiresAt) return;
    this.takeover = { kind: 'expire' };
  }

  /**
   * True when the workflow must not go past this point: a saga, an operator's action or the run's expiry
   * takes over. The takeover starts once nothing else executes.
   */
  private atFrontier(): boolean {
    this.checkExpiry();
    if (!this.takeover && this.host.paused(this.claimed.run.workflow, this.claimed.run.version)) this.takeover = { kind: 'pause' };
    if (!this.takeover) return false;
    if (!this.tookOver) {
      this.tookOver = true;
      void this.idle().then(() => runTakeover(this.takeoverPort(), this.takeover!));
    }
    return true;
  }

  private taskPort(): TaskOpPort {
    const { workflow, version } = this.claimed.run;
    return {
      ...{ runId: this.runId, workflow, version },
      enter: (kind, name) => this.enter(kind, name),
      atFrontier: () => this.atFrontier(),
      record: (event) => this.buffer.push(event),
      schedule: (task) => this.newTasks.push(task),
      outcome: (taskId) => this.taskOutcomes.get(taskId),
      consume: (taskId) => this.consumedTasks.push(taskId) && this.taskOutcomes.delete(taskId),
      waitFor: (wait) => this.waitFor(wait),
    };
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
        // Its version was quarantined: commit what is recorded, then hand the run back; no worker claims it until activated.
        if (this.buffer.length === 0 || (await this.flush(undefined, true))) this.host.released(this.runId, 'abandoned');
        this.stopped = true;
      },
    };
  }

  /** Commits the final update (with what was recorded): the run is over. */
  private async end(update: RunUpdate): Promise<void> {
    this.stopped = true;
    if (await this.flush(update, true)) this.host.released(this.runId, 'finished');
  }

  /** Commits the move to `compensating` (with whatever was recorded) and unwinds the saga in this executor. */
  private async beginCompensation(error: ErrorInfo | undefined, commitFirst = true): Promise<void> {
    this.tookOver = true;
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
      completed: this.completed,
      progress,
      record: (event) => this.buffer.push(event),
      commit: (update) => this.flush(update, true),
      done: (how, dueAt) => {
        this.stopped = true;
        this.host.released(this.runId, how, dueAt);
      },
    });
  }

  /** Parks the run in needs_attention for an operator, with the facts of why. */
  private async park(reason: AttentionReason, message: string, details: { [key: string]: Json }): Promise<never> {
    this.tookOver = true;
    this.stopped = true;
    this.buffer.push({ type: 'run_parked', data: { ...details, reason } });
    const attention = attentionFor(reason, message, details);
    if (await this.flush({ status: 'needs_attention', attention, waitingFor: null }, true)) this.host.released(this.runId, 'parked');
    return never();
  }

  /** Parks the run in needs_attention with the divergence; nothing else of this execution is committed. */
  private diverge(divergence: Divergence, throwIt = true): never | void {
    const message = `run '${this.runId}' diverged from its history: ${describeDivergence(divergence)}`;
    const error = new WaymarkError('E_NONDETERMINISM', message, { details: divergence as unknown as Json });
    if (!this.stopped) {
      this.stopped = true;
      this.abort.abort(error);
      this.buffer = [{ type: 'run_parked', data: { reason: 'nondeterminism', divergence: divergence as unknown as Json } }];
      this.consumed = [];
      const attention: ErrorInfo = { ...toErrorInfo(error), details: { reason: 'nondeterminism', ...(divergence as unknown as Record<string, Json>) } };
      delete attention.stack;
      void this.flush({ status: 'needs_attention', attention, waitingFor: null }, true).then((ok) => {
        if (ok) this.host.released(this.runId, 'parked');
      });
    }
    if (throwIt) throw error;
  }

  /** Resolves once no step is executing (a workflow may return while an un-awaited step still runs). */
  private idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Commits buffered events (and a run update) and waits for the commit. A rejected commit means
   * another worker owns the run now: this execution stops at once. An operator action reported by the
   * store is taken over at the workflow's next operation.
   */
  private async flush(update?: RunUpdate, final = false): Promise<boolean> {
    if (this.stopped && !final) await never();
    const commit: RunCommit = { runId: this.runId, workerId: this.host.workerId, fromPos: this.nextPos, events: this.buffer };
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
      this.host.warn('commit failed; the run resumes from its last checkpoint', { runId: this.runId, error: String(error) });
    }
    if (outcome?.ok) {
      if (outcome.pendingAction && !this.takeover && !update?.clearPendingAction) this.takeover = { kind: 'action', action: outcome.pendingAction };
      return true;
    }
    this.stopped = true;
    this.abort.abort(new WaymarkError('E_LEASE_LOST', 'this execution of the run was abandoned'));
    if (outcome?.reason === 'lease_lost') {
      this.host.warn('run checkpoint refused: another worker owns the run now', { runId: this.runId });
      this.host.released(this.runId, 'lost');
    } else {
      if (outcome) this.host.warn('run checkpoint refused; the run resumes from its last checkpoint', { runId: this.runId, reason: outcome.reason });
      this.host.released(this.runId, 'abandoned');
    }
    if (!final) await never();
    return false;
  }
}
