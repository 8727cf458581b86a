import type { SchemaWarning } from './migration-files.js';
import type { Role } from '../core/roles.js';
import type { NewTask, PollLimits, Task, TaskResult, TaskSearch } from '../core/tasks.js';
import type {
  ErrorInfo,
  HistoryEvent,
  Json,
  NewEvent,
  OperatorAction,
  Run,
  RunStartOptions,
  RunStatus,
  WaitInfo,
} from '../core/types.js';

/** A (workflow, version) pair a worker serves. */
export interface WorkflowVersionRef {
  workflow: string;
  version: number;
}

import type { Route, VersionStatus } from '../core/routing.js';
export type { Route, VersionStatus };

/** A rollout's state as stored; `revision` grows with every save (optimistic concurrency). */
export interface RolloutRecord {
  key: string;
  state: Json;
  revision: number;
}

/** A registered workflow version, as the store keeps it. */
export interface WorkflowVersionRecord extends WorkflowVersionRef {
  fingerprint: string;
  registeredAt: Date;
  status: VersionStatus;
}

/** A version registered again with other code than it was first registered with. */
export interface FingerprintConflict extends WorkflowVersionRef {
  registered: string;
  given: string;
}

/** A worker process as it announces itself: what it serves and when it was last seen alive. */
export interface WorkerRecord {
  workerId: string;
  served: WorkflowVersionRef[];
  startedAt: Date;
  heartbeatAt: Date;
}

/** A run's lease: who holds it until when, and that worker's last heartbeat while the store still has it. */
export interface RunLease {
  workerId: string;
  /** Epoch ms when the lease lapses unless renewed (it may be past). */
  expiresAt: number;
  /** The holder's last heartbeat (epoch ms); null when the store has no record of the worker (it was forgotten). */
  heartbeatAt: number | null;
  /** When that heartbeat lapses (epoch ms); null as heartbeatAt. */
  heartbeatExpiresAt: number | null;
}

/** The unexpired leases one worker holds on runs of one version, with its last heartbeat. */
export interface LeaseHold extends WorkflowVersionRef, Omit<RunLease, 'expiresAt'> {
  leases: number;
  /** The latest expiry among them (epoch ms). */
  latestExpiresAt: number;
}

/** How many runs of a workflow version are in one status. */
export interface RunCount extends WorkflowVersionRef {
  status: RunStatus;
  count: number;
}

export type NewWorkflowVersion = Omit<WorkflowVersionRecord, 'registeredAt' | 'status'>;

/** In-flight runs of one version in one status, grouped by where they are parked. */
export interface InFlightGroup extends WorkflowVersionRef {
  status: RunStatus;
  /**
   * 'signal:approval', 'sleep', 'retry:charge', 'lock:cluster:eu', 'unknown_outcome:transfer'...; null while executing.
   */
  parkedOn: string | null;
  count: number;
  oldestCreatedAt: number;
  /** Earliest and latest scheduled wake-up among them (timers, retries, timeouts, lifetimes). */
  earliestDueAt: number | null;
  latestDueAt: number | null;
  /** How many of them have no scheduled wake-up (a signal with no timeout, an operator). */
  unscheduled: number;
}

/**
 * How in-flight runs of a workflow stand to a patch. Counted conservatively: an in-flight run without the
 * marker may still replay (or be upgraded onto) the old branch, so the old branch is needed until this is 0.
 */
export interface PatchUsage {
  workflow: string;
  patch: string;
  firstSeenAt: number;
  /** In-flight runs that recorded the marker (new branch). */
  patched: number;
  /** In-flight runs without its marker: they may depend on the old branch. */
  onOldBranch: number;
}

export interface NewRun {
  id: string;
  workflow: string;
  version: number;
  input: Json | undefined;
  /** Epoch ms when the run's lifetime ends. */
  expiresAt?: number;
  /** A target lock the run must hold for its whole life. */
  lock?: { key: string; onConflict: 'reject' | 'queue' };
  correlationId?: string;
  /** Priority, task domains and idempotency key, kept with the run. */
  startOptions?: RunStartOptions;
  /** The W3C traceparent the run continues, kept in its `run_started` event. */
  traceparent?: string;
}

