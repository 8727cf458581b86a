/**
 * Waymark's Prometheus metrics (`waymark_*`), labelled by workflow and version. Counters and histograms are
 * counted as the kernel works; gauges of what the store holds (runs in flight, versions, rollouts, task queues)
 * are read from it when scraped, so they are the same exact numbers `waymark versions` shows. No label is ever
 * per run; the step label can be switched off.
 */
import { Gauge, Registry } from 'prom-client';
import { FastCounter, FastHistogram, type CounterChild, type HistogramChild } from './counting.js';
import { WaymarkError } from '../core/errors.js';
import { isTerminal, RUN_STATUSES } from '../core/types.js';
import type { RunOutcome, StartTrigger, StepOutcome } from '../runtime/telemetry.js';
import type { TaskBacklog } from '../store/types.js';
import type { VersionSummary } from '../versions/accounting.js';
import type { Rollout } from '../versions/rollout.js';

/** How an engine's metrics are kept. */
export interface MetricsOptions {
  /**
   * The prom-client registry to register Waymark's metrics on (one engine per registry), e.g. prom-client's global
   * `register` beside the application's own metrics. (Default: a registry of the engine's own)
   */
  registry?: Registry;
  /** Label step metrics by step name; false drops the label (fewer series with many steps). (Default: true) */
  stepLabel?: boolean;
  /**
   * Most step names labelled per workflow version: the steps of names beyond them (a name made per item, say) are
   * counted under OTHER_STEPS, so the series stay bounded. (Default: 100)
   */
  maxStepNames?: number;
}

/** The step label of the steps past `maxStepNames` distinct names of one version. */
export const OTHER_STEPS = '(other steps)';

/** What the store holds, read once per scrape for the gauges. */
export interface StoreSnapshot {
  versions: VersionSummary[];
  rollouts: Rollout[];
  backlog: TaskBacklog[];
}

/** A rollout changed state: what the transitions counter counts. */
export interface RolloutTransition {
  workflow: string;
  from: number;
  to: number;
  /** started, promoted (a share step), completed, paused, resumed, rolled_back. */
  kind: string;
}

const RUN_BUCKETS = [0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400, 604_800];
const STEP_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const COMMIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
const WAIT_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

/** How long one store snapshot serves scrapes, in ms: the gauges of one scrape share it. */
const SNAPSHOT_MS = 1_000;

const IN_FLIGHT = RUN_STATUSES.filter((s) => !isTerminal(s));

/** A metric's labelled child, found again without hashing its labels (the hot path counts per step). */
class Children<C> {
  private readonly cache = new Map<string, C>();
  constructor(private readonly make: (values: string[]) => C) {}
  get(...values: string[]): C {
    const key = values.join('\u0000');
    let child = this.cache.get(key);
    if (!child) {
      child = this.make(values);
      this.cache.set(key, child);
    }
    return child;
  }
}

/** An engine's metrics on its registry; the kernel's counts arrive through the methods, gauges through `snapshot`. */
export class WaymarkMetrics {
  readonly registry: Registry;
  private readonly runsStarted: FastCounter;
  private readonly runsFinished: FastCounter;
  private readonly runDuration: FastHistogram;
  /** Both step metrics' children of one label set, found with one lookup (the hottest path: once per step). */
  private readonly steps: Children<{ duration: HistogramChild; attempts: CounterChild }>;
  private readonly scheduleToStart: FastHistogram;
  private readonly polls: FastCounter;
  private readonly commitDuration: HistogramChild;
  private readonly commitBatch: HistogramChild;
  private readonly claimLag: HistogramChild;
  private readonly transitions: FastCounter;
  private readonly stepLabel: boolean;
  private readonly maxStepNames: number;
  /** The step names labelled so far, per workflow version. */
  private readonly stepNames = new Map<string, Set<string>>();
  private cached: { at: number; value: Promise<StoreSnapshot | undefined> } | undefined;

