import { WaymarkError } from './core/errors.js';
import { checkStorableText } from './core/json.js';
import { describeRun, type RunDescription } from './core/describe.js';
import type { LeaseView } from './core/leases.js';
import { leaseView } from './runtime/awaited-leases.js';
import { unservedWarnings, type Move } from './versions/unserved.js';
import type { OperatorAction, Run } from './core/types.js';
import { openStore } from './store/open.js';
import type { DeployReportRecord, PatchUsage, Route, WorkerRecord } from './store/types.js';
import { keepDeployReport, type DeployReportOrigin } from './versions/deploy-reports.js';
import { summariseVersions, type VersionSummary } from './versions/accounting.js';
import { loadRollouts, startRollout, type Rollout, type RolloutKind, type RolloutOptions } from './versions/rollout.js';
import { applyRolloutAction, evaluateRollout, type RolloutAction, type RolloutPort } from './versions/rollout-steps.js';
import { deployCheck, type DeployCheckOptions, type DeployCheckReport } from './versions/deploy-check.js';
import { deployPlan, type DeployPlan } from './versions/deploy-plan.js';
import { rerunFrom, restartRun, type RerunOptions, type RestartOptions } from './versions/restart.js';
import {
  migrateAll,
  rollbackMigration,
  setRoute,
  setVersionStatus,
  upgradeRun,
  type MigrateAllOptions,
  type MigrateAllReport,
  type UpgradeOptions,
  type UpgradeResult,
} from './versions/lifecycle.js';
import {
  applyOperatorAction,
  availableActions,
  type OperatorOptions,
  type OperatorResult,
  type SkipStepOptions,
} from './runtime/operator.js';
import {
  DEFAULTS,
  Kernel,
  stripUndefined,
  type KernelOptions,
  type ResolvedOptions,
  type RunChange,
  type StartOptions,
  type StartResult,
} from './runtime/kernel.js';
import type { Store } from './store/types.js';
import type { HistoryEvent, Json } from './core/types.js';
import type { RunFilter, RunPage, RunPageQuery } from './store/types.js';
import { WorkflowRegistry } from './runtime/registry.js';
import type { WorkflowDefinition } from './runtime/workflow.js';
import { describeTransition, rolloutTransition } from './versions/rollout-transitions.js';
import type { MetricsOptions, WaymarkMetrics } from './observability/metrics.js';
import { openTelemetry, type EngineTelemetry } from './observability/telemetry.js';
import type { TracingOption } from './observability/tracing-setup.js';
import type { Telemetry } from './runtime/telemetry.js';
import { checkRetention } from './runtime/retention.js';
import type { Schedules } from './schedules/schedules.js';
import type { ScheduleLoop } from './schedules/loop.js';
import { kernelSchedules } from './schedules/kernel-clock.js';
import { EventService } from './events/service.js';
import type { EventOptions } from './events/types.js';
import { kernelEventPort } from './events/kernel-port.js';

export type { StartOptions, StartResult, RunChange } from './runtime/kernel.js';

/** A run page query as the engine takes it: `stuckForMs` becomes the store's `updatedBefore` by the engine's clock. */
export interface RunListQuery extends RunPageQuery {
  /** Only in-flight runs with no change (updatedAt) for at least this many ms. (Default: all) */
  stuckForMs?: number;
}

/** A deploy check's options, and where to keep its report: `keep` stores it with its origin. (Default: not kept) */
export interface DeployReportOptions extends DeployCheckOptions {
  keep?: DeployReportOrigin;
}

/** How an engine runs: where its store is, the kernel's options and the versions layer's. */
export interface EngineOptions extends KernelOptions {
  /** Where runs are kept: 'sqlite:./waymark.db', 'sqlite::memory:', 'postgres://user@host:5432/db[?schema=name]'. */
  store: string;
  /** How often a worker engine evaluates unfinished rollouts, in ms; 0 turns it off. (Default: 15000) */
  rolloutCheckMs?: number;
  /**
   * Longest sleep of a worker engine's schedule clock, in ms (it wakes at the next slot, or sooner when a schedule
   * changes here): schedules other processes create are seen within it. 0 fires no schedules here. (Default: 5000)
   */
  scheduleCheckMs?: number;
  /** Prometheus metrics (see `engine.metrics`): the registry and the step label. (Default: a registry of its own) */
  metrics?: MetricsOptions;
  /**
   * OpenTelemetry traces: false, a tracer provider of the caller's, or (the default) the OTEL_* environment: spans
   * are exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set, and nothing is started when it is not.
   */
  tracing?: TracingOption;
  /**
   * Event queues: broker connections (`nats`, `amqp`) and whether this engine runs the stored event handlers.
   * (Default: none: only `conductor:` queues, and only handlers registered in code with `engine.events.on`)
   */
  events?: EventOptions;
}

