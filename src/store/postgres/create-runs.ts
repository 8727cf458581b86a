import type pg from 'pg';
import type { HistoryEvent, WaitInfo } from '../../core/types.js';
import { startedData } from '../started.js';
import type { ClaimedRun, CreateRunRequest, CreateRunResult } from '../types.js';
import { runFromRow, type RunRow } from './rows.js';

/** Inserts runs without locks in one statement each for runs and events; existing ids are returned as they are. */
export async function createPlainRuns(client: pg.PoolClient, requests: CreateRunRequest[], leaseMs: number): Promise<CreateRunResult[]> {
  const inserted = await client.query<RunRow>({
    name: 'wm_create_runs',
    text: `INSERT INTO runs (id, workflow, version, status, input, next_pos, due_at, lease_owner, lease_expires_at, expires_at, correlation_id, created_at, updated_at)
           SELECT id, w, v, 'running', i, 1, now_ms(), o, CASE WHEN o IS NULL THEN NULL ELSE now_ms() + $7 END, e, c, now_ms(), now_ms()
           FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::bigint[], $8::text[]) AS r(id, w, v, i, o, e, c)
           ON CONFLICT (id) DO NOTHING
           RETURNING *`,
    values: [
      requests.map((r) => r.id),
      requests.map((r) => r.workflow),
      requests.map((r) => r.version),
      requests.map((r) => JSON.stringify(r.input ?? null)),
      requests.map((r) => r.leaseOwner ?? null),
      requests.map((r) => r.expiresAt ?? null),
      leaseMs,
      requests.map((r) => r.correlationId ?? null),
    ],
  });
  const created = new Map(inserted.rows.map((row) => [row.id, row]));
  const fresh = requests.filter((r, i) => created.has(r.id) && requests.findIndex((o) => o.id === r.id) === i);
  if (fresh.length > 0) await insertStartedEvents(client, fresh);
  const missing = requests.filter((r) => !created.has(r.id)).map((r) => r.id);
  const existing = missing.length
    ? new Map((await client.query<RunRow>({ name: 'wm_get_runs', text: 'SELECT * FROM runs WHERE id = ANY($1::text[])', values: [missing] })).rows.map((r) => [r.id, r]))
    : new Map<string, RunRow>();
  const seen = new Set<string>();
  return requests.map((request) => {
    const row = created.get(request.id);
    if (row && !seen.has(request.id)) {
      seen.add(request.id);
      return createdResult(row, request);
    }
    return { created: false, run: runFromRow(existing.get(request.id) ?? row!), claimed: undefined };
  });
}

/** Creates one run that must hold a target lock: it takes the lock, queues for it, or is refused. */
export async function createLockedRun(client: pg.PoolClient, request: CreateRunRequest, leaseMs: number): Promise<CreateRunResult> {
  const lock = request.lock!;
  const existing = (await client.query<RunRow>({ name: 'wm_get_run_tx', text: 'SELECT * FROM runs WHERE id = $1', values: [request.id] })).rows[0];
  if (existing) return { created: false, run: runFromRow(existing), claimed: undefined };
  // Waits for a concurrent taker of the same key to commit or roll back, then either wins or sees the holder.
  const taken = await client.query({
    name: 'wm_take_lock',
    text: 'INSERT INTO locks (key, run_id, acquired_at) VALUES ($1, $2, now_ms()) ON CONFLICT (key) DO NOTHING RETURNING key',
    values: [lock.key, request.id],
  });
  const queued = taken.rowCount === 0;
  if (queued && lock.onConflict === 'reject') {
    const holder = (await client.query<{ run_id: string }>({ name: 'wm_lock_holder', text: 'SELECT run_id FROM locks WHERE key = $1', values: [lock.key] })).rows[0];
    return { created: false, lockHeldBy: { key: lock.key, runId: holder?.run_id ?? '(released meanwhile)' } };
  }
  const waitingFor: WaitInfo | null = queued ? { kind: 'lock', name: lock.key } : null;
  const owner = queued ? null : (request.leaseOwner ?? null);
  const [row] = (
    await client.query<RunRow>({
      name: 'wm_create_locked_run',
      text: `INSERT INTO runs (id, workflow, version, status, input, waiting_for, next_pos, due_at, lease_owner, lease_expires_at,
                               expires_at, lock_key, correlation_id, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6::jsonb, 1, CASE WHEN $7 THEN NULL ELSE now_ms() END, $8,
                     CASE WHEN $8::text IS NULL THEN NULL ELSE now_ms() + $9 END, $10, $11, $12, now_ms(), now_ms())
             RETURNING *`,
      values: [
        request.id,
        request.workflow,
        request.version,
        queued ? 'waiting' : 'running',
        JSON.stringify(request.input ?? null),
        waitingFor ? JSON.stringify(waitingFor) : null,
        queued,
        owner,
        leaseMs,
        request.expiresAt ?? null,
        lock.key,
        request.correlationId ?? null,
      ],
    })
  ).rows;
  await insertStartedEvents(client, [request]);
  return createdResult(row!, request);
}

async function insertStartedEvents(client: pg.PoolClient, requests: CreateRunRequest[]): Promise<void> {
  await client.query({
    name: 'wm_create_started_events',
    text: `INSERT INTO history (run_id, pos, type, data, at)
           SELECT id, 0, 'run_started', d, now_ms() FROM unnest($1::text[], $2::text[]) AS x(id, d)`,
    values: [requests.map((r) => r.id), requests.map((r) => JSON.stringify(startedData(r)))],
  });
}

function createdResult(row: RunRow, request: CreateRunRequest): CreateRunResult {
  const run = runFromRow(row);
  const started: HistoryEvent = { pos: 0, type: 'run_started', at: row.created_at, data: startedData(request) };
  const claimed: ClaimedRun | undefined = row.lease_owner ? { run, history: [started], signals: [] } : undefined;
  return { created: true, run, claimed };
}