  constructor(
    options: MetricsOptions,
    /** The store's dialect, the `store` label of commit metrics. */
    store: string,
    /** Reads what the gauges show from the store. */
    private readonly read: () => Promise<StoreSnapshot>,
  ) {
    const registry = options.registry ?? new Registry();
    if (registry.getSingleMetric('waymark_runs_started_total'))
      throw new WaymarkError(
        'E_INVALID_INPUT',
        'this metrics registry already holds the metrics of a Waymark engine: give each its own',
      );
    this.registry = registry;
    this.stepLabel = options.stepLabel !== false;
    this.maxStepNames = options.maxStepNames ?? 100;
    if (!Number.isInteger(this.maxStepNames) || this.maxStepNames < 0)
      throw new WaymarkError(
        'E_INVALID_INPUT',
        `Engine option metrics.maxStepNames must be an integer of 0 or more, got ${String(options.maxStepNames)}`,
      );
    const registers = [registry];
    const counter = (name: string, help: string, labelNames: string[]) =>
      new FastCounter(name, help, labelNames, registry);
    const histogram = (name: string, help: string, labelNames: string[], buckets: number[]) =>
      new FastHistogram(name, help, labelNames, buckets, registry);
    const version = ['workflow', 'version'];
    const step = this.stepLabel ? [...version, 'step', 'outcome'] : [...version, 'outcome'];
    this.runsStarted = counter('waymark_runs_started_total', 'Runs started', [...version, 'trigger']);
    this.runsFinished = counter(
      'waymark_runs_finished_total',
      'Runs that ended (completed, failed, cancelled, compensated) or were parked for an operator',
      [...version, 'outcome'],
    );
    this.runDuration = histogram(
      'waymark_run_duration_seconds',
      'From the creation of a run to its end or park',
      [...version, 'outcome'],
      RUN_BUCKETS,
    );
    const stepDuration = histogram('waymark_step_duration_seconds', 'One step attempt', step, STEP_BUCKETS);
    const stepAttempts = counter('waymark_step_attempts_total', 'Step attempts, by how they ended', step);
    this.steps = new Children((values) => ({
      duration: stepDuration.child(...values),
      attempts: stepAttempts.child(...values),
    }));
    this.scheduleToStart = histogram(
      'waymark_task_schedule_to_start_seconds',
      'From a task becoming pollable to a worker polling it',
      ['task_type'],
      WAIT_BUCKETS,
    );
    this.polls = counter('waymark_task_poll_total', 'Task polls: result tasks or empty', ['task_type', 'result']);
    this.commitDuration = histogram(
      'waymark_store_commit_duration_seconds',
      'One group commit of checkpoints',
      ['store'],
      COMMIT_BUCKETS,
    ).child(store);
    this.commitBatch = histogram(
      'waymark_store_commit_batch_size',
      'Checkpoints in one group commit',
      ['store'],
      BATCH_BUCKETS,
    ).child(store);
    this.claimLag = histogram(
      'waymark_claim_lag_seconds',
      'From a run becoming due to a worker claiming it',
      [],
      WAIT_BUCKETS,
    ).child();
    this.transitions = counter(
      'waymark_rollout_transitions_total',
      'Rollout transitions: started, promoted, completed, paused, resumed, rolled_back',
      ['workflow', 'from', 'to', 'kind'],
    );
    this.registerGauges(registers);
  }

  /** The Prometheus text exposition of every metric on the registry (the application's own included). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The content type of `text()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  runStarted(workflow: string, version: number, trigger: StartTrigger): void {
    this.runsStarted.child(workflow, String(version), trigger).inc();
  }

  runFinished(workflow: string, version: number, outcome: RunOutcome, seconds: number): void {
    const v = String(version);
    this.runsFinished.child(workflow, v, outcome).inc();
    this.runDuration.child(workflow, v, outcome).observe(seconds);
  }

  stepAttempt(workflow: string, version: number, step: string, outcome: StepOutcome, seconds: number): void {
    const v = String(version);
    const children = this.stepLabel
      ? this.steps.get(workflow, v, this.stepName(workflow, v, step), outcome)
      : this.steps.get(workflow, v, outcome);
    children.duration.observe(seconds);
    children.attempts.inc();
  }

  /** The step's label: its name, or OTHER_STEPS once the version has maxStepNames other names. */
  private stepName(workflow: string, version: string, step: string): string {
    const key = `${workflow}\u0000${version}`;
    let names = this.stepNames.get(key);
    if (!names) {
      names = new Set();
      this.stepNames.set(key, names);
    }
    if (names.has(step)) return step;
    if (names.size >= this.maxStepNames) return OTHER_STEPS;
    names.add(step);
    return step;
  }