/** The options after defaults, as the kernel and the versions layer read them. */
type EngineSettings = ResolvedOptions &
  Pick<EngineOptions, 'rolloutCheckMs' | 'scheduleCheckMs' | 'metrics' | 'tracing' | 'events'>;

/** Builds and boots an engine; set in Engine's static block (the constructor is private), used by both ways in. */
let bootEngine: (store: Store, ownsStore: boolean, options: EngineSettings) => Promise<Engine>;

/**
 * The durable execution engine: starts runs, executes them on this worker, answers questions about them, and carries
 * out operators' and deploys' changes.
 */
export class Engine {
  /** Identity of this worker in leases. */
  readonly workerId: string;
  /** Tasks for remote workers: poll, report, look up. */
  readonly tasks: Kernel['tasks'];
  /** Versions registered at run time (declarative ones) and task definitions. */
  readonly definitions: Kernel['definitions'];
  /** Schedules: durable rules that start runs at times (cron or interval), each slot firing once in all processes. */
  readonly schedules: Schedules;
  private readonly clock: ScheduleLoop | undefined;
  /** Event queues: `on(queueUri, handler)`, `publish`, and the Conductor event handlers kept in the store. */
  readonly events: EventService;

  private constructor(
    private readonly kernel: Kernel,
    private readonly store: Store,
    private readonly registry: WorkflowRegistry,
    private readonly observed: EngineTelemetry,
    options: EngineSettings,
  ) {
    this.workerId = kernel.workerId;
    this.tasks = kernel.tasks;
    this.definitions = kernel.definitions;
    const warn = (message: string, facts: Record<string, unknown>) => this.warn(message, facts);
    const wired = kernelSchedules(kernel, store, {
      worker: options.worker !== false,
      maxSleepMs: options.scheduleCheckMs,
      warn,
      cancel: async (runId, reason) => {
        await this.cancel(runId, { actor: 'schedule', reason });
      },
    });
    this.schedules = wired.schedules;
    this.clock = wired.clock;
    this.events = new EventService(store.events, kernelEventPort(kernel, warn), options.events);
  }

  static {
    bootEngine = async (store, ownsStore, options) => {
      const registry = new WorkflowRegistry(options.workflows ?? []);
      const every = options.rolloutCheckMs ?? 15_000;
      let engine: Engine | undefined;
      const loops =
        every > 0 ? [{ what: 'evaluating rollouts', intervalMs: every, run: () => engine!.evaluateRollouts() }] : [];
      const warn = (message: string, facts: Record<string, unknown>) => engine!.warn(message, facts);
      let observed: EngineTelemetry;
      try {
        observed = await openTelemetry(store, options, warn);
      } catch (error) {
        if (ownsStore) await store.close();
        throw error;
      }
      const kernel = new Kernel(store, ownsStore, registry, options, loops, observed.telemetry);
      engine = new Engine(kernel, store, registry, observed, options);
      for (const warning of store.schemaWarnings ?? []) engine.warn(warning.message, warning.details);
      try {
        await kernel.boot();
      } catch (error) {
        await observed.close();
        throw error;
      }
      engine.clock?.start();
      engine.events.start();
      return engine;
    };
  }

  /** Opens the store, registers the workflow versions, recovers this worker's own runs and starts working. */
  static async open(options: EngineOptions): Promise<Engine> {
    if (typeof options.store !== 'string')
      throw new WaymarkError(
        'E_INVALID_INPUT',
        `Engine option store must be a location string, got ${typeof options.store}`,
      );
    const resolved = resolveOptions(options);
    const store = await openStore(options.store, {
      synchronous: options.synchronous,
      schema: options.schema,
      poolSize: options.poolSize,
      create: options.create,
    });
    return bootEngine(store, true, resolved);
  }

