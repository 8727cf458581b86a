import pg from 'pg';
import { WaymarkError } from '../../core/errors.js';
import { HOLDS_ITS_LOCK, NOT_QUARANTINED } from '../sql.js';
import { isTerminal, type HistoryEvent, type Json, type Run } from '../../core/types.js';
import type {
  ClaimedRun,
  CommitOutcome,
  CreateRunRequest,
  CreateRunResult,
  FingerprintConflict,
  NewWorkflowVersion,
  PendingAction,
  PendingSignal,
  RunCommit,
  InFlightGroup,
  PatchUsage,
  Route,
  RunCount,
  VersionStatus,
  RunFilter,
  RunPage,
  RunPageQuery,
  Store,
  WorkerRecord,
  RunLease,
  LeaseHold,
  WorkflowVersionRecord,
  WorkflowVersionRef,
  RolloutRecord,
} from '../types.js';
import { applyCommits } from './commit.js';
import { createRuns } from './create-runs.js';
import { hasSchemaTable, migratePostgres, postgresMigrations, quoteIdent } from './migrate.js';
import { newestVersion, type SchemaWarning } from '../migration-files.js';
import { hasNul, isConnectionError } from './errors.js';
import { storableText } from '../../core/text.js';
import { inTransaction, unstorableTextError } from './transaction.js';
import { WakeListener } from './wake-listener.js';
import { PostgresTasks, taskOutcomesOf } from './tasks.js';
import { removeFinishedRun, removeRunsFinishedBefore } from './retention.js';
import { pageRuns } from './run-pages.js';
import { leaseHolds, runLease } from './lease-reads.js';
import { PostgresDefinitions } from './definitions.js';
import { PostgresKeys } from './keys.js';
import { PostgresAudit } from './audit.js';
import { PostgresQueues } from './queues.js';
import { PostgresDeployReports } from './deploy-reports.js';
import { PostgresSchedules } from './schedules.js';
import { PostgresEvents } from './events.js';
import {
  eventFromRow,
  historyColumns,
  runColumns,
  runFromRow,
  signalColumns,
  workerColumns,
  workflowVersionColumns,
  signalFromRow,
  workerFromRow,
  workflowVersionFromRow,
  type HistoryRow,
  type RunRow,
  type SignalRow,
  type WorkerRow,
  type WorkflowVersionRow,
} from './rows.js';

export interface PostgresStoreOptions {
  /** postgres://user@host:port/db; a `schema` query parameter picks the schema. */
  url: string;
  /** Schema holding Waymark's tables. (Default: the URL's `schema` parameter, else 'waymark') */
  schema?: string;
  /** Connections in the pool. (Default: 10) */
  poolSize?: number;
  /** Create the schema if it does not exist; false fails with E_STORE_NOT_FOUND and creates nothing. (Default: true) */
  create?: boolean;
}

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** PostgreSQL's error code for a database that does not exist. */
const INVALID_CATALOG_NAME = '3D000';

const databaseOf = (url: URL) => decodeURIComponent(url.pathname.slice(1)) || '(the user name)';

/** bigint columns (epoch ms, ids) fit in a JS number; the pool parses them as such. */
const types = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text'),
};

