import Database from 'better-sqlite3';
import { WaymarkError } from '../../core/errors.js';
import { HOLDS_ITS_LOCK, NOT_QUARANTINED } from '../sql.js';
import { isTerminal, type Json, type Run, type RunStatus, type WaitInfo } from '../../core/types.js';
import type {
  ClaimedRun,
  CommitOutcome,
  CreateRunRequest,
  CreateRunResult,
  FingerprintConflict,
  NewWorkflowVersion,
  PendingAction,
  PendingSignal,
  InFlightGroup,
  PatchUsage,
  Route,
  RunCount,
  VersionStatus,
  WorkerRecord,
  RunLease,
  LeaseHold,
  RunCommit,
  RunFilter,
  RunPageQuery,
  Store,
  WorkflowVersionRecord,
  WorkflowVersionRef,
  RolloutRecord,
} from '../types.js';
import { startedData } from '../started.js';
import { startProblem } from '../storable.js';
import { storableText } from '../../core/text.js';
import { hasSchemaTable, migrateSqlite, sqliteMigrations } from './migrate.js';
import { newestVersion, type SchemaWarning } from '../migration-files.js';
import { isOutage, SqliteCommits } from './commit.js';
import { SqliteLocks } from './locks.js';
import { SqliteTasks } from './tasks.js';
import { removeFinishedRun, removeRunsFinishedBefore } from './retention.js';
import { pageRuns, runFilterSql } from './run-pages.js';
import { leaseHolds, runLease } from './lease-reads.js';
import { SqliteDefinitions } from './definitions.js';
import { SqliteKeys } from './keys.js';
import { SqliteAudit } from './audit.js';
import { SqliteQueues } from './queues.js';
import { SqliteDeployReports } from './deploy-reports.js';
import { SqliteSchedules } from './schedules.js';
import { SqliteEvents } from './events.js';
import { IN_FLIGHT_GROUPS_SQL, PATCH_USAGE_SQL } from './report-sql.js';
import {
  eventFromRow,
  runFromRow,
  signalFromRow,
  toColumn,
  toOptionalColumn,
  workflowVersionFromRow,
  type HistoryRow,
  type RunRow,
  type SignalRow,
  type WorkflowVersionRow,
  type WorkerRow,
  workerFromRow,
} from './rows.js';

export interface SqliteStoreOptions {
  /** File path, or ':memory:'. */
  path: string;
  /** 'full' fsyncs every commit; 'normal' may lose the last commits on power loss. (Default: 'full') */
  synchronous?: 'full' | 'normal';
  /** How long a writer waits for another process's transaction, in ms. (Default: 10000) */
  busyTimeoutMs?: number;
  /**
   * Create the file (or the tables in an empty one) if missing; false fails with E_STORE_NOT_FOUND and writes nothing.
   * (Default: true)
   */
  create?: boolean;
}

const servedKeys = (served: WorkflowVersionRef[]) => JSON.stringify(served.map((s) => `${s.workflow}@${s.version}`));