  /** Starts a run, or returns the existing run when `options.id` is taken. Nothing is written on bad input. */
  start(workflow: string, input?: unknown, options?: StartOptions): Promise<Run> {
    return this.kernel.start(workflow, input, options);
  }

  /** As `start`, and says whether this call created the run (false: a run with that id existed; nothing started). */
  startRun(workflow: string, input?: unknown, options?: StartOptions): Promise<StartResult> {
    return this.kernel.startRun(workflow, input, options);
  }

  /** Sends a signal; it is kept until the run waits for it. */
  signal(runId: string, name: string, payload?: unknown): Promise<void> {
    return this.kernel.signal(runId, name, payload);
  }

  /** Waits for the run to finish: its output, or the run's error (E_RUN_FAILED / E_RUN_CANCELLED). */
  result<T = Json>(runId: string, options?: { timeoutMs?: number }): Promise<T> {
    return this.kernel.result<T>(runId, options);
  }

  /** The run; E_RUN_NOT_FOUND when there is none. */
  getRun(runId: string): Promise<Run> {
    return this.kernel.getRun(runId);
  }

  /** Runs matching the filter, most recent first. */
  listRuns(filter?: RunFilter): Promise<Run[]> {
    return this.kernel.listRuns(filter);
  }

  /**
   * A page of run summaries, most recent first: no inputs or outputs unless included; `next` continues it.
   * `stuckForMs`: only in-flight runs with no change for that long (by this engine's clock).
   */
  pageRuns(query: RunListQuery = {}): Promise<RunPage> {
    const { stuckForMs, ...rest } = query;
    if (stuckForMs === undefined) return this.kernel.pageRuns(rest);
    const updatedBefore = Math.min(rest.updatedBefore ?? Infinity, Date.now() - stuckForMs);
    return this.kernel.pageRuns({ ...rest, updatedBefore });
  }

  /** The run's history, oldest event first. */
  history(runId: string): Promise<HistoryEvent[]> {
    return this.kernel.history(runId);
  }

  /** Calls `listener` after every change this engine commits; returns the unsubscribe function. */
  subscribe(listener: (change: RunChange) => void): () => void {
    return this.kernel.subscribe(listener);
  }

  /**
   * Stops claiming, finishes in-flight commits and releases this worker's leases. When it is the last live
   * worker serving a version with in-flight runs, it says so (a warning naming them), or with
   * `refuseStranding` throws E_WOULD_STRAND and stays open.
   */
  async close(options?: { refuseStranding?: boolean }): Promise<void> {
    await this.clock?.stop();
    await this.events.close();
    try {
      await this.kernel.close(options);
    } catch (error) {
      this.clock?.start(); // still open (E_WOULD_STRAND): it keeps firing
      throw error;
    }
    await this.observed.close();
  }

  /**
   * This engine's Prometheus metrics (`waymark_*`): `text()` is the exposition a scrape reads, `registry` the
   * prom-client registry they are on (the one given in `EngineOptions.metrics`, or the engine's own).
   */
  get metrics(): WaymarkMetrics {
    return this.observed.metrics;
  }

  /** Internal: the port this engine's work is counted and traced through (the HTTP server traces requests with it). */
  get telemetry(): Telemetry {
    return this.observed.telemetry;
  }

  /**
   * Resolves when the engine can do its work: it is open, and its store answers with every migration this build
   * knows applied; otherwise throws (E_ENGINE_CLOSED, E_STORE) saying why. For readiness probes.
   */
  async ready(): Promise<void> {
    this.kernel.assertOpen();
    await this.store.checkReady();
  }

  /** Writes a warning to the engine's logger. (Default: stderr) */
  warn(message: string, facts: Record<string, unknown>): void {
    this.kernel.warn(message, facts);
  }

  /** Runs the parked step again (a new attempt, same idempotency key), or retries a failed compensation. */
  retryStep(runId: string, options?: OperatorOptions): Promise<OperatorResult> {
    return this.operate(runId, 'retry_step', options);
  }

  /** Records `options.output` as the parked step's result (or marks a failed compensation done by hand) and goes on. */
  skipStep(runId: string, options?: SkipStepOptions): Promise<OperatorResult> {
    return this.operate(runId, 'skip_step', options);
  }