/** An operator action asked for while a worker was executing the run; that worker applies it. */
export interface PendingAction {
  action: Extract<OperatorAction, 'cancel' | 'compensate' | 'pause'>;
  actor: string;
  reason: string;
  at: number;
}

/** A signal sent to a run and not yet consumed by it. */
export interface PendingSignal {
  id: number;
  name: string;
  payload: Json | undefined;
  sentAt: number;
}

/** Everything a worker needs to execute a run it holds the lease on. */
export interface ClaimedRun {
  run: Run;
  history: HistoryEvent[];
  signals: PendingSignal[];
  /** Workers' task reports the run has not recorded in its history yet. */
  taskOutcomes?: Task[];
  /** An operator action to apply before anything else. */
  pendingAction?: PendingAction;
  /** When the run became due (epoch ms): how late its claim came is measured from it. */
  dueAt?: number;
}

/** A run-row change that goes with a commit. Absent fields stay as they are. */
export interface RunUpdate {
  status: RunStatus;
  output?: Json;
  error?: ErrorInfo;
  /** What the run now waits for; null clears it. */
  waitingFor?: WaitInfo | null;
  attention?: ErrorInfo | null;
  /** When the run should next be executed; null when nothing but an outside event will wake it. */
  dueAt?: number | null;
  /** Give up the lease (the run suspends or ends). */
  releaseLease?: boolean;
  /** The run's pending operator action has been applied. */
  clearPendingAction?: boolean;
  /** Moves the run to another version (a verified upgrade or migration). */
  version?: number;
  /** Moves the run to another history epoch; the commit's events are written in it. */
  epoch?: number;
  /** Replaces the run's input (a migration's input transform). */
  input?: Json;
  /** Forgets the run's output and error (it runs again). */
  clearResult?: boolean;
}

/** One run's checkpoint: events appended at `fromPos`, fenced by the writer's lease. */
export interface RunCommit {
  runId: string;
  workerId: string;
  /** The history length the writer believes; a mismatch means someone else wrote. */
  fromPos: number;
  events: NewEvent[];
  update?: RunUpdate;
  /** Signals consumed by these events. */
  consumedSignals?: number[];
  /** Tasks these events schedule: created with the checkpoint, handed to workers after it. */
  newTasks?: NewTask[];
  /** Task reports these events recorded. */
  consumedTasks?: string[];
  /** Written by an operator, not a worker: fenced by the history position and a free (or expired) lease. */
  asOperator?: boolean;
}

export type CommitOutcome =
  | { ok: true; pendingAction?: PendingAction }
  | { ok: false; reason: 'lease_lost' | 'conflict' | 'missing' }
  /**
   * The store cannot keep a value of this commit (see storable.ts): nothing of it was written; the rest of the batch
   * was.
   */
  | { ok: false; reason: 'invalid_value'; message: string };

export interface RunFilter {
  workflow?: string;
  version?: number;
  status?: RunStatus | RunStatus[];
  correlationId?: string;
  /** Most recent first. (Default: 100) */
  limit?: number;
}

/** A run as lists show it: everything but its input and output, which it carries only when they were asked for. */
export interface RunSummary extends Omit<Run, 'input' | 'output'> {
  input?: Json;
  output?: Json;
  /** Bytes of the stored input and output JSON (0: none). */
  inputSize: number;
  outputSize: number;
}

/** A page of the run list, most recent first. */
export interface RunPageQuery extends RunFilter {
  /** Only runs that need an operator: status needs_attention, or `attention` set. (Default: all) */
  attention?: boolean;
  /** Only in-flight runs whose last change (updatedAt) is older than this epoch ms: stuck ones. (Default: all) */
  updatedBefore?: number;
  /** Only runs started at or after this epoch ms. (Default: all) */
  startedAfter?: number;
  /** Only runs started before this epoch ms. (Default: all) */
  startedBefore?: number;
  /** Continue after this point: a previous page's `next`. (Default: from the most recent run) */
  cursor?: string;
  /** Also give each run's input and/or output. (Default: neither) */
  include?: ('input' | 'output')[];
  /**
   * The page ends early once the included inputs and outputs pass this many bytes; its first run always comes.
   * (Default: 4 MiB)
   */
  maxBytes?: number;
  /**
   * Only runs where every word appears, ignoring ASCII case, in the id, workflow, correlation id, error or
   * parking reason, or an input or output of at most 64 KiB (larger ones are not searched). (Default: all)
   */
  words?: string[];
}