/** The embedded store: one SQLite file in WAL mode, shared safely by the processes that open it. */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly tasks: SqliteTasks;
  readonly definitions: SqliteDefinitions;
  readonly keys: SqliteKeys;
  readonly audit: SqliteAudit;
  readonly queues: SqliteQueues;
  readonly deployReports: SqliteDeployReports;
  readonly schedules: SqliteSchedules;
  readonly events: SqliteEvents;
  readonly schemaWarnings: readonly SchemaWarning[];
  private readonly db: Database.Database;
  private readonly sql;
  private readonly locks: SqliteLocks;
  private readonly commits: SqliteCommits;
  /** The newest migration this build ships: the schema must have it to be ready. */
  private readonly knownSchemaVersion = newestVersion(sqliteMigrations());

  constructor(options: SqliteStoreOptions) {
    this.db = options.create === false ? openExisting(options.path) : new Database(options.path);
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
    if (options.path !== ':memory:') this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    try {
      this.schemaWarnings = migrateSqlite(this.db);
    } catch (error) {
      this.db.close();
      throw error;
    }
    this.sql = this.prepareStatements();
    this.locks = new SqliteLocks(this.db);
    this.tasks = new SqliteTasks(this.db);
    this.commits = new SqliteCommits(this.db, this.tasks, this.locks);
    this.definitions = new SqliteDefinitions(this.db);
    this.keys = new SqliteKeys(this.db);
    this.audit = new SqliteAudit(this.db);
    this.queues = new SqliteQueues(this.db);
    this.deployReports = new SqliteDeployReports(this.db);
    this.schedules = new SqliteSchedules(this.db);
    this.events = new SqliteEvents(this.db);
  }

  private prepareStatements() {
    const db = this.db;
    return {
      insertVersion: db.prepare(
        `INSERT INTO workflow_versions (workflow, version, fingerprint, registered_at) VALUES (?, ?, ?, ?) ON
         CONFLICT DO NOTHING`,
      ),
      listVersions: db.prepare('SELECT * FROM workflow_versions ORDER BY workflow, version'),
      getVersion: db.prepare('SELECT fingerprint FROM workflow_versions WHERE workflow = ? AND version = ?'),
      replaceFingerprint: db.prepare('UPDATE workflow_versions SET fingerprint = ? WHERE workflow = ? AND version = ?'),
      setVersionStatus: db.prepare('UPDATE workflow_versions SET status = ? WHERE workflow = ? AND version = ?'),
      setRoute: db.prepare(
        `INSERT INTO routes (workflow, current, candidate, percent, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (workflow) DO UPDATE SET current = excluded.current, candidate = excluded.candidate, percent =
           excluded.percent, updated_at = excluded.updated_at`,
      ),
      deleteRoute: db.prepare('DELETE FROM routes WHERE workflow = ?'),
      saveRollout: db.prepare(
        `INSERT INTO rollouts (rollout_key, state, revision) VALUES (@key, @state, 1)
         ON CONFLICT (rollout_key) DO UPDATE SET state = excluded.state, revision = rollouts.revision + 1 WHERE
           rollouts.revision = @expected`,
      ),
      listRollouts: db.prepare('SELECT rollout_key AS key, state, revision FROM rollouts ORDER BY rollout_key'),
      outcomesSince: db.prepare(
        `SELECT status, COUNT(*) AS count FROM runs WHERE workflow = ? AND version = ? AND created_at >= ? GROUP BY
         status`,
      ),
      listRoutes: db.prepare('SELECT workflow, current, candidate, percent FROM routes ORDER BY workflow'),
      getRun: db.prepare('SELECT * FROM runs WHERE id = ?'),
      insertRun: db.prepare(
        `INSERT INTO runs (id, workflow, version, status, input, waiting_for, next_pos, due_at, lease_owner,
          lease_expires_at,
                           expires_at, lock_key, correlation_id, start_options, created_at, updated_at)
         VALUES (@id, @workflow, @version, @status, @input, @waitingFor, 1, @dueAt, @leaseOwner, @leaseExpiresAt,
                 @expiresAt, @lockKey, @correlationId, @startOptions, @createdAt, @now)
         ON CONFLICT (id) DO NOTHING`,
      ),
      setPendingAction: db.prepare(
        'UPDATE runs SET pending_action = ? WHERE id = ? AND lease_owner IS NOT NULL AND lease_expires_at >= ?',
      ),
      history: db.prepare('SELECT * FROM history WHERE run_id = ? ORDER BY pos'),
      insertEvent: db.prepare(
        'INSERT INTO history (run_id, pos, type, seq, name, data, at, epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      pendingSignals: db.prepare('SELECT * FROM signals WHERE run_id = ? AND consumed_at IS NULL ORDER BY id'),
      claim: db.prepare(
        `UPDATE runs SET lease_owner = @owner, lease_expires_at = @expires, status = CASE WHEN status = 'compensating'
          THEN status ELSE 'running' END, updated_at = @now
         WHERE id IN (
           SELECT id FROM runs
           WHERE status IN ('running', 'waiting', 'compensating') AND due_at <= @now
             AND (lease_owner IS NULL OR lease_expires_at < @now)
             AND (workflow || '@' || version) IN (SELECT value FROM
               json_each(@served))${NOT_QUARANTINED}${HOLDS_ITS_LOCK}
           ORDER BY due_at LIMIT @limit)
         RETURNING *`,
      ),
      renew: db.prepare(
        'UPDATE runs SET lease_expires_at = ? WHERE lease_owner = ? AND id IN (SELECT value FROM json_each(?))',
      ),
      releaseAll: db.prepare(
        `UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL,
           due_at = CASE WHEN status IN ('running', 'compensating') THEN MIN(COALESCE(due_at, @now), @now) ELSE due_at
             END
         WHERE lease_owner = @owner`,
      ),
      releaseOne: db.prepare(
        `UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL,
           due_at = CASE WHEN status IN ('running', 'compensating') THEN MIN(COALESCE(due_at, @now), @now) ELSE due_at
             END
         WHERE lease_owner = @owner AND id = @id`,
      ),
      insertSignal: db.prepare('INSERT INTO signals (run_id, name, payload, sent_at) VALUES (?, ?, ?, ?)'),
      wake: db.prepare(
        "UPDATE runs SET due_at = ? WHERE id = ? AND status = 'waiting' AND (due_at IS NULL OR due_at > ?)",
      ),
      heartbeat: db.prepare(
        `INSERT INTO workers (worker_id, served, started_at, heartbeat_at, expires_at) VALUES (@workerId, @served,
          @now, @now, @expires)
         ON CONFLICT (worker_id) DO UPDATE SET served = excluded.served, heartbeat_at = excluded.heartbeat_at,
           expires_at = excluded.expires_at`,
      ),
      removeWorker: db.prepare('DELETE FROM workers WHERE worker_id = ?'),
      liveWorkers: db.prepare('SELECT * FROM workers WHERE expires_at >= ? ORDER BY worker_id'),
      removeLostWorkers: db.prepare('DELETE FROM workers WHERE expires_at < ? RETURNING *'),
      schemaVersion: db.prepare('SELECT MAX(version) AS v FROM waymark_schema'),
      countRuns: db.prepare(
        `SELECT workflow, version, status, COUNT(*) AS count FROM runs GROUP BY workflow, version, status ORDER BY
         workflow, version, status`,
      ),
      inFlightGroups: db.prepare(IN_FLIGHT_GROUPS_SQL),
      patchUsage: db.prepare(PATCH_USAGE_SQL),
      nextDue: db.prepare(
        `SELECT MIN(due_at) AS due FROM runs
         WHERE status IN ('running', 'waiting', 'compensating') AND due_at IS NOT NULL AND lease_owner IS NULL
           AND (workflow || '@' || version) IN (SELECT value FROM json_each(?))${NOT_QUARANTINED}${HOLDS_ITS_LOCK}`,
      ),
    };
  }

  async registerWorkflowVersions(
    records: NewWorkflowVersion[],
    options: { replace?: boolean } = {},
  ): Promise<FingerprintConflict[]> {
    const now = Date.now();
    return this.db
      .transaction(() => {
        const conflicts: FingerprintConflict[] = [];
        for (const r of records) {
          const known = this.sql.getVersion.get(r.workflow, r.version) as { fingerprint: string } | undefined;
          if (known && known.fingerprint !== r.fingerprint)
            conflicts.push({
              workflow: r.workflow,
              version: r.version,
              registered: known.fingerprint,
              given: r.fingerprint,
            });
        }
        if (conflicts.length > 0 && !options.replace) return conflicts;
        for (const r of records) {
          this.sql.insertVersion.run(r.workflow, r.version, r.fingerprint, now);
          if (options.replace) this.sql.replaceFingerprint.run(r.fingerprint, r.workflow, r.version);
        }
        return conflicts;
      })
      .immediate();
  }

  async setVersionStatus(workflow: string, version: number, status: VersionStatus): Promise<void> {
    this.sql.setVersionStatus.run(status, workflow, version);
  }

  async setRoute(workflow: string, route: Route | null): Promise<void> {
    if (route) this.sql.setRoute.run(workflow, route.current, route.candidate, route.percent, Date.now());
    else this.sql.deleteRoute.run(workflow);
  }

  async saveRollout(key: string, state: Json, expected: number): Promise<boolean> {
    return this.sql.saveRollout.run({ key, state: JSON.stringify(state), expected }).changes === 1;
  }

  async listRollouts(): Promise<RolloutRecord[]> {
    return (this.sql.listRollouts.all() as { key: string; state: string; revision: number }[]).map((r) => ({
      ...r,
      state: JSON.parse(r.state) as Json,
    }));
  }

  async outcomesSince(workflow: string, version: number, sinceMs: number): Promise<Partial<Record<RunStatus, number>>> {
    const rows = this.sql.outcomesSince.all(workflow, version, sinceMs) as { status: RunStatus; count: number }[];
    return Object.fromEntries(rows.map((r) => [r.status, r.count]));
  }

  async listRoutes(): Promise<Route[]> {
    return this.sql.listRoutes.all() as Route[];
  }

  async listWorkflowVersions(): Promise<WorkflowVersionRecord[]> {
    return (this.sql.listVersions.all() as WorkflowVersionRow[]).map(workflowVersionFromRow);
  }

  async createRuns(requests: CreateRunRequest[], leaseMs: number): Promise<CreateRunResult[]> {
    const now = Date.now();
    const checked = (request: CreateRunRequest): CreateRunResult => {
      const problem = startProblem(request);
      return problem ? { created: false, refused: problem } : this.createOne(request, now, leaseMs);
    };
    try {
      return this.db.transaction(() => requests.map(checked)).immediate();
    } catch (error) {
      if (isOutage(error, this.db)) throw error;
    }
    // The database refused one start: each in its own savepoint, so the others are still created.
    const inSavepoint = this.db.transaction(checked);
    return this.db
      .transaction(() =>
        requests.map((request): CreateRunResult => {
          try {
            return inSavepoint(request);
          } catch (error) {
            if (isOutage(error, this.db)) throw error;
            return { created: false, refused: storableText((error as Error).message ?? String(error)) };
          }
        }),
      )
      .immediate();
  }

  private createOne(request: CreateRunRequest, now: number, leaseMs: number): CreateRunResult {
    const existing = this.sql.getRun.get(request.id) as RunRow | undefined;
    if (existing) return { created: false, claimed: undefined, run: runFromRow(existing) };
    let queued = false;
    if (request.lock && !this.locks.take(request.lock.key, request.id, now)) {
      const holder = this.locks.holderOf(request.lock.key);
      if (request.lock.onConflict === 'reject')
        return { created: false, lockHeldBy: { key: request.lock.key, runId: holder } };
      queued = true;
    }
    const leaseOwner = queued ? null : (request.leaseOwner ?? null);
    const waitingFor: WaitInfo | undefined = queued ? { kind: 'lock', name: request.lock!.key } : undefined;
    this.sql.insertRun.run({
      id: request.id,
      workflow: request.workflow,
      version: request.version,
      status: queued ? 'waiting' : 'running',
      input: toColumn(request.input),
      waitingFor: toOptionalColumn(waitingFor),
      dueAt: queued ? null : now,
      leaseOwner,
      leaseExpiresAt: leaseOwner ? now + leaseMs : null,
      expiresAt: request.expiresAt ?? null,
      lockKey: request.lock?.key ?? null,
      correlationId: request.correlationId ?? null,
      startOptions: toColumn(request.startOptions),
      createdAt: queued ? this.locks.queuedAt(request.lock!.key, now) : now,
      now,
    });
    const data = startedData(request);
    this.sql.insertEvent.run(request.id, 0, 'run_started', null, null, JSON.stringify(data), now, 0);
    const run: Run = {
      id: request.id,
      workflow: request.workflow,
      version: request.version,
      status: queued ? 'waiting' : 'running',
      input: request.input ?? null,
      output: undefined,
      error: undefined,
      waitingFor,
      attention: undefined,
      expiresAt: request.expiresAt === undefined ? undefined : new Date(request.expiresAt),
      lockKey: request.lock?.key,
      epoch: 0,
      correlationId: request.correlationId,
      ...(request.startOptions ? { startOptions: request.startOptions } : {}),
      createdAt: new Date(now),
      updatedAt: new Date(now),
    };
    const claimed = leaseOwner
      ? { run, history: [{ pos: 0, type: 'run_started' as const, at: now, data }], signals: [] }
      : undefined;
    return { created: true, claimed, run };
  }

  async getRun(id: string) {
    const row = this.sql.getRun.get(id) as RunRow | undefined;
    return row ? runFromRow(row) : undefined;
  }

  async removeRun(id: string) {
    return removeFinishedRun(this.db, id);
  }

  async removeRunsFinishedBefore(before: number, limit: number) {
    return removeRunsFinishedBefore(this.db, before, limit);
  }

  async listRuns(filter: RunFilter) {
    const { where, params } = runFilterSql(filter);
    const sql = `SELECT * FROM runs ${where} ORDER BY created_at DESC, id LIMIT ?`;
    return (this.db.prepare(sql).all(...params, filter.limit ?? 100) as RunRow[]).map(runFromRow);
  }

  async pageRuns(query: RunPageQuery) {
    return pageRuns(this.db, query);
  }

  async history(runId: string) {
    return (this.sql.history.all(runId) as HistoryRow[]).map(eventFromRow);
  }

  async claimRuns(
    workerId: string,
    served: WorkflowVersionRef[],
    limit: number,
    leaseMs: number,
  ): Promise<ClaimedRun[]> {
    if (limit <= 0 || served.length === 0) return [];
    const now = Date.now();
    return this.db
      .transaction(() => {
        const rows = this.sql.claim.all({
          owner: workerId,
          expires: now + leaseMs,
          now,
          served: servedKeys(served),
          limit,
        }) as RunRow[];
        return rows.map((row) => {
          const claimed: ClaimedRun = {
            run: runFromRow(row),
            history: (this.sql.history.all(row.id) as HistoryRow[]).map(eventFromRow),
            signals: (this.sql.pendingSignals.all(row.id) as SignalRow[]).map(signalFromRow),
            taskOutcomes: this.tasks.outcomesOf(row.id),
          };
          if (row.pending_action) claimed.pendingAction = JSON.parse(row.pending_action) as PendingAction;
          if (row.due_at !== null) claimed.dueAt = row.due_at;
          return claimed;
        });
      })
      .immediate();
  }

  async commit(batch: RunCommit[], leaseMs: number): Promise<CommitOutcome[]> {
    return this.commits.apply(batch, leaseMs);
  }

  async setPendingAction(runId: string, action: PendingAction): Promise<boolean> {
    return this.sql.setPendingAction.run(JSON.stringify(action), runId, Date.now()).changes > 0;
  }

  async renewLeases(workerId: string, runIds: string[], leaseMs: number) {
    if (runIds.length === 0) return;
    this.sql.renew.run(Date.now() + leaseMs, workerId, JSON.stringify(runIds));
  }

  async releaseLeases(workerId: string, runIds?: string[]) {
    const now = Date.now();
    this.db
      .transaction(() => {
        if (!runIds) this.sql.releaseAll.run({ owner: workerId, now });
        else for (const id of runIds) this.sql.releaseOne.run({ owner: workerId, id, now });
      })
      .immediate();
  }

  async sendSignal(runId: string, name: string, payload: Json | undefined): Promise<PendingSignal> {
    const now = Date.now();
    return this.db
      .transaction(() => {
        const row = this.sql.getRun.get(runId) as RunRow | undefined;
        if (!row) throw new WaymarkError('E_RUN_NOT_FOUND', `run '${runId}' does not exist`);
        if (isTerminal(row.status as RunStatus)) {
          throw new WaymarkError('E_INVALID_INPUT', `run '${runId}' is ${row.status}: it takes no more signals`, {
            details: { status: row.status },
          });
        }
        const inserted = this.sql.insertSignal.run(runId, name, toColumn(payload), now);
        const waitingFor = row.waiting_for ? (JSON.parse(row.waiting_for) as WaitInfo) : undefined;
        if (row.status === 'waiting' && waitingFor?.signals?.includes(name)) this.sql.wake.run(now, runId, now);
        return { id: Number(inserted.lastInsertRowid), name, payload: payload as Json | undefined, sentAt: now };
      })
      .immediate();
  }

  async nextDueAt(served: WorkflowVersionRef[]) {
    const row = this.sql.nextDue.get(servedKeys(served)) as { due: number | null };
    return row.due ?? undefined;
  }

  async heartbeat(workerId: string, served: WorkflowVersionRef[], ttlMs: number) {
    const now = Date.now();
    this.sql.heartbeat.run({ workerId, served: JSON.stringify(served), now, expires: now + ttlMs });
  }

  async removeWorker(workerId: string) {
    this.sql.removeWorker.run(workerId);
  }

  async runLease(runId: string): Promise<RunLease | undefined> {
    return runLease(this.db, runId);
  }

  async leaseHolds(): Promise<LeaseHold[]> {
    return leaseHolds(this.db, Date.now());
  }

  async liveWorkers(): Promise<WorkerRecord[]> {
    return (this.sql.liveWorkers.all(Date.now()) as WorkerRow[]).map(workerFromRow);
  }

  async removeLostWorkers(): Promise<WorkerRecord[]> {
    const rows = this.sql.removeLostWorkers.all(Date.now()) as WorkerRow[];
    return rows.map(workerFromRow).sort((a, b) => a.workerId.localeCompare(b.workerId));
  }

  async checkReady(): Promise<void> {
    let version: number;
    try {
      version = (this.sql.schemaVersion.get() as { v: number | null }).v ?? 0;
    } catch (error) {
      throw new WaymarkError('E_STORE', `the SQLite store does not answer: ${(error as Error).message}`);
    }
    if (version < this.knownSchemaVersion)
      throw new WaymarkError(
        'E_STORE',
        `the SQLite store's schema is at migration ${version}, this Waymark needs ${this.knownSchemaVersion}`,
        { details: { schemaVersion: version, needed: this.knownSchemaVersion } },
      );
  }

  async countRuns(): Promise<RunCount[]> {
    return this.sql.countRuns.all() as RunCount[];
  }

  async inFlightGroups(): Promise<InFlightGroup[]> {
    return this.sql.inFlightGroups.all() as InFlightGroup[];
  }

  async patchUsage(): Promise<PatchUsage[]> {
    return this.sql.patchUsage.all() as PatchUsage[];
  }

  onWake(): () => void {
    return () => {}; // processes sharing a SQLite file find each other's work by polling
  }

  async close() {
    if (this.db.open) this.db.close();
  }
}

/**
 * Opens a file that already holds a Waymark store, changing nothing otherwise: E_STORE_NOT_FOUND for a missing file or
 * one without Waymark's tables.
 */
function openExisting(path: string): Database.Database {
  const missing = (why: string) =>
    new WaymarkError('E_STORE_NOT_FOUND', `SQLite store '${path}' does not exist: ${why} (nothing was created)`, {
      details: { path, missing: 'file' },
    });
  if (path === ':memory:') throw missing('an in-memory database starts empty');
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true });
  } catch (error) {
    throw missing((error as { code?: string }).code === 'SQLITE_CANTOPEN' ? 'no such file' : (error as Error).message);
  }
  try {
    if (!hasSchemaTable(db)) throw missing('the file holds no Waymark tables');
  } catch (error) {
    db.close();
    throw error instanceof WaymarkError ? error : missing((error as Error).message);
  }
  return db;
}