  /** Aborts the run and unwinds its completed reversible steps in reverse order; it ends `compensated`. */
  compensate(runId: string, options?: OperatorOptions): Promise<OperatorResult> {
    return this.operate(runId, 'compensate', options);
  }

  /** Stops the run without unwinding anything; it ends `cancelled`. */
  cancel(runId: string, options?: OperatorOptions): Promise<OperatorResult> {
    return this.operate(runId, 'cancel', options);
  }

  /**
   * Pauses a running or waiting run: nothing new executes until `resume` (a run executing here stops at its next
   * operation).
   */
  pause(runId: string, options?: OperatorOptions): Promise<OperatorResult> {
    return this.operate(runId, 'pause', options);
  }

  /**
   * Lets a paused run go on (one queued for a lock queues again), or one parked on a divergence (after a fix
   * is deployed), on its expiry, or on a checkpoint the store could not keep.
   */
  resume(runId: string, options?: OperatorOptions): Promise<OperatorResult> {
    return this.operate(runId, 'resume', options);
  }

  /** A workflow's canary route, or null when it has none; E_UNKNOWN_WORKFLOW when no version of it is registered. */
  async route(workflow: string): Promise<Route | null> {
    const [versions, routes] = await Promise.all([this.store.listWorkflowVersions(), this.store.listRoutes()]);
    if (!versions.some((v) => v.workflow === workflow))
      throw new WaymarkError('E_UNKNOWN_WORKFLOW', `workflow '${workflow}' is not registered`, {
        details: { workflow },
      });
    return routes.find((r) => r.workflow === workflow) ?? null;
  }

  /** Stops routed starts to a version; its runs go on. Pinned starts need `force`. */
  async drain(workflow: string, version: number): Promise<void> {
    await setVersionStatus(this.store, this.registry, workflow, version, 'draining');
  }

  /** Retires a drained version; refused while any of its runs is not finished. */
  async retire(workflow: string, version: number): Promise<void> {
    await setVersionStatus(this.store, this.registry, workflow, version, 'retired');
  }

  /** Makes a version take routed starts again and its runs execute again (undoes a drain or a quarantine). */
  async activate(workflow: string, version: number): Promise<void> {
    await setVersionStatus(this.store, this.registry, workflow, version, 'active');
  }

  /**
   * Stops a version's runs for an operator's decision: no worker claims them, runs executing here stop
   * at their next step (elsewhere within a heartbeat), and it takes no starts. `activate` resumes them.
   */
  async quarantine(workflow: string, version: number): Promise<void> {
    await setVersionStatus(this.store, this.registry, workflow, version, 'quarantined');
  }

  /**
   * Splits unpinned starts: `percent` to the candidate version (a canary), the rest to the current one; null removes
   * the split.
   */
  async setRoute(
    workflow: string,
    route: { current: number; candidate: number; percent: number } | null,
  ): Promise<void> {
    await setRoute(this.store, this.registry, workflow, route);
  }

  /**
   * Starts a progressive, health-gated rollout to `options.to`: of routed starts (kind 'starts', the
   * default), or of the `from` version's in-flight runs, upgraded (verified) share by share (kind 'upgrade').
   */
  async startRollout(workflow: string, options: RolloutOptions & { kind?: RolloutKind }): Promise<Rollout> {
    this.kernel.assertOpen();
    const rollout = await startRollout(this.store, this.registry, workflow, options.kind ?? 'starts', options);
    this.transitioned(undefined, rollout);
    return rollout;
  }

  /** Every rollout, running or finished. */
  async rollouts(): Promise<Rollout[]> {
    return loadRollouts(this.store);
  }

  /**
   * Looks at each unfinished rollout once: rolls back an unhealthy candidate (moving its replay-compatible
   * in-flight runs back), promotes a healthy one on schedule. Worker engines do it every `rolloutCheckMs`.
   */
  async evaluateRollouts(only: { workflow?: string; kind?: RolloutKind } = {}): Promise<Rollout[]> {
    const results: Rollout[] = [];
    for (const rollout of await loadRollouts(this.store)) {
      if ((only.workflow ?? rollout.workflow) !== rollout.workflow || (only.kind ?? rollout.kind) !== rollout.kind)
        continue;
      const after = await evaluateRollout(this.rolloutPort(), rollout);
      this.transitioned(rollout, after);
      results.push(after);
    }
    return results;
  }

