import { hostname } from 'node:os';
import { WaymarkError } from '../core/errors.js';
import { roundTrip } from '../core/json.js';
import type { Task } from '../core/tasks.js';
import type { HistoryEvent, Json, Run } from '../core/types.js';
import type {
  ClaimedRun,
  CommitOutcome,
  CreateRunRequest,
  CreateRunResult,
  RunCommit,
  RunFilter,
  RunPage,
  RunPageQuery,
  Store,
} from '../store/types.js';
import { checkStranding, noticeLostWorkers } from './stranding.js';
import { AwaitedLeaseNotice } from './awaited-leases.js';
import { logParked, observeCommits, outcomeOf, timedCommit } from './commit-observer.js';
import { NO_TELEMETRY, type StartTrigger, type Telemetry } from './telemetry.js';
import { waitForTerminal } from './await-result.js';
import { Batcher } from './batcher.js';
import { ClaimLoop } from './claim-loop.js';
import { Definitions } from './definitions.js';
import { RunExecutor } from './executor.js';
import type { ExecutorHost } from './host.js';
import { faultPoint } from './faults.js';
import { Periodic } from './periodic.js';
import { removeExpiredRuns } from './retention.js';
import { beatIntervalMs, WorkerPresence } from './presence.js';
import type { WorkflowRegistry } from './registry.js';
import { parkRefused } from './refused-commits.js';
import { startRequest, startTrigger, traceStart } from './start-request.js';
import { TaskClient } from './task-client.js';
import { checkOperationName } from './workflow.js';

import type { KernelLoop, ResolvedOptions, RunChange, StartOptions, StartResult } from './kernel-options.js';

export {
  DEFAULTS,
  type EngineLogger,
  type KernelLoop,
  type KernelOptions,
  type ResolvedOptions,
  type RunChange,
  type StartOptions,
  type StartResult,
} from './kernel-options.js';

/**
 * The kernel: executes runs on this worker (claims, leases, group commits), starts and signals runs and
 * answers about them. It knows nothing above it: `Engine` composes it with the versions layer.
 */
export class Kernel {
  readonly workerId: string;
  /** Tasks for remote workers: poll, report, look up. */
  readonly tasks: TaskClient;
  /** Versions registered at run time (declarative ones) and task definitions. */
  readonly definitions: Definitions;
  private readonly executors = new Map<string, RunExecutor>();
  private readonly listeners = new Set<(change: RunChange) => void>();
  /** Checkpoints of all runs executing here, group-committed. */
  private readonly commits: Batcher<RunCommit, CommitOutcome>;
  /** Starts, group-committed like checkpoints. */
  private readonly starts: Batcher<CreateRunRequest, CreateRunResult>;
  /** Starts in flight that will execute here: they hold a slot before their run exists. */
  private startingHere = 0;
  private readonly loop: ClaimLoop | undefined;
  private readonly host: ExecutorHost;
  private readonly presence: WorkerPresence | undefined;
  /** Says at startup which stopped workers' leases this worker waits for. */
  private readonly awaited: AwaitedLeaseNotice | undefined;
  /**
   * A worker's other loops: learning versions, routes and declarative definitions; timing out tasks whose
   * worker went silent; evaluating unfinished rollouts (safe in many processes at once: transitions claim the rollout).
   */
  private readonly periodic: Periodic[] = [];
  private unsubscribeWake: (() => void) | undefined;
  private closed = false;
  private checkingHeld = false;
  private checkHeldAgain = false;