export interface RunPage {
  runs: RunSummary[];
  /** The cursor of the next page; absent on the last one. */
  next?: string;
}

/** A run to create; with `leaseOwner` the creator takes the lease at once (it will execute the run). */
export interface CreateRunRequest extends NewRun {
  leaseOwner?: string;
}

export type CreateRunResult =
  | {
      /** False when a run with that id existed: it is returned and nothing was written. */
      created: boolean;
      run: Run;
      /** The new run, ready to execute, when it was created with a lease owner and holds its lock. */
      claimed: ClaimedRun | undefined;
    }
  | {
      created: false;
      /** The lock is held by another run and the start asked to be rejected: nothing was written. */
      lockHeldBy: { key: string; runId: string };
    }
  | {
      created: false;
      /** The store cannot keep a value of this start (why): nothing of it was written; the rest of the batch was. */
      refused: string;
    };

/** The SCHEDULED tasks of one type. */
export interface TaskBacklog {
  taskType: string;
  /** SCHEDULED tasks (visible or not yet: a retry delay, a callbackAfter). */
  depth: number;
  /** Epoch ms since which the oldest visible SCHEDULED task waits (null: none is visible yet). */
  oldestVisibleAt: number | null;
}

/** Tasks for remote workers: polled, reported on, timed out. Scheduling and recording go with run checkpoints. */
export interface TaskQueue {
  /**
   * Hands up to `count` visible SCHEDULED tasks of `taskType` and `domain` (none: tasks without one) to `workerId`
   * (now IN_PROGRESS), within `limits`: higher priorities first, the longest visible first within one.
   */
  poll(taskType: string, workerId: string, count: number, limits?: PollLimits, domain?: string): Promise<Task[]>;
  /** Tasks as `filter` narrows them, most recently updated first. */
  search(filter: TaskSearch): Promise<Task[]>;
  /**
   * Applies a worker's report and wakes the run when the task is finished; returns the task after it, or
   * undefined when it does not exist. A report on a finished task changes nothing.
   */
  report(taskId: string, result: TaskResult): Promise<Task | undefined>;
  get(taskId: string): Promise<Task | undefined>;
  /** The finished ones among these task attempts (the rest are still open, or unknown), in one read. */
  finished(taskIds: readonly string[]): Promise<Task[]>;
  /** Every attempt of every task of a run, by seq and attempt. */
  ofRun(runId: string): Promise<Task[]>;
  /** SCHEDULED tasks of a type. */
  queueSize(taskType: string): Promise<number>;
  /** Per task type with SCHEDULED tasks: how many, and since when the oldest visible one waits to be polled. */
  backlog(): Promise<TaskBacklog[]>;
  /**
   * IN_PROGRESS tasks whose worker missed its response timeout become TIMED_OUT and wake their runs; returns how many.
   */
  timeOut(): Promise<number>;
}

/** The stored source of a declarative workflow version. */
export interface WorkflowSource extends WorkflowVersionRef {
  source: Json;
}

/** Settings of a task type (retries, timeouts), as JSON owned by the layer that uses them. */
export interface TaskDefinition {
  name: string;
  definition: Json;
}

/** Declarative versions' sources and task definitions. */
export interface DefinitionStore {
  /** Stores the sources of registered versions (registerWorkflowVersions first). */
  saveSources(sources: WorkflowSource[]): Promise<void>;
  listSources(): Promise<WorkflowSource[]>;
  /** Forgets a version that has no runs; false (and nothing removed) when it has runs. */
  removeVersion(workflow: string, version: number): Promise<boolean>;
  /** Inserts or replaces task definitions by name. */
  saveTaskDefinitions(definitions: TaskDefinition[]): Promise<void>;
  listTaskDefinitions(): Promise<TaskDefinition[]>;
  /** False when there was none of that name. */
  removeTaskDefinition(name: string): Promise<boolean>;
}