  /**
   * An operator's decision on a workflow's unfinished rollout: promote now, pause or resume promotions, or abort (roll
   * back).
   */
  async changeRollout(
    workflow: string,
    action: RolloutAction,
    options: { kind?: RolloutKind; reason?: string } = {},
  ): Promise<Rollout> {
    this.kernel.assertOpen();
    const before = await loadRollouts(this.store);
    const after = await applyRolloutAction(this.rolloutPort(), workflow, action, options);
    this.transitioned(
      before.find((r) => r.workflow === after.workflow && r.kind === after.kind),
      after,
    );
    return after;
  }

  /** Counts and logs a rollout's transition, if `before` -> `after` is one. */
  private transitioned(before: Rollout | undefined, after: Rollout): void {
    const kind = rolloutTransition(before, after);
    if (!kind) return;
    const { workflow, from, to, percent, status } = after;
    this.observed.metrics.rolloutTransition({ workflow, from, to, kind });
    this.kernel.info(describeTransition(kind, after), {
      event: 'rollout_transition',
      workflow,
      from,
      to,
      rollout: after.kind,
      transition: kind,
      percent,
      status,
    });
  }

  /** Stops a rollout now: routes back to the previous version and moves replay-compatible runs back. */
  async abortRollout(workflow: string, reason = 'aborted by an operator'): Promise<Rollout> {
    return this.changeRollout(workflow, 'abort', { reason });
  }

  private rolloutPort(): RolloutPort {
    return { store: this.store, registry: this.registry, workerId: this.workerId };
  }

  /** Moves an in-flight run to another version after verifying that version replays its history. */
  async upgrade(runId: string, options: UpgradeOptions): Promise<UpgradeResult> {
    return this.kernel.changeRun(() => upgradeRun(this.store, this.registry, runId, options), runId);
  }

  /**
   * The warning for moving `runs` runs onto `workflow` v`version` when no live worker serves it (they would be
   * stranded there); none when one does. `upgrade` and `migrateAll` include it in their results.
   */
  async unservedWarnings(workflow: string, version: number, runs: number, move: Move): Promise<string[]> {
    return unservedWarnings(this.store, workflow, version, runs, move);
  }

  /** Takes a migrated run back to its previous epoch and version, while it has completed no step since. */
  async rollbackMigration(runId: string, options?: { actor?: string; reason?: string }): Promise<Run> {
    return this.kernel.changeRun(() => rollbackMigration(this.store, runId, options), runId);
  }

  /** Migrates in-flight runs of the migration's source version, each on its own; safe to run again. */
  async migrateAll(options: MigrateAllOptions): Promise<MigrateAllReport> {
    return this.kernel.changeRun(() => migrateAll(this.store, this.registry, options));
  }

  /**
   * Runs a finished run again from the start with the same id, on the same or another version; the earlier attempt's
   * history is kept.
   */
  async restart(runId: string, options?: RestartOptions): Promise<Run> {
    const run = await this.kernel.changeRun(() => restartRun(this.store, this.registry, runId, options), runId);
    this.kernel.observeChange(run, 'restart');
    return run;
  }

  /**
   * Re-executes a finished run from a step or task (by name, task ref or `{ seq }`), keeping the checkpoints recorded
   * before it.
   */
  async rerunFrom(runId: string, step: string | { seq: number }, options?: RerunOptions): Promise<Run> {
    const run = await this.kernel.changeRun(() => rerunFrom(this.store, runId, step, options), runId);
    this.kernel.observeChange(run, 'rerun');
    return run;
  }

  /**
   * Before a deploy: replays every in-flight run (and a sample of completed ones) of each changed workflow
   * against its candidate code, executing nothing; per-run verdicts, a change classification, and `safe`.
   */
  async deployCheck(candidates: WorkflowDefinition[], options?: DeployReportOptions): Promise<DeployCheckReport> {
    const { keep, ...checked } = options ?? {};
    const report = await deployCheck(this.store, candidates, checked);
    if (keep) await keepDeployReport(this.store, 'check', report, keep, (m, f) => this.warn(m, f));
    return report;
  }

