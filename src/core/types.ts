/**
 * Waymark's vocabulary (see DESIGN.md). Defined once here, used everywhere.
 *
 * - workflow: a named, versioned definition (`name` + integer `version`).
 * - run: one execution of one workflow version, stamped with its version at start.
 * - history: the run's append-only event log; the source of truth for the run.
 * - step: a named unit of work whose outcome is checkpointed before the run moves on; `(run, seq)`.
 * - seq: deterministic counter of the ctx operations a run performs (steps, timers, signals, values).
 * - replay: re-running the workflow function over its history; recorded outcomes are returned.
 * - divergence: replay asked for a different operation (kind/name) than the history recorded at a seq.
 * - lease: a time-limited claim by one worker on a run, renewed while working.
 * - lock: a workflow-level exclusive claim on a target key (e.g. `cluster:prod-eu`), held by one run at a time.
 * - task: a step executed by a remote worker that polls for it; its attempts are leased like runs.
 * - route: the policy picking the version of an unpinned start (latest, or current + candidate for a canary).
 * - version status: active (takes starts), draining (no new routed starts), retired (done), quarantined
 *   (stopped for an operator's decision: no claims, no starts, executing runs stop at their next operation).
 * - stranded: a run whose version no live worker serves; visible, never silently moved.
 * - epoch: one attempt at a run's history; a migration, restart or rerun starts a new epoch and keeps the old.
 * - frontier: the point in a replay where the recorded history ends and new code takes over.
 * - delivery: a result handed to the workflow code; replay repeats the recorded delivery order exactly.
 * - unknown outcome: a step attempt that started and never recorded an outcome (its worker died in between).
 * - parked: a run in `needs_attention`, waiting for an operator, with the facts of why.
 * - takeover: at the frontier, something other than the workflow code decides what the run does next: the
 *   saga (compensation), an operator's pending action, the run's expiry, or its version's quarantine.
 * - held hot: a run waiting only on tasks kept in memory with its lease for a while, so a report is handed
 *   to it without a suspension and a replay.
 * - kernel: the runtime layer (execution, claims, leases, timers, signals, tasks, saga); `Engine` composes it
 *   with the versions layer.
 */

/** Where a run is in its life. */
export type RunStatus =
  | 'running'
  | 'waiting'
  | 'compensating'
  | 'needs_attention'
  | 'paused'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'compensated';

/** Statuses a run never leaves: it is over. */
export const TERMINAL_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'cancelled', 'compensated'];

export const RUN_STATUSES: readonly RunStatus[] = [
  'running',
  'waiting',
  'compensating',
  'needs_attention',
  'paused',
  'completed',
  'failed',
  'cancelled',
  'compensated',
];

export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Statuses in which a run holds no lease and no worker moves it on: over, parked for an operator, or paused by one. */
export function isAtRest(status: RunStatus): boolean {
  return isTerminal(status) || status === 'needs_attention' || status === 'paused';
}

/** What a step does to the world. */
export type StepEffect = 'none' | 'reversible' | 'irreversible';

/** What happens after a step's last attempt fails (or a run outlives its lifetime). */
export type FailurePolicy = 'fail' | 'compensate' | 'escalate';

/** Why a run was parked in needs_attention ('invalid_value': the store could not keep a value of its checkpoint). */
export type AttentionReason =
  | 'nondeterminism'
  | 'unknown_outcome'
  | 'step_failed'
  | 'compensation_failed'
  | 'expired'
  | 'invalid_value';

/** Operator actions, recorded in the history with who did them and why. */
export type OperatorAction = 'retry_step' | 'skip_step' | 'compensate' | 'cancel' | 'resume' | 'pause';

/** A JSON value as stored in the history. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** An error as recorded in the history and on a run. */
export type ErrorInfo = {
  message: string;
  name: string;
  code?: string;
  /** Extra structured facts (divergence details, the failed step...). */
  details?: Json;
  /** The first lines of the stack, for the audit trail. */
  stack?: string;
};