/** An API key as the store keeps it: its secret only as a hash. */
export interface ApiKeyRecord {
  keyId: string;
  /** What the key is for, e.g. 'ci deploys'; '' when none was given. */
  name: string;
  role: Role;
  /** The secret's hash, as 'sha256:<hex>'. */
  secretHash: string;
  createdAt: Date;
  /** When it was revoked; null while it is valid. */
  revokedAt: Date | null;
}

export type NewApiKey = Omit<ApiKeyRecord, 'createdAt' | 'revokedAt'>;

/** API keys, and the secret access tokens are signed with. */
export interface KeyStore {
  /** Stores a new key; false (and nothing written) when its key id is taken. */
  createKey(key: NewApiKey): Promise<boolean>;
  getKey(keyId: string): Promise<ApiKeyRecord | undefined>;
  /** Every key, revoked ones included, oldest first. */
  listKeys(): Promise<ApiKeyRecord[]>;
  /** Revokes a key (a second revocation keeps the first one's time); the key after it, undefined when none. */
  revokeKey(keyId: string): Promise<ApiKeyRecord | undefined>;
  /** The token signing secret: `candidate` is kept when there is none yet; every process gets the first one kept. */
  tokenSecret(candidate: string): Promise<string>;
}

/** One change an authenticated caller made over the HTTP API. */
export interface AuditEntry {
  at: Date;
  /** Who: 'key:<keyId> (<name>)'. */
  actor: string;
  keyId: string;
  /** The route called, e.g. 'POST /v1/workflows/:name/versions/:version/quarantine'. */
  action: string;
  /** The path it was called with, e.g. '/v1/workflows/orders/versions/3/quarantine'. */
  target: string;
  /** The HTTP status answered. */
  status: number;
  /** What the caller said besides (the `actor` it gave); null when nothing. */
  note: string | null;
}

/** The audit trail: append-only. */
export interface AuditLog {
  append(entry: AuditEntry): Promise<void>;
  /** The newest `limit` entries, newest first. */
  list(limit: number): Promise<AuditEntry[]>;
}

/** When a worker last polled for a task type (in a domain). */
export interface PollRecord {
  taskType: string;
  /** The domain the worker polled in; null: none (Conductor's DEFAULT). */
  domain: string | null;
  workerId: string;
  lastPollAt: number;
}

/** The open tasks of one type: SCHEDULED ones (depth) and IN_PROGRESS ones. */
export interface QueueDepth {
  taskType: string;
  /** The domain of the queue's tasks (null: tasks without a domain). */
  domain: string | null;
  /** SCHEDULED tasks (visible or not yet). */
  depth: number;
  inProgress: number;
  /** Epoch ms since which the oldest visible SCHEDULED task waits (null: none is visible yet). */
  oldestVisibleAt: number | null;
}

/** Task queues as operators look at them: who polls, and what waits. */
export interface QueueStore {
  /** Inserts or moves on the last poll time of (taskType, domain, workerId). */
  recordPoll(poll: PollRecord): Promise<void>;
  /** Last polls, of one task type or of all, by task type, domain and worker. */
  pollData(taskType?: string): Promise<PollRecord[]>;
  /** Per task type with open (SCHEDULED or IN_PROGRESS) tasks, by task type. */
  depths(): Promise<QueueDepth[]>;
}

/** A deploy check or plan as it was answered, kept for later reading. */
export interface DeployReportRecord {
  id: number;
  kind: 'check' | 'plan';
  createdAt: Date;
  source: 'http' | 'cli';
  /** Who asked for it; null when nobody is known (a server without auth and no actor given). */
  actor: string | null;
  summary: Json;
  report: Json;
}