  commitBatched(size: number, seconds: number): void {
    this.commitDuration.observe(seconds);
    this.commitBatch.observe(size);
  }

  claimed(lagSeconds: number): void {
    this.claimLag.observe(lagSeconds);
  }

  taskPolled(taskType: string, waitedSeconds: number[]): void {
    this.polls.child(taskType, waitedSeconds.length > 0 ? 'tasks' : 'empty').inc();
    if (waitedSeconds.length === 0) return;
    const histogram = this.scheduleToStart.child(taskType);
    for (const seconds of waitedSeconds) histogram.observe(seconds);
  }

  rolloutTransition(transition: RolloutTransition): void {
    const { workflow, from, to, kind } = transition;
    this.transitions.child(workflow, String(from), String(to), kind).inc();
  }

  /** What the store holds, read at most once per SNAPSHOT_MS; undefined while it does not answer. */
  private snapshot(): Promise<StoreSnapshot | undefined> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > SNAPSHOT_MS)
      this.cached = { at: now, value: this.read().catch(() => undefined) };
    return this.cached.value;
  }

  /** Gauges set from a store snapshot when scraped (no series while the store does not answer). */
  private registerGauges(registers: Registry[]): void {
    const version = ['workflow', 'version'];
    const gauge = (
      name: string,
      help: string,
      labelNames: string[],
      fill: (set: (labels: string[], value: number) => void, snapshot: StoreSnapshot) => void,
    ) => {
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          const snapshot = await read();
          this.reset();
          if (snapshot) fill((labels, value) => this.labels(...labels).set(value), snapshot);
        },
      });
    };
    const read = () => this.snapshot();
    new Gauge({
      name: 'waymark_store_up',
      help: 'Whether the store answered the reads of this scrape (1) or not (0)',
      registers,
      async collect() {
        this.set((await read()) ? 1 : 0);
      },
    });
    gauge('waymark_runs_in_flight', 'Runs not finished, by status (exact counts)', [...version, 'status'], (set, s) => {
      for (const v of s.versions)
        for (const status of IN_FLIGHT) set([v.workflow, String(v.version), status], v.runs[status] ?? 0);
    });
    gauge('waymark_version_info', 'Registered versions and their status (1)', [...version, 'status'], (set, s) => {
      for (const v of s.versions) set([v.workflow, String(v.version), v.status], 1);
    });
    gauge('waymark_runs_stranded', 'In-flight runs no live worker serves', version, (set, s) => {
      for (const v of s.versions) set([v.workflow, String(v.version)], v.stranded);
    });
    gauge('waymark_version_workers', 'Live workers serving the version', version, (set, s) => {
      for (const v of s.versions) set([v.workflow, String(v.version)], v.servedBy.length);
    });
    gauge('waymark_task_queue_depth', 'Tasks waiting for a worker to poll them', ['task_type'], (set, s) => {
      for (const b of s.backlog) set([b.taskType], b.depth);
    });
    gauge(
      'waymark_task_queue_oldest_seconds',
      'How long the oldest pollable task has waited',
      ['task_type'],
      (set, s) => {
        const now = Date.now();
        for (const b of s.backlog)
          set([b.taskType], b.oldestVisibleAt === null ? 0 : Math.max(0, now - b.oldestVisibleAt) / 1000);
      },
    );
    gauge(
      'waymark_rollout_percent',
      'Share of an unfinished rollout on its candidate (to), 0..100',
      ['workflow', 'from', 'to', 'rollout'],
      (set, s) => {
        for (const r of s.rollouts)
          if (r.status !== 'promoted' && r.status !== 'rolled_back')
            set([r.workflow, String(r.from), String(r.to), r.kind], r.percent);
      },
    );
  }
}
