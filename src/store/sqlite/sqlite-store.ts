import Database from 'better-sqlite3';
import { WaymarkError } from '../../core/errors.js';
import { isTerminal, type HistoryEvent, type Json, type NewEvent, type RunStatus, type WaitInfo } from '../../core/types.js';
import type {
  ClaimedRun,
  CommitOutcome,
  CreateRunOptions,
  NewRun,
  PendingSignal,
  RunCommit,
  RunFilter,
  Store,
  WorkflowVersionRecord,
  WorkflowVersionRef,
} from '../types.js';
import { migrateSqlite } from './migrate.js';
import {
  eventFromRow,
  runFromRow,
  signalFromRow,
  toColumn,
  workflowVersionFromRow,
  type HistoryRow,
  type RunRow,
  type SignalRow,
  type WorkflowVersionRow,
} from './rows.js';

export interface SqliteStoreOptions {
  /** File path, or ':memory:'. */
  path: string;
  /** 'full' fsyncs every commit; 'normal' may lose the last commits on power loss. (Default: 'full') */
  synchronous?: 'full' | 'normal';
  /** How long a writer waits for another process's transaction, in ms. (Default: 10000) */
  busyTimeoutMs?: number;
}

const servedKeys = (served: WorkflowVersionRef[]) => JSON.stringify(served.map((s) => `${s.workflow}@${s.version}`));