export type NewDeployReport = Omit<DeployReportRecord, 'id' | 'createdAt'>;

/** Deploy reports: append-only. */
export interface DeployReportStore {
  /** Stores a report; returns it with its id and time. */
  add(report: NewDeployReport): Promise<DeployReportRecord>;
  /** The newest `limit`, newest first, without their full reports. */
  list(limit: number): Promise<Omit<DeployReportRecord, 'report'>[]>;
  get(id: number): Promise<DeployReportRecord | undefined>;
}

/** What a schedule does when its previous firing's run is still in flight. */
export type OverlapPolicy = 'skip' | 'buffer_one' | 'buffer_all' | 'cancel_other' | 'allow_all';

/** A schedule as the store keeps it: times are epoch ms. */
export interface ScheduleRecord {
  id: string;
  workflow: string;
  /** The version it starts; null: the route's current one (routed, canaries apply). */
  version: number | null;
  input: Json | undefined;
  /** A cron expression (5 or 6 fields) and its time zone, or an interval in ms: one of the two. */
  cron: string | null;
  timezone: string | null;
  intervalMs: number | null;
  startAt: number | null;
  endAt: number | null;
  jitterMs: number;
  overlap: OverlapPolicy;
  catchUpWindowMs: number;
  paused: boolean;
  /** Why it was paused (or resumed); null when nothing was said. */
  note: string | null;
  createdAt: number;
  updatedAt: number;
  /** The clock's position (epoch ms): slots at or before it are handled (fired, skipped, buffered or missed). */
  lastSlotAt: number | null;
  /** The next slot and when it fires (slot plus jitter); null when the schedule has no more slots. */
  nextSlotAt: number | null;
  nextFireAt: number | null;
}

/** What was decided for a slot. */
export type SlotDecision = 'started' | 'skipped' | 'buffered' | 'missed';

/** How a slot came to be handled: the clock, an operator's trigger, or a backfill. */
export type SlotOrigin = 'schedule' | 'trigger' | 'backfill';

/** One slot of a schedule, claimed exactly once. */
export interface SlotRecord {
  scheduleId: string;
  slotAt: number;
  decision: SlotDecision;
  origin: SlotOrigin;
  /** The run it started (or will start, when buffered); null when skipped or missed. */
  runId: string | null;
  recordedAt: number;
}

/** Schedules and their slots. */
export interface ScheduleStore {
  /** Stores a new schedule; false (and nothing written) when its id is taken. */
  create(schedule: ScheduleRecord): Promise<boolean>;
  get(id: string): Promise<ScheduleRecord | undefined>;
  /** Every schedule, by id. */
  list(): Promise<ScheduleRecord[]>;
  /** Replaces a schedule's row (all but id and createdAt); false when there is none. */
  save(schedule: ScheduleRecord): Promise<boolean>;
  /** Deletes a schedule and its slots; false when there was none. */
  remove(id: string): Promise<boolean>;
  /**
   * Claims a slot: inserts it unless it exists (insert-or-conflict), so each slot is claimed once however many
   * processes try; false when it was claimed already (nothing written).
   */
  claimSlot(slot: SlotRecord): Promise<boolean>;
  /** Moves a buffered slot to started with its run; false when it is not buffered (any more): another did it. */
  startBuffered(scheduleId: string, slotAt: number, runId: string): Promise<boolean>;
  /** A schedule's slots, newest first, at most `limit`, of one decision or all. */
  slots(
    scheduleId: string,
    options: { limit: number; decision?: SlotDecision; oldestFirst?: boolean },
  ): Promise<SlotRecord[]>;
  /**
   * Moves the clock's position forward: lastSlotAt and the next slot, only when `lastSlotAt` is newer than the stored
   * one (another process may be ahead); false when it was not.
   */
  advance(id: string, lastSlotAt: number, next: { slotAt: number; fireAt: number } | null): Promise<boolean>;
  /** Schedules not paused whose next firing time is at most `now`, oldest due first, at most `limit`. */
  due(now: number, limit: number): Promise<ScheduleRecord[]>;
  /** The earliest next firing time of a schedule not paused, if any. */
  nextFireAt(): Promise<number | undefined>;
  /** The schedules that have buffered slots waiting to start, by id. */
  withBufferedSlots(): Promise<ScheduleRecord[]>;
}