  /** `loops` are a worker's extra periodic jobs from the layers above (none run on a client). */
  constructor(
    private readonly store: Store,
    private readonly ownsStore: boolean,
    private readonly registry: WorkflowRegistry,
    private readonly options: ResolvedOptions,
    loops: KernelLoop[] = [],
    /** Where work is counted and traced. (Default: nowhere) */
    private readonly telemetry: Telemetry = NO_TELEMETRY,
  ) {
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}`;
    this.host = {
      workerId: this.workerId,
      commit: (commit) => this.commits.add(commit),
      released: (runId, how, dueAt) => {
        this.executors.delete(runId);
        // Handed back at the next claim pass, it replays from its last checkpoint (on any worker); its lease is no
        // longer renewed.
        if (how === 'abandoned') this.loop?.handBack(runId);
        if (dueAt !== undefined) this.loop?.wakeBy(dueAt);
        this.loop?.nudge();
      },
      paused: (workflow, version) => registry.statusOf(workflow, version) === 'quarantined',
      warn: (message, facts) => this.warn(message, facts),
      holdTasksMs: options.taskHoldMs ?? 2_000,
      telemetry,
    };
    this.tasks = new TaskClient(
      store,
      (task) => this.reported(task),
      () => this.assertOpen(),
      telemetry,
      (message, facts) => this.warn(message, facts),
    );
    this.definitions = new Definitions(store, registry, options.compile, (message, facts) => this.warn(message, facts));
    this.commits = new Batcher(async (batch) => {
      const outcomes = await timedCommit(
        store,
        batch,
        options.leaseMs,
        telemetry,
        (id) => this.executors.get(id)?.traceparent,
      );
      faultPoint('commit-unacknowledged');
      observeCommits(batch, outcomes, (id) => this.executors.get(id)?.run, telemetry, this.warn);
      this.announce(batch, outcomes);
      await this.parkRefused(batch, outcomes);
      return outcomes;
    });
    this.starts = new Batcher((batch) => store.createRuns(batch, options.leaseMs));
    if (options.worker !== false) {
      this.loop = new ClaimLoop(store, {
        workerId: this.workerId,
        served: () => registry.served(),
        leaseMs: options.leaseMs,
        pollIntervalMs: options.pollIntervalMs,
        freeSlots: () => this.freeSlots(),
        full: () => this.releaseHolds(),
        execute: (claimed) => {
          if (claimed.dueAt !== undefined) telemetry.claimed(Math.max(0, Date.now() - claimed.dueAt) / 1000);
          this.execute(claimed);
        },
        warn: (message, facts) => this.warn(message, facts),
      });
      this.presence = new WorkerPresence(store, {
        workerId: this.workerId,
        served: () => registry.served(),
        leaseMs: options.leaseMs,
        executing: () => [...this.executors.keys()],
        warn: (message, facts) => this.warn(message, facts),
      });
      const warn = (message: string, facts: Record<string, unknown>) => this.warn(message, facts);
      this.awaited = new AwaitedLeaseNotice(store, this.workerId, () => registry.served(), warn);
      const intervalMs = beatIntervalMs(options.leaseMs);
      this.periodic.push(
        new Periodic(() => Promise.all([registry.learn(store), this.definitions.sync()]), {
          what: 'learning versions, routes and declarative definitions',
          intervalMs,
          warn,
        }),
        new Periodic(() => store.tasks.timeOut(), {
          what: 'timing out tasks whose worker went silent',
          intervalMs,
          warn,
        }),
        new Periodic(() => noticeLostWorkers(store, warn), {
          what: 'noticing lost workers',
          intervalMs,
          warn,
        }),
      );
      const retention = options.retention;
      if (retention)
        this.periodic.push(
          new Periodic(() => removeExpiredRuns(store, retention), {
            what: 'deleting finished runs past their retention',
            intervalMs: retention.checkIntervalMs ?? 60_000,
            warn,
          }),
        );
      for (const loop of loops)
        this.periodic.push(new Periodic(loop.run, { what: loop.what, intervalMs: loop.intervalMs, warn }));
    }
  }

  /** Registers this engine's versions, learns the others, takes its own runs back and starts working. */
  async boot(): Promise<void> {
    const { store, registry, options } = this;
    try {
      const conflicts = await store.registerWorkflowVersions(registry.records(), { replace: options.devMode === true });
      if (conflicts.length > 0 && !options.devMode) {
        const list = conflicts.map((c) => `${c.workflow} v${c.version}`).join(', ');
        throw new WaymarkError(
          'E_VERSION_CONFLICT',
          `${list} ${conflicts.length === 1 ? 'is' : 'are'} already registered with different code: bump the version ` +
            `(or, while developing, open the engine with devMode: true, or give the waymark command --dev)`,
          {
            details: conflicts as unknown as Json,
          },
        );
      }
      await this.definitions.sync();
      await registry.learn(store);
      if (this.loop && this.presence) {
        await store.releaseLeases(this.workerId); // a restarted worker takes its own runs back at once
        await this.presence.start();
        this.awaited?.start();
        const loop = this.loop;
        this.unsubscribeWake = store.onWake(() => {
          loop.nudge();
          this.checkHeldTasks();
        });
        loop.start();
        for (const job of this.periodic) job.start();
      }
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** Starts a run, or returns the existing run when `options.id` is taken. Nothing is written on bad input. */
  async start(workflow: string, input?: unknown, options: StartOptions = {}): Promise<Run> {
    return (await this.startRun(workflow, input, options)).run;
  }

  /** As `start`, and says whether this call created the run (false: a run with that id existed; nothing started). */
  async startRun(workflow: string, input?: unknown, options: StartOptions = {}): Promise<StartResult> {
    this.assertOpen();
    await this.registry.refresh(this.store, workflow);
    const request = startRequest(this.registry, workflow, input, options);
    const trigger = startTrigger(options);
    const span = traceStart(this.telemetry, request);
    const here = this.loop !== undefined && this.registry.serves(workflow, request.version) && this.freeSlots() > 0;
    if (here) {
      request.leaseOwner = this.workerId;
      this.startingHere++;
    }
    let result: CreateRunResult;
    try {
      result = await this.starts.add(request);
    } catch (error) {
      span.end(String(error));
      throw error;
    } finally {
      if (here) this.startingHere--;
    }
    span.set({ 'run.created': result.created });
    span.end('refused' in result ? result.refused : 'lockHeldBy' in result ? 'the lock is held' : undefined);
    if ('refused' in result)
      throw new WaymarkError('E_INVALID_INPUT', `start of run '${request.id}' cannot be stored: ${result.refused}`, {
        details: { runId: request.id },
      });
    if ('lockHeldBy' in result) {
      const { key, runId } = result.lockHeldBy;
      throw new WaymarkError('E_LOCK_HELD', `target '${key}' is locked by run '${runId}'`, {
        details: { key, holder: runId },
      });
    }
    if (!result.created) {
      if (result.run.workflow !== workflow) {
        throw new WaymarkError(
          'E_INVALID_INPUT',
          `run id '${request.id}' is already used by a run of workflow '${result.run.workflow}'`,
          {
            details: { runId: request.id, workflow: result.run.workflow },
          },
        );
      }
      return { run: result.run, created: false };
    }
    this.telemetry.runStarted(result.run.workflow, result.run.version, trigger);
    if (result.claimed) this.execute(result.claimed);
    else this.loop?.nudge();
    return { run: result.run, created: true };
  }

  /** Sends a signal; it is kept until the run waits for it. */
  async signal(runId: string, name: string, payload?: unknown): Promise<void> {
    this.assertOpen();
    checkOperationName(name, 'signal');
    const json = roundTrip(payload, 'payload') as Json | undefined;
    const signal = await this.store.sendSignal(runId, name, json);
    if (!this.executors.get(runId)?.offerSignal(signal)) this.loop?.nudge();
  }

  /** Waits for the run to finish: its output, or the run's error (E_RUN_FAILED / E_RUN_CANCELLED). */
  async result<T = Json>(runId: string, options: { timeoutMs?: number } = {}): Promise<T> {
    const getRun = (id: string) => {
      this.assertOpen(); // a wait ends when the engine closes
      return this.getRun(id);
    };
    const run = await waitForTerminal(
      { getRun, subscribe: (l) => this.subscribe(l), warn: (m, f) => this.warn(m, f) },
      runId,
      options.timeoutMs,
    );
    if (run.status === 'completed') return run.output as T;
    if (run.status === 'cancelled') throw new WaymarkError('E_RUN_CANCELLED', `run '${runId}' was cancelled`);
    throw new WaymarkError('E_RUN_FAILED', `run '${runId}' failed: ${run.error?.message ?? 'unknown error'}`, {
      details: (run.error ?? null) as unknown as Json,
    });
  }

  async getRun(runId: string): Promise<Run> {
    const run = await this.store.getRun(runId);
    if (!run) throw new WaymarkError('E_RUN_NOT_FOUND', `run '${runId}' does not exist`);
    return run;
  }

  readonly listRuns = (filter: RunFilter = {}): Promise<Run[]> => this.store.listRuns(filter); // most recent first

  /**
   * A page of run summaries, most recent first: no inputs or outputs unless included, bounded in rows and bytes; `next`
   * continues it.
   */
  readonly pageRuns = (query: RunPageQuery = {}): Promise<RunPage> => this.store.pageRuns(query);

  /** The run's history, oldest event first. */
  async history(runId: string): Promise<HistoryEvent[]> {
    const events = await this.store.history(runId);
    if (events.length === 0) await this.getRun(runId);
    return events;
  }

  /**
   * Runs an operator's or a version change of a run's state, then looks for work at once (the change may have
   * made a run due). A run held hot here for its tasks suspends first.
   */
  async changeRun<T>(change: () => Promise<T>, runId?: string): Promise<T> {
    this.assertOpen();
    // a run held hot for its tasks suspends first
    if (runId !== undefined) await this.executors.get(runId)?.releaseHold();
    const result = await change();
    this.loop?.nudge();
    return result;
  }

  /** Calls `listener` after every change this engine commits; returns the unsubscribe function. */
  subscribe(listener: (change: RunChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Stops claiming, finishes in-flight commits and releases this worker's leases. When it is the last live
   * worker serving a version with in-flight runs, it says so (a warning naming them), or with
   * `refuseStranding` throws E_WOULD_STRAND and stays open.
   */
  async close(options: { refuseStranding?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    if (this.loop)
      await checkStranding(
        this.store,
        this.workerId,
        this.registry.served(),
        options.refuseStranding === true,
        (m, f) => this.warn(m, f),
      );
    this.closed = true;
    this.unsubscribeWake?.();
    await Promise.all([...this.periodic.map((job) => job.stop()), this.loop?.stop(), this.awaited?.stop()]);
    await this.starts.drain();
    for (const executor of this.executors.values()) executor.stop();
    await this.commits.drain();
    this.executors.clear();
    try {
      if (this.loop) await this.store.releaseLeases(this.workerId);
      await this.presence?.stop();
    } finally {
      if (this.ownsStore) await this.store.close();
    }
  }

  /** A worker's report reached this process: a run held hot for it takes it in memory, or a claim pass picks it up. */
  private reported(task: Task | undefined): void {
    if (task && this.executors.get(task.runId)?.offerTask(task)) return;
    this.loop?.nudge();
  }

  /** Every slot is busy: runs held hot for their tasks suspend, so other runs can be claimed. */
  private releaseHolds(): void {
    for (const executor of this.executors.values()) if (executor.heldTasks().length > 0) void executor.releaseHold();
  }

  /**
   * Reports that reached another process wake this one: runs held hot here look for theirs, in one store read
   * per wake-up (wake-ups that come while one is being read are answered by one more read after it).
   */
  private checkHeldTasks(): void {
    if (this.checkingHeld) {
      this.checkHeldAgain = true;
      return;
    }
    const held = [...this.executors.values()].flatMap((executor) => executor.heldTasks());
    if (held.length === 0) return;
    this.checkingHeld = true;
    this.store.tasks
      .finished(held)
      .then(
        (tasks) => {
          for (const task of tasks) this.executors.get(task.runId)?.offerTask(task);
        },
        () => {}, // a run whose hold ends suspends, and a claim picks its report up
      )
      .finally(() => {
        this.checkingHeld = false;
        if (this.checkHeldAgain) {
          this.checkHeldAgain = false;
          this.checkHeldTasks();
        }
      });
  }

  private freeSlots(): number {
    return this.options.concurrency - this.executors.size - this.startingHere;
  }

  private execute(claimed: ClaimedRun): void {
    if (this.closed || this.executors.has(claimed.run.id)) return;
    const definition = this.registry.get(claimed.run.workflow, claimed.run.version);
    if (!definition) {
      this.loop?.handBack(claimed.run.id);
      return;
    }
    const executor = new RunExecutor(claimed, definition, this.host);
    this.executors.set(claimed.run.id, executor);
    executor.start();
  }

  /**
   * A worker's checkpoint the store refused for a value it cannot keep: its run is parked with the facts (the batch's
   * others committed).
   */
  private async parkRefused(batch: RunCommit[], outcomes: CommitOutcome[]): Promise<void> {
    try {
      const { parked, failed } = await parkRefused(this.store, batch, outcomes, this.options.leaseMs);
      for (const commit of parked) {
        const run = this.executors.get(commit.runId)?.run;
        if (run) this.telemetry.runFinished(run.workflow, run.version, 'parked', secondsSince(run.createdAt));
      }
      this.announce(
        parked,
        parked.map(() => ({ ok: true })),
      );
      for (const runId of failed)
        this.warn('a refused checkpoint could not be parked; the run resumes from its last checkpoint', { runId });
    } catch (error) {
      this.warn('parking runs whose checkpoint was refused failed; they resume from their last checkpoint', {
        error: String(error),
      });
    }
  }

  private announce(batch: RunCommit[], outcomes: CommitOutcome[]): void {
    if (this.listeners.size === 0) return;
    batch.forEach((commit, i) => {
      if (!outcomes[i]!.ok) return;
      const change: RunChange = {
        runId: commit.runId,
        events: commit.events.map((e) => e.type),
        status: commit.update?.status,
      };
      for (const listener of this.listeners) listener(change);
    });
  }

  /** Writes a warning to the engine's logger. (Default: stderr) */
  readonly warn = (message: string, facts: Record<string, unknown>): void => {
    if (this.options.logger) this.options.logger.warn({ workerId: this.workerId, ...facts }, message);
    else process.stderr.write(`waymark: ${message} ${JSON.stringify(facts)}\n`);
  };

  /** Writes a notable event that needs no action to the engine's logger, if it has `info`. (Default: nowhere) */
  info(message: string, facts: Record<string, unknown>): void {
    this.options.logger?.info?.({ workerId: this.workerId, ...facts }, message);
  }

  /**
   * Counts (and logs) a change a layer above made to a run outside this kernel's commits: a restart or rerun
   * (`started`), or an operator's action that ended or parked it.
   */
  observeChange(run: Run, started?: StartTrigger): void {
    if (started) {
      this.telemetry.runStarted(run.workflow, run.version, started);
      return;
    }
    const outcome = outcomeOf({ status: run.status, attention: run.attention ?? null });
    if (outcome === undefined) return;
    this.telemetry.runFinished(run.workflow, run.version, outcome, secondsSince(run.createdAt));
    if (outcome === 'parked') logParked(run, { status: run.status, attention: run.attention ?? null }, this.warn);
  }

  /** Throws E_ENGINE_CLOSED once `close` has begun. */
  assertOpen(): void {
    if (this.closed) throw new WaymarkError('E_ENGINE_CLOSED', 'this engine is closed');
  }
}

const secondsSince = (date: Date) => (Date.now() - date.getTime()) / 1000;

export const stripUndefined = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

/** What layers beside the versions layer (declarative workflows) may use of a running engine. */
export type KernelApi = Pick<Kernel, 'workerId' | 'tasks' | 'definitions' | 'start' | 'getRun' | 'warn'>;
