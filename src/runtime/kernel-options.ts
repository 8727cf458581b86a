/** The kernel's options, what a start asks for and says, and the changes subscribers see. */
import type { Duration, HistoryEvent, Run, RunStartOptions, RunStatus } from '../core/types.js';
import type { SourceCompiler } from './definitions.js';
import type { RetentionOptions } from './retention.js';
import type { StartTrigger } from './telemetry.js';
import type { WorkflowDefinition } from './workflow.js';

/** How a kernel runs: its store, versions, identity, leases and loops. `Engine` adds the versions layer's options. */
export interface KernelOptions {
  /** Workflow versions this engine can start and execute. (Default: none) */
  workflows?: WorkflowDefinition[];
  /** Identity of this worker in leases. Reuse a dead process's id to recover its runs at once. (Default: host:pid) */
  workerId?: string;
  /** How long a claim on a run lasts without renewal, in ms. (Default: 30000) */
  leaseMs?: number;
  /** Runs executed at once by this engine. (Default: 100) */
  concurrency?: number;
  /** Longest pause between looks for due runs and expired leases, in ms. (Default: 1000) */
  pollIntervalMs?: number;
  /** Execute runs; false opens a client that only starts, signals and reads. (Default: true) */
  worker?: boolean;
  /** SQLite durability; 'normal' trades the last commits on power loss for speed. (Default: 'full') */
  synchronous?: 'full' | 'normal';
  /**
   * Development mode: re-registering a version with changed code replaces its fingerprint instead of failing.
   * (Default: false)
   */
  devMode?: boolean;
  /** PostgreSQL schema for Waymark's tables. (Default: the URL's `schema` parameter, else 'waymark') */
  schema?: string;
  /** PostgreSQL connections this engine opens. (Default: 10) */
  poolSize?: number;
  /**
   * Create the store (SQLite file, PostgreSQL schema) if it does not exist; false fails with E_STORE_NOT_FOUND and
   * creates nothing. (Default: true)
   */
  create?: boolean;
  /**
   * How long a run waiting only on remote tasks stays hot (lease and memory kept), so a report reaching this
   * process is handed to it in memory instead of a suspension and a replay, in ms; 0 suspends at once. (Default: 2000)
   */
  taskHoldMs?: number;
  /**
   * Compiles stored declarative sources, so this engine serves versions registered at run time anywhere.
   * (Default: none)
   */
  compile?: SourceCompiler;
  /**
   * Where log lines go: warnings (a run parked, a worker lost, a version stranded, a store outage beginning and
   * ending) and, when the logger has `info`, notable events that need no action (a rollout transition). A pino
   * logger fits. Each notable line's facts name it in `event`. (Default: warnings to stderr, no info)
   */
  logger?: EngineLogger;
  /**
   * Deletes finished runs (with their histories) `finishedRunsDays` after they finished, in a worker's periodic loop.
   * (Default: none: finished runs are kept forever)
   */
  retention?: RetentionOptions;
}

/** A logger in pino's shape: facts first, then the message. */
export interface EngineLogger {
  warn(facts: Record<string, unknown>, message: string): void;
  info?(facts: Record<string, unknown>, message: string): void;
}

export interface StartOptions {
  /** Run id; starting with an id that exists returns that run and starts nothing. (Default: a UUID) */
  id?: string;
  /** Pin the run to this version. (Default: the highest registered version) */
  version?: number;
  /** Longest this run may live before the workflow's `onExpire` applies. (Default: the workflow's maxLifetimeMs) */
  maxLifetimeMs?: Duration;
  /** Start a pinned version even though it is draining. (Default: false) */
  force?: boolean;
  /** With a canary route: starts with the same key always get the same version. (Default: a random draw per start) */
  routeKey?: string;
  /** The caller's id for the business transaction (an order number...); listRuns filters on it. (Default: none) */
  correlationId?: string;
  /** Priority (0-99), task domains and idempotency key kept with the run: they order and route its tasks. */
  startOptions?: RunStartOptions;
  /**
   * The run starting this one (a sub-workflow): routed starts take its side of a canary, candidate or current.
   * (Default: none)
   */
  parent?: { workflow: string; version: number };
  /**
   * The W3C traceparent of the caller's span: the run's executions are traced as its children, and its tasks carry it
   * to their workers. (Default: none; E_INVALID_INPUT when it is not a valid traceparent)
   */
  traceparent?: string;
  /** What started the run, as metrics count it. (Default: 'call', or 'sub_workflow' with `parent`) */
  trigger?: StartTrigger;
}

/** What `startRun` did: the run, and whether this call created it. */
export interface StartResult {
  run: Run;
  /** False when a run with the given id existed: it is returned as it is and nothing was started. */
  created: boolean;
}

/** A committed change to a run, as subscribers see it. */
export interface RunChange {
  runId: string;
  events: HistoryEvent['type'][];
  status: RunStatus | undefined;
}

export const DEFAULTS = { leaseMs: 30_000, concurrency: 100, pollIntervalMs: 1_000 };

/** Options after defaults. */
export type ResolvedOptions = Required<Pick<KernelOptions, 'leaseMs' | 'concurrency' | 'pollIntervalMs'>> &
  KernelOptions;

/**
 * A loop a layer above adds to a worker kernel (e.g. evaluating rollouts); it survives store errors like the kernel's
 * own.
 */
export interface KernelLoop {
  what: string;
  intervalMs: number;
  run: () => Promise<unknown>;
}