/** The multi-node store: one PostgreSQL database shared by many engine processes on many machines. */
export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  readonly tasks: PostgresTasks;
  readonly definitions: PostgresDefinitions;
  readonly keys: PostgresKeys;
  readonly audit: PostgresAudit;
  readonly queues: PostgresQueues;
  readonly deployReports: PostgresDeployReports;
  readonly schedules: PostgresSchedules;
  readonly events: PostgresEvents;
  readonly schema: string;
  schemaWarnings: readonly SchemaWarning[] = [];
  private readonly pool: pg.Pool;
  private readonly wake: WakeListener;
  private readonly channel: string;
  /** The newest migration this build ships: the schema must have it to be ready. */
  private readonly knownSchemaVersion = newestVersion(postgresMigrations());

  private constructor(url: string, schema: string, poolSize: number) {
    this.schema = schema;
    this.channel = `waymark_${schema}`;
    const config: pg.PoolConfig = {
      connectionString: url,
      max: poolSize,
      types,
      options: `-c search_path=${quoteIdent(schema)}`,
    };
    this.pool = new pg.Pool(config);
    this.pool.on('error', () => {}); // an idle connection dropped (server restart): the pool replaces it
    // A connection can also die as the pool hands it over, before its new user listens (its last answer and
    // the server's FATAL in one read): the event must not crash the process; the next query reports the death.
    this.pool.on('connect', (client) => client.on('error', () => {}));
    this.wake = new WakeListener({ connectionString: url, types }, this.channel);
    this.tasks = new PostgresTasks(this.pool, () => this.notify());
    this.definitions = new PostgresDefinitions(this.pool);
    this.keys = new PostgresKeys(this.pool);
    this.audit = new PostgresAudit(this.pool);
    this.queues = new PostgresQueues(this.pool);
    this.deployReports = new PostgresDeployReports(this.pool);
    this.schedules = new PostgresSchedules(this.pool);
    this.events = new PostgresEvents(this.pool);
  }

  /** Connects, migrates the schema and starts listening for wake-ups. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const url = new URL(options.url);
    const schema = options.schema ?? url.searchParams.get('schema') ?? 'waymark';
    url.searchParams.delete('schema');
    if (!SCHEMA_PATTERN.test(schema)) {
      throw new WaymarkError(
        'E_INVALID_INPUT',
        `schema '${schema}' is invalid: use lower-case letters, digits and _ (max 63)`,
      );
    }
    const store = new PostgresStore(url.toString(), schema, options.poolSize ?? 10);
    try {
      if (options.create === false && !(await hasSchemaTable(store.pool, schema))) {
        throw new WaymarkError(
          'E_STORE_NOT_FOUND',
          `PostgreSQL store schema '${schema}' does not exist in database '${databaseOf(url)}' (nothing was created)`,
          {
            details: { schema, database: databaseOf(url), missing: 'schema' },
          },
        );
      }
      store.schemaWarnings = await migratePostgres(store.pool, schema);
    } catch (error) {
      await store.close();
      if (error instanceof WaymarkError) throw error;
      if ((error as { code?: string }).code === INVALID_CATALOG_NAME) {
        throw new WaymarkError(
          'E_STORE_NOT_FOUND',
          `cannot open PostgreSQL store: ${(error as Error).message} (nothing was created)`,
          { cause: error, details: { database: databaseOf(url), missing: 'database' } },
        );
      }
      throw new WaymarkError('E_STORE', `cannot open PostgreSQL store: ${(error as Error).message}`, { cause: error });
    }
    return store;
  }

  /**
   * One statement on a pooled connection. Every statement sent this way is a read or an idempotent write,
   * so one that failed because its connection died (a server restart, a killed backend) is sent once more.
   */
  private async query<R extends pg.QueryResultRow>(name: string, text: string, values: unknown[] = []): Promise<R[]> {
    try {
      return (await this.pool.query<R>({ name, text, values })).rows;
    } catch (error) {
      if (!isConnectionError(error)) throw unstorableTextError(error);
      return (await this.pool.query<R>({ name, text, values })).rows;
    }
  }

  async registerWorkflowVersions(
    records: NewWorkflowVersion[],
    options: { replace?: boolean } = {},
  ): Promise<FingerprintConflict[]> {
    if (records.length === 0) return [];
    const values = [records.map((r) => r.workflow), records.map((r) => r.version), records.map((r) => r.fingerprint)];
    return this.transaction(async (client) => {
      // Serialises registrations of one schema so two processes cannot both see a version as new.
      await client.query({
        name: 'wm_register_lock',
        text: "SELECT pg_advisory_xact_lock(hashtext('waymark-register'))",
      });
      const known = await client.query<{ workflow: string; version: number; fingerprint: string; given: string }>({
        name: 'wm_register_conflicts',
        text: `SELECT v.workflow, v.version, v.fingerprint, r.f AS given
               FROM workflow_versions v JOIN unnest($1::text[], $2::int[], $3::text[]) AS r(w, n, f) ON v.workflow =
                 r.w AND v.version = r.n
               WHERE v.fingerprint <> r.f`,
        values,
      });
      const conflicts = known.rows.map((k) => ({
        workflow: k.workflow,
        version: k.version,
        registered: k.fingerprint,
        given: k.given,
      }));
      if (conflicts.length > 0 && !options.replace) return conflicts;
      await client.query({
        name: 'wm_register_versions',
        text: `INSERT INTO workflow_versions (workflow, version, fingerprint, registered_at)
               SELECT w, v, f, now_ms() FROM unnest($1::text[], $2::int[], $3::text[]) AS r(w, v, f)
               ON CONFLICT (workflow, version) DO UPDATE SET fingerprint = excluded.fingerprint`,
        values,
      });
      return conflicts;
    });
  }

  async setVersionStatus(workflow: string, version: number, status: VersionStatus): Promise<void> {
    await this.query(
      'wm_set_version_status',
      'UPDATE workflow_versions SET status = $3 WHERE workflow = $1 AND version = $2',
      [workflow, version, status],
    );
  }

  async setRoute(workflow: string, route: Route | null): Promise<void> {
    if (!route) return void (await this.query('wm_delete_route', 'DELETE FROM routes WHERE workflow = $1', [workflow]));
    await this.query(
      'wm_set_route',
      `INSERT INTO routes (workflow, current, candidate, percent, updated_at) VALUES ($1, $2, $3, $4, now_ms())
       ON CONFLICT (workflow) DO UPDATE SET current = excluded.current, candidate = excluded.candidate, percent =
         excluded.percent, updated_at = excluded.updated_at`,
      [workflow, route.current, route.candidate, route.percent],
    );
  }

  async saveRollout(key: string, state: Json, expected: number): Promise<boolean> {
    const rows = await this.query(
      'wm_save_rollout',
      `INSERT INTO rollouts (rollout_key, state, revision) VALUES ($1, $2::jsonb, 1)
       ON CONFLICT (rollout_key) DO UPDATE SET state = excluded.state, revision = rollouts.revision + 1 WHERE
         rollouts.revision = $3
       RETURNING revision`,
      [key, JSON.stringify(state), expected],
    );
    return rows.length === 1;
  }

  async listRollouts(): Promise<RolloutRecord[]> {
    return this.query<RolloutRecord>(
      'wm_list_rollouts',
      'SELECT rollout_key AS key, state, revision FROM rollouts ORDER BY rollout_key',
    );
  }

  async outcomesSince(
    workflow: string,
    version: number,
    sinceMs: number,
  ): Promise<Partial<Record<Run['status'], number>>> {
    const rows = await this.query<{ status: Run['status']; count: number }>(
      'wm_outcomes_since',
      'SELECT status, ' +
        'COUNT(*)::int AS count FROM runs WHERE workflow ' +
        '= $1 AND version = $2 AND created_at ' +
        '>= $3 GROUP BY status',
      [workflow, version, sinceMs],
    );
    return Object.fromEntries(rows.map((r) => [r.status, r.count]));
  }

  async listRoutes(): Promise<Route[]> {
    return this.query<Route>(
      'wm_list_routes',
      'SELECT workflow, current, candidate, percent FROM routes ORDER BY workflow',
    );
  }

  async listWorkflowVersions(): Promise<WorkflowVersionRecord[]> {
    return (
      await this.query<WorkflowVersionRow>(
        'wm_list_versions',
        `SELECT ${workflowVersionColumns()} FROM workflow_versions ORDER BY workflow, version`,
      )
    ).map(workflowVersionFromRow);
  }

  async createRuns(requests: CreateRunRequest[], leaseMs: number): Promise<CreateRunResult[]> {
    const results = await createRuns(this.pool, requests, leaseMs);
    if (results.some((r) => r.created && !r.claimed)) this.notify();
    return results;
  }

  async getRun(id: string): Promise<Run | undefined> {
    if (hasNul(id)) return undefined;
    const [row] = await this.query<RunRow>('wm_get_run', `SELECT ${runColumns()} FROM runs WHERE id = $1`, [id]);
    return row ? runFromRow(row) : undefined;
  }

  removeRun(id: string): Promise<'removed' | 'missing' | 'in_flight'> {
    if (hasNul(id)) return Promise.resolve('missing');
    return removeFinishedRun(this.pool, id);
  }

  removeRunsFinishedBefore(before: number, limit: number): Promise<number> {
    return removeRunsFinishedBefore(this.pool, before, limit);
  }

  async listRuns(filter: RunFilter): Promise<Run[]> {
    if (hasNul(filter.workflow, filter.correlationId)) return [];
    const statuses =
      filter.status === undefined ? null : Array.isArray(filter.status) ? filter.status : [filter.status];
    const rows = await this.query<RunRow>(
      'wm_list_runs',
      `SELECT ${runColumns()} FROM runs
       WHERE ($1::text IS NULL OR workflow = $1) AND ($2::int IS NULL OR version = $2) AND ($3::text[] IS NULL OR
         status = ANY($3))
         AND ($5::text IS NULL OR correlation_id = $5)
       ORDER BY created_at DESC, id LIMIT $4`,
      [filter.workflow ?? null, filter.version ?? null, statuses, filter.limit ?? 100, filter.correlationId ?? null],
    );
    return rows.map(runFromRow);
  }

  pageRuns(query: RunPageQuery): Promise<RunPage> {
    return pageRuns((text, values) => this.query('', text, values), query);
  }

  async history(runId: string): Promise<HistoryEvent[]> {
    if (hasNul(runId)) return [];
    return (
      await this.query<HistoryRow>(
        'wm_history',
        `SELECT ${historyColumns()} FROM history WHERE run_id = $1 ORDER BY pos`,
        [runId],
      )
    ).map(eventFromRow);
  }

  async claimRuns(
    workerId: string,
    served: WorkflowVersionRef[],
    limit: number,
    leaseMs: number,
  ): Promise<ClaimedRun[]> {
    if (limit <= 0 || served.length === 0) return [];
    const rows = await this.query<RunRow>(
      'wm_claim',
      `WITH due AS (
         SELECT id FROM runs
         WHERE status IN ('running', 'waiting', 'compensating') AND due_at <= now_ms()
           AND (lease_owner IS NULL OR lease_expires_at < now_ms())
           AND (workflow || '@' || version) = ANY($1::text[])${NOT_QUARANTINED}${HOLDS_ITS_LOCK}
         ORDER BY due_at
         LIMIT $2
         FOR UPDATE SKIP LOCKED)
       UPDATE runs r SET lease_owner = $3, lease_expires_at = now_ms() + $4, status = CASE WHEN r.status =
         'compensating' THEN r.status ELSE 'running' END, updated_at = now_ms()
       FROM due WHERE r.id = due.id
       RETURNING ${runColumns('r')}`,
      [served.map((s) => `${s.workflow}@${s.version}`), limit, workerId, leaseMs],
    );
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const [history, signals, outcomes] = await Promise.all([
      this.query<HistoryRow>(
        'wm_claim_history',
        `SELECT ${historyColumns()} FROM history WHERE run_id = ANY($1::text[]) ORDER BY run_id, pos`,
        [ids],
      ),
      this.query<SignalRow>(
        'wm_claim_signals',
        `SELECT ${signalColumns()} FROM signals WHERE run_id = ANY($1::text[]) AND consumed_at IS NULL ORDER BY id`,
        [ids],
      ),
      taskOutcomesOf(this.pool, ids),
    ]);
    const byRun = new Map<string, ClaimedRun>(
      rows.map((row) => [
        row.id,
        {
          run: runFromRow(row),
          history: [],
          signals: [],
          ...(row.pending_action ? { pendingAction: row.pending_action } : {}),
          ...(row.due_at !== null ? { dueAt: row.due_at } : {}),
        },
      ]),
    );
    for (const row of history) byRun.get(row.run_id)!.history.push(eventFromRow(row));
    for (const row of signals) byRun.get(row.run_id)!.signals.push(signalFromRow(row));
    for (const task of outcomes) {
      const claimed = byRun.get(task.runId)!;
      claimed.taskOutcomes ??= [];
      claimed.taskOutcomes.push(task);
    }
    return [...byRun.values()];
  }

  async commit(batch: RunCommit[], leaseMs: number): Promise<CommitOutcome[]> {
    return applyCommits(this.pool, batch, leaseMs);
  }

  async setPendingAction(runId: string, action: PendingAction): Promise<boolean> {
    if (hasNul(runId)) return false;
    const rows = await this.query(
      'wm_set_pending_action',
      'UPDATE runs SET pending_action = $2::jsonb WHERE ' +
        'id = $1 AND ' +
        'lease_owner IS NOT NULL AND ' +
        'lease_expires_at >= now_ms() RETURNING id',
      [runId, JSON.stringify(action)],
    );
    return rows.length > 0;
  }

  /**
   * Skips rows another transaction holds locked instead of waiting for them: a renewal that waited could
   * deadlock with a group commit locking the same runs in another order (and abort that commit), while a
   * committing run's lease is extended by its commit anyway.
   */
  async renewLeases(workerId: string, runIds: string[], leaseMs: number): Promise<void> {
    if (runIds.length === 0) return;
    await this.query(
      'wm_renew',
      `UPDATE runs SET lease_expires_at = now_ms() + $3
       WHERE id IN (SELECT id FROM runs WHERE lease_owner = $1 AND id = ANY($2::text[]) FOR UPDATE SKIP LOCKED)`,
      [workerId, runIds, leaseMs],
    );
  }

  async releaseLeases(workerId: string, runIds?: string[]): Promise<void> {
    const rows = await this.query(
      'wm_release',
      `UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL,
         due_at = CASE WHEN status IN ('running', 'compensating') THEN LEAST(COALESCE(due_at, now_ms()), now_ms()) ELSE
           due_at END
       WHERE lease_owner = $1 AND ($2::text[] IS NULL OR id = ANY($2))
       RETURNING id`,
      [workerId, runIds ?? null],
    );
    if (rows.length > 0) this.notify();
  }

  async sendSignal(runId: string, name: string, payload: Json | undefined): Promise<PendingSignal> {
    if (hasNul(runId)) throw new WaymarkError('E_RUN_NOT_FOUND', `run '${storableText(runId)}' does not exist`);
    const signal = await this.transaction(async (client) => {
      const run = (
        await client.query<RunRow>({
          name: 'wm_lock_run',
          text: `SELECT ${runColumns()} FROM runs WHERE id = $1 FOR UPDATE`,
          values: [runId],
        })
      ).rows[0];
      if (!run) throw new WaymarkError('E_RUN_NOT_FOUND', `run '${runId}' does not exist`);
      if (isTerminal(run.status as Run['status'])) {
        throw new WaymarkError('E_INVALID_INPUT', `run '${runId}' is ${run.status}: it takes no more signals`, {
          details: { status: run.status },
        });
      }
      const [row] = (
        await client.query<SignalRow>({
          name: 'wm_insert_signal',
          text: `INSERT INTO signals (run_id, name, payload, sent_at) VALUES ($1, $2, $3, now_ms())
                 RETURNING ${signalColumns()}`,
          values: [runId, name, payload === undefined ? null : JSON.stringify(payload)],
        })
      ).rows;
      const woken = run.status === 'waiting' && (run.waiting_for?.signals ?? []).includes(name);
      if (woken) {
        await client.query({
          name: 'wm_wake',
          text: 'UPDATE runs SET due_at = now_ms() WHERE id = $1 AND (due_at IS NULL OR due_at > now_ms())',
          values: [runId],
        });
      }
      return { row: row!, woken };
    });
    if (signal.woken) this.notify();
    return signalFromRow(signal.row);
  }

  async nextDueAt(served: WorkflowVersionRef[]): Promise<number | undefined> {
    const [row] = await this.query<{ due: number | null; now: number }>(
      'wm_next_due',
      `SELECT MIN(due_at) AS due, now_ms() AS now FROM runs
       WHERE status IN ('running', 'waiting', 'compensating') AND due_at IS NOT NULL AND lease_owner IS NULL
         AND (workflow || '@' || version) = ANY($1::text[])${NOT_QUARANTINED}${HOLDS_ITS_LOCK}`,
      [served.map((s) => `${s.workflow}@${s.version}`)],
    );
    // Due times are on the database clock; translate to this process's clock.
    return row?.due == null ? undefined : Date.now() + (row.due - row.now);
  }

  async heartbeat(workerId: string, served: WorkflowVersionRef[], ttlMs: number): Promise<void> {
    await this.query(
      'wm_heartbeat',
      `INSERT INTO workers (worker_id, served, started_at, heartbeat_at, expires_at) VALUES ($1, $2::jsonb, now_ms(),
        now_ms(), now_ms() + $3)
       ON CONFLICT (worker_id) DO UPDATE SET served = excluded.served, heartbeat_at = excluded.heartbeat_at, expires_at
         = excluded.expires_at`,
      [workerId, JSON.stringify(served), ttlMs],
    );
  }

  async removeWorker(workerId: string): Promise<void> {
    await this.query('wm_remove_worker', 'DELETE FROM workers WHERE worker_id = $1', [workerId]);
  }

  runLease(runId: string): Promise<RunLease | undefined> {
    if (hasNul(runId)) return Promise.resolve(undefined);
    return runLease((name, text, values) => this.query(name, text, values), runId);
  }

  leaseHolds(): Promise<LeaseHold[]> {
    return leaseHolds((name, text, values) => this.query(name, text, values));
  }

  async liveWorkers(): Promise<WorkerRecord[]> {
    const rows = await this.query<WorkerRow>(
      'wm_live_workers',
      `SELECT ${workerColumns()} FROM workers WHERE expires_at >= now_ms() ORDER BY worker_id`,
    );
    return rows.map(workerFromRow);
  }

  async removeLostWorkers(): Promise<WorkerRecord[]> {
    const rows = await this.query<WorkerRow>(
      'wm_remove_lost_workers',
      `DELETE FROM workers WHERE expires_at < now_ms() RETURNING ${workerColumns()}`,
    );
    return rows.map(workerFromRow).sort((a, b) => a.workerId.localeCompare(b.workerId));
  }

  async checkReady(): Promise<void> {
    let version: number;
    try {
      const rows = await this.query<{ v: number }>(
        'wm_schema_version',
        'SELECT COALESCE(MAX(version), 0)::int AS v FROM waymark_schema',
      );
      version = rows[0]!.v;
    } catch (error) {
      throw new WaymarkError(
        'E_STORE',
        `the PostgreSQL store (schema '${this.schema}') does not answer: ${(error as Error).message}`,
      );
    }
    if (version < this.knownSchemaVersion)
      throw new WaymarkError(
        'E_STORE',
        `the PostgreSQL schema '${this.schema}' is at migration ${version}, ` +
          `this Waymark needs ${this.knownSchemaVersion}`,
        { details: { schemaVersion: version, needed: this.knownSchemaVersion } },
      );
  }

  async countRuns(): Promise<RunCount[]> {
    return this.query<RunCount>(
      'wm_count_runs',
      'SELECT workflow, version, status, ' +
        'COUNT(*)::int AS count FROM runs GROUP BY workflow, ' +
        'version, status ORDER BY workflow, version, status',
    );
  }

  async inFlightGroups(): Promise<InFlightGroup[]> {
    return this.query<InFlightGroup>(
      'wm_inflight_groups',
      `SELECT workflow, version, status,
         CASE status
           WHEN 'waiting' THEN (waiting_for->>'kind') || COALESCE(':' || (waiting_for->>'name'), '')
           WHEN 'needs_attention' THEN (attention->'details'->>'reason') || COALESCE(':' ||
             (attention->'details'->>'step'), '')
         END AS "parkedOn",
         COUNT(*)::int AS count, MIN(created_at) AS "oldestCreatedAt", MIN(due_at) AS "earliestDueAt", MAX(due_at) AS
           "latestDueAt",
         COUNT(*) FILTER (WHERE due_at IS NULL)::int AS unscheduled
       FROM runs WHERE status NOT IN ('completed', 'failed', 'cancelled', 'compensated')
       GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
    );
  }

  async patchUsage(): Promise<PatchUsage[]> {
    return this.query<PatchUsage>(
      'wm_patch_usage',
      `WITH marks AS (
         SELECT r.workflow, h.data::jsonb->>'id' AS patch, MIN(h.at) AS first_seen
         FROM history h JOIN runs r ON r.id = h.run_id WHERE h.type = 'patch_marker' GROUP BY 1, 2),
       inflight AS (SELECT id, workflow, created_at FROM runs WHERE status NOT IN ('completed', 'failed', 'cancelled',
         'compensated')),
       marked AS (SELECT DISTINCT h.run_id, h.data::jsonb->>'id' AS patch FROM history h WHERE h.type = 'patch_marker')
       SELECT m.workflow, m.patch, m.first_seen AS "firstSeenAt",
         COUNT(i.id) FILTER (WHERE k.run_id IS NOT NULL)::int AS patched,
         COUNT(i.id) FILTER (WHERE k.run_id IS NULL)::int AS "onOldBranch"
       FROM marks m LEFT JOIN inflight i ON i.workflow = m.workflow LEFT JOIN marked k ON k.run_id = i.id AND k.patch =
         m.patch
       GROUP BY m.workflow, m.patch, m.first_seen ORDER BY 1, 2`,
    );
  }

  onWake(listener: () => void): () => void {
    return this.wake.subscribe(listener);
  }

  async close(): Promise<void> {
    await this.wake.close();
    await this.pool.end();
  }

  /** Tells listening workers that work may be due (after the change committed; best effort). */
  private notify(): void {
    this.pool.query('SELECT pg_notify($1, $2)', [this.channel, '']).catch(() => {});
  }

  private transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, fn);
  }
}