/** What a run is parked on while `waiting` (or what parked it in `needs_attention`). */
export interface WaitInfo {
  kind: 'sleep' | 'signal' | 'retry' | 'lock' | 'task';
  /** Step name for retries, signal name for signals, task type for tasks, lock key for locks, absent for sleeps. */
  name?: string;
  /** The ctx operation waiting (absent for a lock queue). */
  seq?: number;
  /** Epoch ms when the wait ends by itself (timer, retry, signal timeout). */
  until?: number;
  /** Every signal name the run waits for; a signal with one of them wakes it. */
  signals?: string[];
  /** Every task type the run waits for a worker's report on. */
  tasks?: string[];
}

/** A run as the public API shows it. */
export interface Run {
  id: string;
  workflow: string;
  version: number;
  status: RunStatus;
  input: Json;
  output: Json | undefined;
  error: ErrorInfo | undefined;
  /** What the run waits for (status `waiting`) or why it is parked (status `needs_attention`). */
  waitingFor: WaitInfo | undefined;
  attention: ErrorInfo | undefined;
  /** When the run's lifetime ends, if it has one. */
  expiresAt: Date | undefined;
  /** The target lock the run holds or queues for. */
  lockKey: string | undefined;
  /** The history epoch the run executes in (0 until a migration). */
  epoch: number;
  /** The caller's correlation id, given at start. */
  correlationId: string | undefined;
  /** How its tasks are handed out (priority, domains) and the idempotency key it was started with, if given. */
  startOptions?: RunStartOptions;
  createdAt: Date;
  updatedAt: Date;
}

/** Options a run keeps from its start: they order and route its tasks, and say how it was started. */
export interface RunStartOptions {
  /** 0-99: its tasks are handed out before those of lower priorities. (Default: 0) */
  priority?: number;
  /**
   * Task type -> domain its tasks go to (only pollers of that domain get them); `*` applies to every type.
   * A comma-separated list means its first domain; `NO_DOMAIN` means none.
   */
  taskToDomain?: Record<string, string>;
  idempotencyKey?: string;
  idempotencyStrategy?: string;
}

/** The kinds of ctx operation that occupy a seq; the determinism check compares them. */
export type OperationKind = 'step' | 'sleep' | 'signal' | 'task' | 'now' | 'random' | 'uuid';

/** History event types. */
export type EventType =
  | 'run_started'
  | 'step_started'
  | 'step_completed'
  | 'step_failed'
  | 'compensation_started'
  | 'compensation_completed'
  | 'compensation_failed'
  | 'run_compensated'
  | 'operator_action'
  | 'run_expired'
  | 'timer_set'
  | 'timer_fired'
  | 'signal_waiting'
  | 'signal_received'
  | 'signal_timed_out'
  | 'task_scheduled'
  | 'task_completed'
  | 'task_failed'
  | 'value_recorded'
  | 'patch_marker'
  | 'run_upgraded'
  | 'run_migrated'
  | 'migration_rolled_back'
  | 'run_completed'
  | 'run_failed'
  | 'run_cancelled'
  | 'run_parked';

/** The history's events: the data each type records, and the history's format (src/core/events.ts). */
export * from './events.js';

/** How a failed step attempt is retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included. (Default: 3) */
  maxAttempts?: number;
  /** Delay before the second attempt, in ms. (Default: 1000) */
  initialDelayMs?: number;
  /** How the delay grows between attempts. (Default: 'exponential') */
  backoff?: 'fixed' | 'linear' | 'exponential';
  /** Upper bound of one delay, in ms. (Default: 60000) */
  maxDelayMs?: number;
  /** Growth factor for exponential backoff. (Default: 2) */
  multiplier?: number;
  /** Fraction of the delay randomised either way, 0..1. (Default: 0.1) */
  jitter?: number;
}

/** A duration in ms, or a string like '500ms', '30s', '1m', '2h', '3d'. */
export type Duration = number | string;