/** A message of a built-in `conductor:` queue, as a claim hands it out. */
export interface StoredEventMessage {
  queue: string;
  id: string;
  payload: Json;
  createdAt: Date;
  /** Claims so far, this one included. */
  attempts: number;
}

/** A Conductor event handler as stored: its definition whole, with the columns it is looked up by. */
export interface StoredEventHandler {
  name: string;
  event: string;
  active: boolean;
  definition: Json;
  createdAt: Date;
  updatedAt: Date;
}

/** The built-in queues (insert, claim for a time, acknowledge) and the event handlers. */
export interface EventStore {
  /** Adds a message; false when the queue already holds (or held) one with that id: nothing is written. */
  publish(queue: string, id: string, payload: Json): Promise<boolean>;
  /** Claims up to `limit` due, unacknowledged messages, oldest first, hiding them for `leaseMs`. */
  claim(queue: string, limit: number, leaseMs: number): Promise<StoredEventMessage[]>;
  /** Acknowledges a message: it is never handed out again. False when there is no such unacknowledged message. */
  ack(queue: string, id: string): Promise<boolean>;
  /** Makes a claimed message due again at once (its actions failed). */
  release(queue: string, id: string): Promise<void>;
  /** Unacknowledged messages of a queue. */
  pending(queue: string): Promise<number>;
  /** Creates (`create`: false when the name is taken) or replaces (`update`: false when there is none) a handler. */
  putHandler(
    handler: Pick<StoredEventHandler, 'name' | 'event' | 'active' | 'definition'>,
    mode: 'create' | 'update',
  ): Promise<boolean>;
  /** Every handler, by name. */
  listHandlers(): Promise<StoredEventHandler[]>;
  /** Removes a handler; false when there was none. */
  deleteHandler(name: string): Promise<boolean>;
}

