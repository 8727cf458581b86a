import { resolveRetryPolicy, retryDelayMs } from '../core/backoff.js';
import { parseDuration } from '../core/duration.js';
import { NonRetryableError, WaymarkError, fromErrorInfo, toErrorInfo } from '../core/errors.js';
import { roundTrip } from '../core/json.js';
import {
  checkOperation,
  describeDivergence,
  indexHistory,
  missingOperation,
  recordedValue,
  signalState,
  sleepState,
  stepState,
  type Divergence,
  type RecordedOperation,
} from '../core/replay.js';
import type { ErrorInfo, Json, NewEvent, OperationKind, WaitInfo } from '../core/types.js';
import type { ClaimedRun, CommitOutcome, PendingSignal, RunCommit, RunUpdate } from '../store/types.js';
import type { StepInfo, StepOptions, WorkflowContext, WorkflowDefinition } from './workflow.js';
import { checkOperationName } from './workflow.js';

/** What an executor needs from the engine that hosts it. */
export interface ExecutorHost {
  readonly workerId: string;
  commit(commit: RunCommit): Promise<CommitOutcome>;
  /**
   * The executor no longer holds the run in memory: it finished, suspended, was parked, lost its lease to
   * another worker ('lost'), or gave up after a failed or refused commit while still holding the lease
   * ('abandoned': the host releases the lease so the run is replayed from its last checkpoint).
   */
  released(runId: string, how: 'finished' | 'suspended' | 'parked' | 'lost' | 'abandoned', dueAt?: number): void;
  warn(message: string, facts: Record<string, unknown>): void;
}

/** A wait the run cannot get past in memory: it suspends once nothing else is executing. */
interface PendingWait {
  kind: 'sleep' | 'signal' | 'retry';
  seq: number;
  name?: string;
  until?: number;
  /** Signal waits resolve in memory if the signal arrives while the run is hot. */
  deliver?: (signal: PendingSignal) => void;
}

/**
 * A promise that never settles, made fresh each time: a shared one would keep every suspended run's
 * continuation reachable (and so in memory) forever.
 */
const never = () => new Promise<never>(() => {});

/**
 * Executes one run in memory while hot: replays its history, runs new steps, checkpoints each outcome
 * before the workflow goes on, and suspends (releasing memory and lease) when it must wait.
 */
