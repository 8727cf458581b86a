import type pg from 'pg';
import { storableText } from '../../core/text.js';
import type { HistoryEvent, WaitInfo } from '../../core/types.js';
import { startedData } from '../started.js';
import { startProblem } from '../storable.js';
import type { ClaimedRun, CreateRunRequest, CreateRunResult } from '../types.js';
import { isDataError, isTransientClash } from './errors.js';
import { serializeKeys } from './locks.js';
import { runColumns, runFromRow, type RunRow } from './rows.js';
import { inTransaction } from './transaction.js';

/** Attempts at a batch of starts that met a deadlock (tried again whole). (Default: 3) */
const CLASH_ATTEMPTS = 3;

/**
 * Creates a batch of runs in one transaction. A start the store cannot keep is refused before anything is
 * sent; one the server refuses makes the batch be applied again start by start in savepoints, so only it
 * is refused.
 */
export async function createRuns(
  pool: pg.Pool,
  requests: CreateRunRequest[],
  leaseMs: number,
): Promise<CreateRunResult[]> {
  const problems = requests.map(startProblem);
  const valid = requests.filter((_, i) => problems[i] === undefined);
  const results = valid.length > 0 ? await createChecked(pool, valid, leaseMs) : [];
  let next = 0;
  return requests.map(
    (_, i): CreateRunResult =>
      problems[i] === undefined ? results[next++]! : { created: false, refused: problems[i]! },
  );
}

async function createChecked(pool: pg.Pool, requests: CreateRunRequest[], leaseMs: number): Promise<CreateRunResult[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await inTransaction(pool, (client) => createAll(client, requests, leaseMs));
    } catch (error) {
      if (isDataError(error)) break;
      if (!isTransientClash(error) || attempt >= CLASH_ATTEMPTS) throw error;
    }
  }
  return inTransaction(pool, async (client) => {
    await serializeKeys(
      client,
      requests.flatMap((r) => (r.lock ? [r.lock.key] : [])),
    );
    const results: CreateRunResult[] = [];
    for (const request of requests) {
      await client.query('SAVEPOINT wm_start');
      try {
        results.push(...(await createAll(client, [request], leaseMs)));
        await client.query('RELEASE SAVEPOINT wm_start');
      } catch (error) {
        if (!isDataError(error)) throw error;
        await client.query('ROLLBACK TO SAVEPOINT wm_start');
        results.push({ created: false, refused: storableText((error as Error).message) });
      }
    }
    return results;
  });
}

/**
 * Creates the runs inside the caller's transaction: those without a lock in one statement, then each locked one under
 * its key.
 */
async function createAll(
  client: pg.PoolClient,
  requests: CreateRunRequest[],
  leaseMs: number,
): Promise<CreateRunResult[]> {
  // Keys first (sorted), before any row is written: starts, ending holders and operators of one key take turns.
  await serializeKeys(
    client,
    requests.flatMap((r) => (r.lock ? [r.lock.key] : [])),
  );
  const out = new Map<CreateRunRequest, CreateRunResult>();
  const plain = requests.filter((r) => !r.lock);
  if (plain.length) {
    const results = await createPlainRuns(client, plain, leaseMs);
    for (const [i, result] of results.entries()) out.set(plain[i]!, result);
  }
  for (const request of requests.filter((r) => r.lock))
    out.set(request, await createLockedRun(client, request, leaseMs));
  return requests.map((r) => out.get(r)!);
}

/**
 * The creation time of a run queued for its key ($11): now, or one past the last queued run's when that is not
 * earlier, so runs queued within one millisecond keep their start order (rule "lock hand-over" orders by it).
 */
const QUEUED_AT = `GREATEST(now_ms(), COALESCE((SELECT MAX(q.created_at) + 1 FROM runs q
                     WHERE q.lock_key = $11 AND q.status = 'waiting'), 0))`;