  /**
   * The deploy check as a runbook: patch gates for divergences, per-version upgrade/migrate/drain with ETA, rollout,
   * canary, rollback.
   */
  async deployPlan(candidates: WorkflowDefinition[], options?: DeployReportOptions): Promise<DeployPlan> {
    const { keep, ...checked } = options ?? {};
    const plan = await deployPlan(this.store, this.registry, candidates, checked);
    if (keep) await keepDeployReport(this.store, 'plan', plan, keep, (m, f) => this.warn(m, f));
    return plan;
  }

  /** The kept deploy checks and plans, newest first, without their full reports. (Default limit: 50) */
  deployReports(limit = 50): Promise<Omit<DeployReportRecord, 'report'>[]> {
    return this.store.deployReports.list(limit);
  }

  /** One kept deploy check or plan with its full report; E_NOT_FOUND when there is none of that id. */
  async deployReport(id: number): Promise<DeployReportRecord> {
    const found = Number.isSafeInteger(id) ? await this.store.deployReports.get(id) : undefined;
    if (!found) throw new WaymarkError('E_REPORT_NOT_FOUND', `there is no deploy report ${id}`, { details: { id } });
    return found;
  }

  /** Deletes a finished run with its history and tasks (retention); E_RUN_STATE while it is not finished. */
  async removeRun(runId: string): Promise<void> {
    const outcome = await this.store.removeRun(runId);
    if (outcome === 'missing') throw new WaymarkError('E_RUN_NOT_FOUND', `run '${runId}' does not exist`);
    if (outcome === 'in_flight')
      throw new WaymarkError('E_RUN_STATE', `cannot remove run '${runId}': it is not finished (cancel it first)`);
  }

  /** Where the run is, what it has changed, what is pending, and what an operator can do now. */
  async describe(runId: string): Promise<RunDescription> {
    const run = await this.getRun(runId);
    const [history, lease] = await Promise.all([this.store.history(runId), this.lease(run)]);
    return describeRun(run, history, availableActions(run, history), { lease, now: Date.now() });
  }

  /**
   * Who holds the run's lease until when, and whether that worker still heartbeats (else who takes the run over);
   * undefined when no worker holds one.
   */
  async lease(run: Run): Promise<LeaseView | undefined> {
    return leaseView(this.store, run, Date.now());
  }

  private async operate(runId: string, action: OperatorAction, options?: SkipStepOptions): Promise<OperatorResult> {
    const result = await this.kernel.changeRun(() => applyOperatorAction(this.store, runId, action, options), runId);
    if (result.applied) this.kernel.observeChange(result.run);
    return result;
  }

  /**
   * Every registered workflow version with exact run counts by status, the live workers serving it, and stranded runs.
   */
  async versions(): Promise<VersionSummary[]> {
    return summariseVersions(this.store);
  }

  /** Per patch id, how many in-flight runs still depend on its old branch (so nobody removes it too early). */
  async patches(): Promise<PatchUsage[]> {
    return this.store.patchUsage();
  }

  // live workers and the versions each serves
  readonly workers = (): Promise<WorkerRecord[]> => this.store.liveWorkers();
}

/**
 * Opens an engine on a store the caller opened, and closes after the engine. Internal (not in index.ts): for
 * tests whose store needs settings no location carries; users give `EngineOptions.store` a location.
 */
export function openEngineOnStore(store: Store, options: Omit<EngineOptions, 'store'>): Promise<Engine> {
  return bootEngine(store, false, resolveOptions(options));
}

/** The options after defaults, checked: E_INVALID_INPUT names the first bad one, before anything is opened. */
function resolveOptions(options: Omit<EngineOptions, 'store'>): EngineSettings {
  const { store: _location, ...rest } = options as EngineOptions;
  const resolved = { ...DEFAULTS, ...stripUndefined(rest) };
  for (const key of ['leaseMs', 'concurrency', 'pollIntervalMs'] as const) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 1) {
      throw new WaymarkError(
        'E_INVALID_INPUT',
        `Engine option ${key} must be a positive integer, got ${String(resolved[key])}`,
      );
    }
  }
  if (options.workerId !== undefined) checkStorableText(String(options.workerId), 'Engine option workerId');
  checkRetention(options.retention);
  return resolved;
}