/** The storage seam: SQLite and PostgreSQL implement it; the runtime knows nothing else. */
export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  /** What opening found about the schema for the engine to log (e.g. newer additive migrations). (Default: none) */
  readonly schemaWarnings?: readonly SchemaWarning[];
  readonly tasks: TaskQueue;
  readonly definitions: DefinitionStore;
  readonly keys: KeyStore;
  readonly audit: AuditLog;
  readonly queues: QueueStore;
  readonly deployReports: DeployReportStore;
  readonly schedules: ScheduleStore;
  readonly events: EventStore;
  /**
   * Records workflow versions. A version already registered with another fingerprint is a conflict: all
   * conflicts are returned and nothing is written, unless `replace` (development mode) overwrites them.
   */
  registerWorkflowVersions(
    records: NewWorkflowVersion[],
    options?: { replace?: boolean },
  ): Promise<FingerprintConflict[]>;
  /** Moves a version to another lifecycle status. */
  setVersionStatus(workflow: string, version: number, status: VersionStatus): Promise<void>;
  /**
   * Saves a rollout's state (JSON owned by the runtime) if its stored revision is still `expected`
   * (0: no rollout under that key yet); false when another process saved it first, and nothing is written.
   */
  saveRollout(key: string, state: Json, expected: number): Promise<boolean>;
  listRollouts(): Promise<RolloutRecord[]>;
  /** Run counts by status for one version, among runs created since `sinceMs` (rollout health). */
  outcomesSince(workflow: string, version: number, sinceMs: number): Promise<Partial<Record<RunStatus, number>>>;
  /** Sets a workflow's canary route, or removes it (null): unpinned starts then go to the highest active version. */
  setRoute(workflow: string, route: Route | null): Promise<void>;
  listRoutes(): Promise<Route[]>;
  listWorkflowVersions(): Promise<WorkflowVersionRecord[]>;
  /**
   * Inserts each run with its `run_started` event, or returns the existing run with that id (also when it is
   * being started concurrently elsewhere). A start the store cannot keep is refused alone; the others go on.
   */
  createRuns(requests: CreateRunRequest[], leaseMs: number): Promise<CreateRunResult[]>;
  getRun(id: string): Promise<Run | undefined>;
  /** Deletes a finished run and everything recorded of it; refuses ('in_flight') a run that is not finished. */
  removeRun(id: string): Promise<'removed' | 'missing' | 'in_flight'>;
  /** Deletes at most `limit` runs finished before `before` (epoch ms), as removeRun does (retention); the count. */
  removeRunsFinishedBefore(before: number, limit: number): Promise<number>;
  listRuns(filter: RunFilter): Promise<Run[]>;
  /**
   * One page of run summaries (no inputs or outputs unless included), bounded in rows and bytes, with the cursor of the
   * next.
   */
  pageRuns(query: RunPageQuery): Promise<RunPage>;
  history(runId: string): Promise<HistoryEvent[]>;
  /** Leases up to `limit` due runs of the served versions to `workerId`. */
  claimRuns(workerId: string, served: WorkflowVersionRef[], limit: number, leaseMs: number): Promise<ClaimedRun[]>;
  /**
   * Applies checkpoints of many runs in one transaction (group commit); one outcome per commit. A commit that fails
   * alone never fails the others.
   */
  commit(batch: RunCommit[], leaseMs: number): Promise<CommitOutcome[]>;
  /**
   * Extends the leases `workerId` holds on `runIds` (the runs it is executing); its other leases are left to expire.
   */
  renewLeases(workerId: string, runIds: string[], leaseMs: number): Promise<void>;
  /** Gives up the leases `workerId` holds (all, or those of `runIds`), making the runs claimable now. */
  releaseLeases(workerId: string, runIds?: string[]): Promise<void>;
  /**
   * Leaves an operator action for the worker executing the run. False when the run is not leased
   * (any more): the caller applies the action itself with an operator commit.
   */
  setPendingAction(runId: string, action: PendingAction): Promise<boolean>;
  /** Stores a signal; wakes the run if it waits for it. Throws if the run is missing or finished. */
  sendSignal(runId: string, name: string, payload: Json | undefined): Promise<PendingSignal>;
  /** Earliest time a served run becomes due, if any is scheduled. */
  nextDueAt(served: WorkflowVersionRef[]): Promise<number | undefined>;
  /** Records that a worker is alive, for `ttlMs` more, and what it serves. */
  heartbeat(workerId: string, served: WorkflowVersionRef[], ttlMs: number): Promise<void>;
  /** Forgets a worker that stopped cleanly. */
  removeWorker(workerId: string): Promise<void>;
  /** Workers whose last heartbeat has not expired. */
  liveWorkers(): Promise<WorkerRecord[]>;
  /**
   * Forgets workers whose heartbeat expired (they stopped without saying so) and returns them; each lost worker is
   * returned to one caller only, however many processes ask at once.
   */
  removeLostWorkers(): Promise<WorkerRecord[]>;
  /** The lease of a run and its holder's last heartbeat; undefined when the run is not leased (or missing). */
  runLease(runId: string): Promise<RunLease | undefined>;
  /** Unexpired run leases by holder and version, with each holder's last heartbeat, by worker id then version. */
  leaseHolds(): Promise<LeaseHold[]>;
  /**
   * Resolves when the store answers and its schema has every migration this build knows; otherwise throws E_STORE
   * saying which.
   */
  checkReady(): Promise<void>;
  /** Run counts by workflow, version and status. */
  countRuns(): Promise<RunCount[]>;
  /** Non-terminal runs grouped by version, status and where they are parked. */
  inFlightGroups(): Promise<InFlightGroup[]>;
  /** For each patch id recorded by a workflow's runs, how its in-flight runs depend on it. */
  patchUsage(): Promise<PatchUsage[]>;
  /**
   * Calls `listener` when another process made work due (a start, a signal, a released lease), so
   * workers need not poll for it. Stores without cross-process notification never call it.
   */
  onWake(listener: () => void): () => void;
  close(): Promise<void>;
}