/** Inserts runs without locks in one statement each for runs and events; existing ids are returned as they are. */
async function createPlainRuns(
  client: pg.PoolClient,
  requests: CreateRunRequest[],
  leaseMs: number,
): Promise<CreateRunResult[]> {
  const inserted = await client.query<RunRow>({
    name: 'wm_create_runs',
    text: `INSERT INTO runs (id, workflow, version, status, input, next_pos, due_at, lease_owner, lease_expires_at,
      expires_at, correlation_id, start_options, created_at, updated_at)
           SELECT id, w, v, 'running', i, 1, now_ms(), o, CASE WHEN o IS NULL THEN NULL ELSE now_ms() + $7 END, e, c,
             so, now_ms(), now_ms()
           FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::bigint[], $8::text[], $9::text[])
             AS r(id, w, v, i, o, e, c, so)
           ON CONFLICT (id) DO NOTHING
           RETURNING ${runColumns()}`,
    values: [
      requests.map((r) => r.id),
      requests.map((r) => r.workflow),
      requests.map((r) => r.version),
      requests.map((r) => JSON.stringify(r.input ?? null)),
      requests.map((r) => r.leaseOwner ?? null),
      requests.map((r) => r.expiresAt ?? null),
      leaseMs,
      requests.map((r) => r.correlationId ?? null),
      requests.map((r) => (r.startOptions ? JSON.stringify(r.startOptions) : null)),
    ],
  });
  const created = new Map(inserted.rows.map((row) => [row.id, row]));
  const fresh = requests.filter((r, i) => created.has(r.id) && requests.findIndex((o) => o.id === r.id) === i);
  if (fresh.length > 0) await insertStartedEvents(client, fresh);
  const missing = requests.filter((r) => !created.has(r.id)).map((r) => r.id);
  const existing = missing.length
    ? new Map(
        (
          await client.query<RunRow>({
            name: 'wm_get_runs',
            text: `SELECT ${runColumns()} FROM runs WHERE id = ANY($1::text[])`,
            values: [missing],
          })
        ).rows.map((r) => [r.id, r]),
      )
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

/**
 * Creates one run that must hold a target lock: it takes the lock, queues for it, or is refused. The caller
 * holds the key (serializeKeys), so a start of the same id and key elsewhere has committed or not begun.
 */
async function createLockedRun(
  client: pg.PoolClient,
  request: CreateRunRequest,
  leaseMs: number,
): Promise<CreateRunResult> {
  const lock = request.lock!;
  const existing = await getRunRow(client, request.id);
  if (existing) return { created: false, run: runFromRow(existing), claimed: undefined };
  const taken = await client.query({
    name: 'wm_take_lock',
    text: `INSERT INTO locks (key, run_id, acquired_at) VALUES ($1, $2, now_ms()) ON CONFLICT (key) DO NOTHING
           RETURNING key`,
    values: [lock.key, request.id],
  });
  const queued = taken.rowCount === 0;
  if (queued && lock.onConflict === 'reject') {
    const holder = (
      await client.query<{ run_id: string }>({
        name: 'wm_lock_holder',
        text: 'SELECT run_id FROM locks WHERE key = $1',
        values: [lock.key],
      })
    ).rows[0];
    return { created: false, lockHeldBy: { key: lock.key, runId: holder?.run_id ?? '(released meanwhile)' } };
  }
  const waitingFor: WaitInfo | null = queued ? { kind: 'lock', name: lock.key } : null;
  const owner = queued ? null : (request.leaseOwner ?? null);
  const [row] = (
    await client.query<RunRow>({
      name: 'wm_create_locked_run',
      text: `INSERT INTO runs (id, workflow, version, status, input, waiting_for, next_pos, due_at, lease_owner,
        lease_expires_at,
                               expires_at, lock_key, correlation_id, start_options, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6::jsonb, 1, CASE WHEN $7 THEN NULL ELSE now_ms() END, $8,
                     CASE WHEN $8::text IS NULL THEN NULL ELSE now_ms() + $9 END, $10, $11, $12, $13,
                     CASE WHEN $7 THEN ${QUEUED_AT} ELSE now_ms() END, now_ms())
             ON CONFLICT (id) DO NOTHING
             RETURNING ${runColumns()}`,
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
        request.startOptions ? JSON.stringify(request.startOptions) : null,
      ],
    })
  ).rows;
  if (!row) {
    // The same id was just started with another key (another input) elsewhere: that run stands, this start takes
    // nothing.
    if (!queued)
      await client.query({
        name: 'wm_untake_lock',
        text: 'DELETE FROM locks WHERE key = $1 AND run_id = $2',
        values: [lock.key, request.id],
      });
    return { created: false, run: runFromRow((await getRunRow(client, request.id))!), claimed: undefined };
  }
  await insertStartedEvents(client, [request]);
  return createdResult(row, request);
}

async function getRunRow(client: pg.PoolClient, id: string): Promise<RunRow | undefined> {
  return (
    await client.query<RunRow>({
      name: 'wm_get_run_tx',
      text: `SELECT ${runColumns()} FROM runs WHERE id = $1`,
      values: [id],
    })
  ).rows[0];
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