/** The embedded store: one SQLite file in WAL mode, shared safely by the processes that open it. */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly sql;
  /** Run-row updates differ by which columns change; each shape is prepared once. */
  private readonly updateStatements = new Map<string, Database.Statement>();

  constructor(options: SqliteStoreOptions) {
    this.db = new Database(options.path);
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
    if (options.path !== ':memory:') this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    try {
      migrateSqlite(this.db);
    } catch (error) {
      this.db.close();
      throw error;
    }
    this.sql = this.prepareStatements();
  }

  private prepareStatements() {
    const db = this.db;
    return {
      insertVersion: db.prepare(
        'INSERT INTO workflow_versions (workflow, version, fingerprint, registered_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      listVersions: db.prepare('SELECT * FROM workflow_versions ORDER BY workflow, version'),
      getRun: db.prepare('SELECT * FROM runs WHERE id = ?'),
      insertRun: db.prepare(
        `INSERT INTO runs (id, workflow, version, status, input, next_pos, due_at, lease_owner, lease_expires_at, created_at, updated_at)
         VALUES (@id, @workflow, @version, 'running', @input, 1, @now, @leaseOwner, @leaseExpiresAt, @now, @now)
         ON CONFLICT (id) DO NOTHING`,
      ),
      history: db.prepare('SELECT * FROM history WHERE run_id = ? ORDER BY pos'),
      insertEvent: db.prepare('INSERT INTO history (run_id, pos, type, seq, name, data, at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      pendingSignalNamed: db.prepare(
        'SELECT 1 FROM signals WHERE run_id = ? AND consumed_at IS NULL AND name IN (SELECT value FROM json_each(?)) LIMIT 1',
      ),
      pendingSignals: db.prepare('SELECT * FROM signals WHERE run_id = ? AND consumed_at IS NULL ORDER BY id'),
      claim: db.prepare(
        `UPDATE runs SET lease_owner = @owner, lease_expires_at = @expires, status = 'running', updated_at = @now
         WHERE id IN (
           SELECT id FROM runs
           WHERE status IN ('running', 'waiting') AND due_at <= @now
             AND (lease_owner IS NULL OR lease_expires_at < @now)
             AND (workflow || '@' || version) IN (SELECT value FROM json_each(@served))
           ORDER BY due_at LIMIT @limit)
         RETURNING *`,
      ),
      leaseOf: db.prepare('SELECT lease_owner, next_pos FROM runs WHERE id = ?'),
      consumeSignal: db.prepare('UPDATE signals SET consumed_at = ? WHERE id = ? AND run_id = ? AND consumed_at IS NULL'),
      renew: db.prepare('UPDATE runs SET lease_expires_at = ? WHERE lease_owner = ?'),
      releaseAll: db.prepare(
        `UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL,
           due_at = CASE WHEN status = 'running' THEN MIN(COALESCE(due_at, @now), @now) ELSE due_at END
         WHERE lease_owner = @owner`,
      ),
      releaseOne: db.prepare(
        `UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL,
           due_at = CASE WHEN status = 'running' THEN MIN(COALESCE(due_at, @now), @now) ELSE due_at END
         WHERE lease_owner = @owner AND id = @id`,
      ),
      insertSignal: db.prepare('INSERT INTO signals (run_id, name, payload, sent_at) VALUES (?, ?, ?, ?)'),
      wake: db.prepare("UPDATE runs SET due_at = ? WHERE id = ? AND status = 'waiting' AND (due_at IS NULL OR due_at > ?)"),
      nextDue: db.prepare(
        `SELECT MIN(due_at) AS due FROM runs
         WHERE status IN ('running', 'waiting') AND due_at IS NOT NULL AND lease_owner IS NULL
           AND (workflow || '@' || version) IN (SELECT value FROM json_each(?))`,
      ),
    };
  }

  async registerWorkflowVersions(records: Omit<WorkflowVersionRecord, 'registeredAt'>[]): Promise<void> {
    const now = Date.now();
    this.db.transaction(() => {
      for (const r of records) this.sql.insertVersion.run(r.workflow, r.version, r.fingerprint, now);
    }).immediate();
  }

  async listWorkflowVersions(): Promise<WorkflowVersionRecord[]> {
    return (this.sql.listVersions.all() as WorkflowVersionRow[]).map(workflowVersionFromRow);
  }

  async createRun(run: NewRun, options: CreateRunOptions) {
    const now = Date.now();
    return this.db.transaction(() => {
      const inserted = this.sql.insertRun.run({
        id: run.id,
        workflow: run.workflow,
        version: run.version,
        input: toColumn(run.input),
        now,
        leaseOwner: options.leaseOwner ?? null,
        leaseExpiresAt: options.leaseOwner ? now + options.leaseMs : null,
      });
      if (inserted.changes === 0) {
        const existing = runFromRow(this.sql.getRun.get(run.id) as RunRow);
        return { created: false, claimed: undefined, run: existing };
      }
      const started: HistoryEvent = { pos: 0, type: 'run_started', at: now, data: { workflow: run.workflow, version: run.version, input: run.input ?? null } };
      this.sql.insertEvent.run(run.id, 0, started.type, null, null, toColumn(started.data), now);
      const created = runFromRow(this.sql.getRun.get(run.id) as RunRow);
      const claimed: ClaimedRun | undefined = options.leaseOwner ? { run: created, history: [started], signals: [] } : undefined;
      return { created: true, claimed, run: created };
    }).immediate();
  }

  async getRun(id: string) {
    const row = this.sql.getRun.get(id) as RunRow | undefined;
    return row ? runFromRow(row) : undefined;
  }

  async listRuns(filter: RunFilter) {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.workflow !== undefined) {
      where.push('workflow = ?');
      params.push(filter.workflow);
    }
    if (filter.version !== undefined) {
      where.push('version = ?');
      params.push(filter.version);
    }
    const statuses = filter.status === undefined ? [] : Array.isArray(filter.status) ? filter.status : [filter.status];
    if (statuses.length > 0) {
      where.push(`status IN (${statuses.map(() => '?').join(', ')})`);
      params.push(...statuses);
    }
    const sql = `SELECT * FROM runs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, id LIMIT ?`;
    params.push(filter.limit ?? 100);
    return (this.db.prepare(sql).all(...params) as RunRow[]).map(runFromRow);
  }

  async history(runId: string) {
    return (this.sql.history.all(runId) as HistoryRow[]).map(eventFromRow);
  }

  async claimRuns(workerId: string, served: WorkflowVersionRef[], limit: number, leaseMs: number): Promise<ClaimedRun[]> {
    if (limit <= 0 || served.length === 0) return [];
    const now = Date.now();
    return this.db.transaction(() => {
      const rows = this.sql.claim.all({ owner: workerId, expires: now + leaseMs, now, served: servedKeys(served), limit }) as RunRow[];
      return rows.map((row) => ({
        run: runFromRow(row),
        history: (this.sql.history.all(row.id) as HistoryRow[]).map(eventFromRow),
        signals: (this.sql.pendingSignals.all(row.id) as SignalRow[]).map(signalFromRow),
      }));
    }).immediate();
  }

  async commit(batch: RunCommit[], leaseMs: number): Promise<CommitOutcome[]> {
    const now = Date.now();
    const applyOne = this.db.transaction((c: RunCommit): CommitOutcome => this.applyCommit(c, now, leaseMs));
    return this.db.transaction(() =>
      batch.map((c) => {
        try {
          return applyOne(c);
        } catch (error) {
          if ((error as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) return { ok: false, reason: 'conflict' } as const;
          throw error;
        }
      }),
    ).immediate();
  }

  private applyCommit(c: RunCommit, now: number, leaseMs: number): CommitOutcome {
    const current = this.sql.leaseOf.get(c.runId) as { lease_owner: string | null; next_pos: number } | undefined;
    if (!current) return { ok: false, reason: 'missing' };
    if (current.lease_owner !== c.workerId) return { ok: false, reason: 'lease_lost' };
    if (current.next_pos !== c.fromPos) return { ok: false, reason: 'conflict' };
    let pos = c.fromPos;
    for (const e of c.events) insertEvent(this.sql.insertEvent, c.runId, pos++, e, now);
    for (const id of c.consumedSignals ?? []) this.sql.consumeSignal.run(now, id, c.runId);
    const u = c.update;
    const sets = ['next_pos = @nextPos', 'updated_at = @now'];
    const params: Record<string, unknown> = { id: c.runId, nextPos: pos, now };
    if (u) {
      sets.push('status = @status');
      params.status = u.status;
      if (u.output !== undefined) (sets.push('output = @output'), (params.output = toColumn(u.output)));
      if (u.error !== undefined) (sets.push('error = @error'), (params.error = toColumn(u.error)));
      if (u.waitingFor !== undefined) (sets.push('waiting_for = @waitingFor'), (params.waitingFor = toColumn(u.waitingFor)));
      if (u.attention !== undefined) (sets.push('attention = @attention'), (params.attention = toColumn(u.attention)));
      if (u.dueAt !== undefined) (sets.push('due_at = @dueAt'), (params.dueAt = u.dueAt));
      if (isTerminal(u.status) || u.status === 'needs_attention') sets.push('due_at = NULL');
      else if (u.status === 'waiting' && u.waitingFor?.signals?.length) {
        // A signal that arrived while the run was still executing must wake it now, not never.
        const names = JSON.stringify(u.waitingFor.signals);
        if (this.sql.pendingSignalNamed.get(c.runId, names)) (sets.push('due_at = @dueAt'), (params.dueAt = now));
      }
    }
    if (u?.releaseLease || (u && (isTerminal(u.status) || u.status === 'needs_attention'))) {
      sets.push('lease_owner = NULL', 'lease_expires_at = NULL');
    } else {
      sets.push('lease_expires_at = @expires');
      params.expires = now + leaseMs;
    }
    const sql = `UPDATE runs SET ${[...new Set(sets)].join(', ')} WHERE id = @id`;
    let statement = this.updateStatements.get(sql);
    if (!statement) this.updateStatements.set(sql, (statement = this.db.prepare(sql)));
    statement.run(params);
    return { ok: true };
  }

  async renewLeases(workerId: string, leaseMs: number) {
    this.sql.renew.run(Date.now() + leaseMs, workerId);
  }

  async releaseLeases(workerId: string, runIds?: string[]) {
    const now = Date.now();
    this.db.transaction(() => {
      if (!runIds) this.sql.releaseAll.run({ owner: workerId, now });
      else for (const id of runIds) this.sql.releaseOne.run({ owner: workerId, id, now });
    }).immediate();
  }

  async sendSignal(runId: string, name: string, payload: Json | undefined): Promise<PendingSignal> {
    const now = Date.now();
    return this.db.transaction(() => {
      const row = this.sql.getRun.get(runId) as RunRow | undefined;
      if (!row) throw new WaymarkError('E_RUN_NOT_FOUND', `run '${runId}' does not exist`);
      if (isTerminal(row.status as RunStatus)) {
        throw new WaymarkError('E_INVALID_INPUT', `run '${runId}' is ${row.status}: it takes no more signals`, { details: { status: row.status } });
      }
      const inserted = this.sql.insertSignal.run(runId, name, toColumn(payload), now);
      const waitingFor = row.waiting_for ? (JSON.parse(row.waiting_for) as WaitInfo) : undefined;
      if (row.status === 'waiting' && waitingFor?.signals?.includes(name)) this.sql.wake.run(now, runId, now);
      return { id: Number(inserted.lastInsertRowid), name, payload: payload as Json | undefined, sentAt: now };
    }).immediate();
  }

  async nextDueAt(served: WorkflowVersionRef[]) {
    const row = this.sql.nextDue.get(servedKeys(served)) as { due: number | null };
    return row.due ?? undefined;
  }

  async close() {
    if (this.db.open) this.db.close();
  }
}

function insertEvent(statement: Database.Statement, runId: string, pos: number, e: NewEvent, now: number) {
  statement.run(runId, pos, e.type, e.seq ?? null, e.name ?? null, toColumn(e.data), e.at ?? now);
}