export class RunExecutor {
  readonly runId: string;
  private readonly recorded: Map<number, RecordedOperation>;
  private readonly visited = new Set<number>();
  private readonly signals: PendingSignal[];
  private readonly waits = new Set<PendingWait>();
  private readonly abort = new AbortController();
  private buffer: NewEvent[] = [];
  private consumed: number[] = [];
  private nextPos: number;
  private nextSeq = 0;
  private inflight = 0;
  private idleCheckScheduled = false;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly claimed: ClaimedRun,
    private readonly definition: WorkflowDefinition,
    private readonly host: ExecutorHost,
  ) {
    this.runId = claimed.run.id;
    this.recorded = indexHistory(claimed.history);
    this.nextPos = claimed.history.length;
    this.signals = [...claimed.signals];
  }

  /** Starts the workflow function; completion, failure, suspension and parking are committed by the executor. */
  start(): void {
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

  private async step<T>(name: string, fn: (info: StepInfo) => Promise<T> | T, options: StepOptions = {}): Promise<T> {
    if (this.stopped) return never();
    checkOperationName(name, 'step');
    const { seq, recorded } = this.enter('step', name);
    const state = stepState(recorded);
    if (state.state === 'completed') return state.output as T;
    if (state.state === 'failed') throw stepFailedError(name, seq, state.attempts, state.error);
    const merged = { ...this.definition.stepDefaults, ...options };
    const policy = resolveRetryPolicy(merged.retry, `step '${name}'`);
    const timeoutMs = merged.timeoutMs === undefined ? undefined : parseDuration(merged.timeoutMs, `step '${name}' timeoutMs`);
    if (state.state === 'retrying' && Date.now() < state.retryAt) {
      return this.waitFor({ kind: 'retry', seq, name, until: state.retryAt });
    }
    const attempt = state.state === 'retrying' ? state.attempt : 1;
    this.inflight++;
    let outcome: { output: T } | { retryAt: number };
    try {
      outcome = await this.attempt(seq, name, fn, attempt, policy, timeoutMs);
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
    attempt: number,
    policy: ReturnType<typeof resolveRetryPolicy>,
    timeoutMs: number | undefined,
  ): Promise<{ output: T } | { retryAt: number }> {
    const timeout = new AbortController();
    const signal = AbortSignal.any([this.abort.signal, timeout.signal]);
    const info: StepInfo = { idempotencyKey: `${this.runId}:${seq}:${name}`, attempt, signal, runId: this.runId, step: name };
    let output: T;
    try {
      const raw = await withTimeout(() => fn(info), timeoutMs, name, timeout);
      output = roundTrip(raw, `output of step '${name}'`);
    } catch (error) {
      if (this.stopped) return never();
      const errorInfo = toErrorInfo(error);
      const retryable = !(error instanceof NonRetryableError) && errorInfo.code !== 'E_NOT_SERIALIZABLE';
      if (retryable && attempt < policy.maxAttempts) {
        const retryAt = Date.now() + retryDelayMs(policy, attempt, Math.random());
        this.buffer.push({ type: 'step_failed', seq, name, data: { attempt, error: errorInfo as unknown as Json, retryAt } });
        await this.flush();
        return { retryAt };
      }
      this.buffer.push({ type: 'step_failed', seq, name, data: { attempt, error: errorInfo as unknown as Json } });
      await this.flush();
      throw stepFailedError(name, seq, attempt, errorInfo);
    }
    if (this.stopped) return never();
    this.buffer.push({ type: 'step_completed', seq, name, data: output === undefined ? { attempt } : { attempt, output: output as Json } });
    await this.flush();
    return { output };
  }

  private async sleep(duration: unknown): Promise<void> {
    if (this.stopped) return never();
    const ms = parseDuration(duration as number | string, 'sleep duration');
    const { seq, recorded } = this.enter('sleep', '');
    const state = sleepState(recorded);
    if (state?.fired) return;
    const until = state?.until ?? Date.now() + ms;
    if (!state) this.buffer.push({ type: 'timer_set', seq, data: { until } });
    if (Date.now() >= until) {
      this.buffer.push({ type: 'timer_fired', seq });
      return;
    }
    return this.waitFor({ kind: 'sleep', seq, until });
  }

  private async waitForSignal(name: string, options: { timeoutMs?: number | string } = {}): Promise<Json | null> {
    if (this.stopped) return never();
    checkOperationName(name, 'signal');
    const timeoutMs = options.timeoutMs === undefined ? undefined : parseDuration(options.timeoutMs, 'signal timeoutMs');
    const { seq, recorded } = this.enter('signal', name);
    const state = signalState(recorded);
    if (state?.state === 'received') return state.payload ?? null;
    if (state?.state === 'timed_out') return null;
    const until = state ? state.until : timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    if (!state) this.buffer.push({ type: 'signal_waiting', seq, name, data: until === undefined ? {} : { until } });
    const available = this.signals.findIndex((s) => s.name === name);
    if (available >= 0) return this.receive(seq, this.signals.splice(available, 1)[0]!);
    if (until !== undefined && Date.now() >= until) {
      this.buffer.push({ type: 'signal_timed_out', seq, name });
      return null;
    }
    return new Promise<Json | null>((resolve) => {
      const wait: PendingWait = {
        kind: 'signal',
        seq,
        name,
        until,
        deliver: (signal) => {
          this.waits.delete(wait);
          resolve(this.receive(seq, signal));
        },
      };
      this.waits.add(wait);
      this.scheduleIdleCheck();
    });
  }

  private receive(seq: number, signal: PendingSignal): Json | null {
    this.buffer.push({ type: 'signal_received', seq, name: signal.name, data: { payload: signal.payload ?? null, signalId: signal.id } });
    this.consumed.push(signal.id);
    return signal.payload ?? null;
  }

  private value(kind: 'now' | 'random' | 'uuid', make: () => Json): Json {
    const { seq, recorded } = this.enter(kind, '');
    if (recorded) return recordedValue(recorded) ?? null;
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
      if (this.stopped || this.inflight > 0 || this.waits.size === 0) return;
      void this.suspend();
    });
  }

  private async suspend(): Promise<void> {
    const waits = [...this.waits];
    const dues = waits.map((w) => w.until).filter((u): u is number => u !== undefined);
    const dueAt = dues.length ? Math.min(...dues) : undefined;
    const first = waits.find((w) => w.until === dueAt) ?? waits[0]!;
    const signals = [...new Set(waits.filter((w) => w.kind === 'signal').map((w) => w.name!))];
    const waitingFor: WaitInfo = { kind: first.kind, seq: first.seq };
    if (first.name !== undefined) waitingFor.name = first.name;
    if (dueAt !== undefined) waitingFor.until = dueAt;
    if (signals.length) waitingFor.signals = signals;
    this.stopped = true;
    const ok = await this.flush({ status: 'waiting', waitingFor, dueAt: dueAt ?? null, releaseLease: true }, true);
    if (ok) this.host.released(this.runId, 'suspended', dueAt);
  }

  private async finish(output: unknown): Promise<void> {
    if (this.stopped) return;
    await this.idle();
    if (this.stopped) return;
    const unvisited = [...this.recorded.values()].find((op) => !this.visited.has(op.seq));
    if (unvisited) return this.diverge(missingOperation(unvisited), false);
    let json: Json | undefined;
    try {
      json = roundTrip(output, 'workflow output') as Json | undefined;
    } catch (error) {
      return this.fail(error);
    }
    this.stopped = true;
    this.buffer.push({ type: 'run_completed', data: json === undefined ? {} : { output: json } });
    const update: RunUpdate = { status: 'completed', waitingFor: null };
    if (json !== undefined) update.output = json;
    if (await this.flush(update, true)) this.host.released(this.runId, 'finished');
  }

  private async fail(error: unknown): Promise<void> {
    if (this.stopped) return;
    if (error instanceof WaymarkError && error.code === 'E_NONDETERMINISM') return; // already parked
    await this.idle();
    if (this.stopped) return;
    this.stopped = true;
    const info = toErrorInfo(error);
    this.buffer.push({ type: 'run_failed', data: { error: info as unknown as Json } });
    if (await this.flush({ status: 'failed', error: info, waitingFor: null }, true)) this.host.released(this.runId, 'finished');
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
   * another worker owns the run now: this execution stops at once.
   */
  private async flush(update?: RunUpdate, final = false): Promise<boolean> {
    if (this.stopped && !final) {
      await never();
    }
    const commit: RunCommit = { runId: this.runId, workerId: this.host.workerId, fromPos: this.nextPos, events: this.buffer };
    if (update) commit.update = update;
    if (this.consumed.length) commit.consumedSignals = this.consumed;
    this.nextPos += this.buffer.length;
    this.buffer = [];
    this.consumed = [];
    let outcome: CommitOutcome | undefined;
    try {
      outcome = await this.host.commit(commit);
    } catch (error) {
      this.host.warn('commit failed; the run resumes from its last checkpoint', { runId: this.runId, error: String(error) });
    }
    if (outcome?.ok) return true;
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

function stepFailedError(name: string, seq: number, attempts: number, cause: ErrorInfo): WaymarkError {
  const plural = attempts === 1 ? 'attempt' : 'attempts';
  return new WaymarkError('E_STEP_FAILED', `step '${name}' failed after ${attempts} ${plural}: ${cause.message}`, {
    details: { step: name, seq, attempts, error: cause as unknown as Json },
    cause: fromErrorInfo(cause),
  });
}

async function withTimeout<T>(
  fn: () => Promise<T> | T,
  timeoutMs: number | undefined,
  name: string,
  controller: AbortController,
): Promise<T> {
  if (timeoutMs === undefined) return await fn();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new WaymarkError('E_STEP_TIMEOUT', `step '${name}' timed out after ${timeoutMs} ms`);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(fn), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
