import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { WaymarkError } from '../../src/core/errors.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { sqliteMigrations } from '../../src/store/sqlite/migrate.js';
import { tempDb } from '../helpers.js';

const served = [{ workflow: 'w', version: 1 }];

async function storeWithRun(path = tempDb()) {
  const store = new SqliteStore({ path });
  await store.registerWorkflowVersions([{ workflow: 'w', version: 1, fingerprint: 'f1' }]);
  await store.createRuns([{ id: 'r1', workflow: 'w', version: 1, input: { a: 1 } }], 1000);
  return { store, path };
}

test('migrations create the schema once and record its version; reopening applies nothing twice', async () => {
  const path = tempDb();
  await new SqliteStore({ path }).close();
  await new SqliteStore({ path }).close();
  const db = new Database(path, { readonly: true });
  const versions = db.prepare('SELECT version FROM waymark_schema ORDER BY version').all() as { version: number }[];
  db.close();
  assert.deepEqual(versions.map((v) => v.version), sqliteMigrations().map((m) => m.version));
});

test('a database written by a newer schema is refused clearly and left untouched', async () => {
  const path = tempDb();
  await new SqliteStore({ path }).close();
  const db = new Database(path);
  db.prepare('INSERT INTO waymark_schema (version, applied_at) VALUES (999, 0)').run();
  const before = db.prepare('SELECT COUNT(*) AS n FROM waymark_schema').get();
  db.close();
  assert.throws(
    () => new SqliteStore({ path }),
    (e: unknown) => e instanceof WaymarkError && e.code === 'E_SCHEMA_TOO_NEW' && /schema is version 999/.test(e.message),
  );
  const after = new Database(path, { readonly: true });
  assert.deepEqual(after.prepare('SELECT COUNT(*) AS n FROM waymark_schema').get(), before);
  after.close();
});

test('createRuns is insert-or-get and writes the run_started event with the run', async () => {
  const { store } = await storeWithRun();
  const [again] = await store.createRuns([{ id: 'r1', workflow: 'w', version: 1, input: { a: 2 } }], 1000);
  assert.equal(again!.created, false);
  assert.deepEqual(again!.run.input, { a: 1 });
  const history = await store.history('r1');
  assert.deepEqual(history.map((e) => [e.pos, e.type]), [[0, 'run_started']]);
  await store.close();
});

test('a claimed run is leased to one worker only until its lease expires', async () => {
  const { store } = await storeWithRun();
  const a = await store.claimRuns('worker-a', served, 10, 200);
  const b = await store.claimRuns('worker-b', served, 10, 200);
  assert.deepEqual(a.map((c) => c.run.id), ['r1']);
  assert.deepEqual(b, [], 'a live lease is not claimable');
  assert.deepEqual(await store.claimRuns('worker-b', [{ workflow: 'w', version: 2 }], 10, 200), [], 'unserved versions are not claimed');
  await new Promise((resolve) => setTimeout(resolve, 250));
  const taken = await store.claimRuns('worker-b', served, 10, 200);
  assert.deepEqual(taken.map((c) => c.run.id), ['r1'], 'an expired lease is claimable');
  await store.close();
});

test('commits are fenced: a worker that lost the lease or the history position writes nothing', async () => {
  const { store } = await storeWithRun();
  await store.claimRuns('worker-a', served, 10, 10_000);
  const event = { type: 'step_completed' as const, seq: 0, name: 's', data: { output: 1 } };
  const outcomes = await store.commit(
    [
      { runId: 'r1', workerId: 'worker-b', fromPos: 1, events: [event] },
      { runId: 'r1', workerId: 'worker-a', fromPos: 5, events: [event] },
      { runId: 'missing', workerId: 'worker-a', fromPos: 1, events: [event] },
      { runId: 'r1', workerId: 'worker-a', fromPos: 1, events: [event] },
    ],
    10_000,
  );
  assert.deepEqual(outcomes, [
    { ok: false, reason: 'lease_lost' },
    { ok: false, reason: 'conflict' },
    { ok: false, reason: 'missing' },
    { ok: true },
  ]);
  assert.deepEqual((await store.history('r1')).map((e) => e.type), ['run_started', 'step_completed']);
  await store.close();
});

test('a step outcome can never be committed twice for the same (run, seq)', async () => {
  const { store } = await storeWithRun();
  await store.claimRuns('worker-a', served, 10, 10_000);
  const event = { type: 'step_completed' as const, seq: 0, name: 's', data: { output: 1 } };
  assert.deepEqual(await store.commit([{ runId: 'r1', workerId: 'worker-a', fromPos: 1, events: [event] }], 10_000), [{ ok: true }]);
  // Same seq again at the next position (a confused writer): refused by the (run, seq) constraint.
  const second = await store.commit(
    [{ runId: 'r1', workerId: 'worker-a', fromPos: 2, events: [{ ...event, data: { output: 2 } }], update: { status: 'completed' } }],
    10_000,
  );
  assert.deepEqual(second, [{ ok: false, reason: 'conflict' }]);
  const run = await store.getRun('r1');
  assert.equal(run?.status, 'running', 'the refused commit changed nothing, not even the run row');
  assert.equal((await store.history('r1')).length, 2);
  await store.close();
});

test('a signal wakes a run only when it waits for that signal name', async () => {
  const { store } = await storeWithRun();
  await store.claimRuns('worker-a', served, 10, 10_000);
  const waitingFor = { kind: 'signal' as const, seq: 0, name: 'go', signals: ['go'] };
  await store.commit([{ runId: 'r1', workerId: 'worker-a', fromPos: 1, events: [], update: { status: 'waiting', waitingFor, dueAt: null, releaseLease: true } }], 10_000);
  await store.sendSignal('r1', 'other', null);
  assert.deepEqual(await store.claimRuns('worker-a', served, 10, 10_000), [], 'an unrelated signal does not wake it');
  const sent = await store.sendSignal('r1', 'go', { ok: true });
  const [claimed] = await store.claimRuns('worker-a', served, 10, 10_000);
  assert.equal(claimed?.run.id, 'r1');
  assert.deepEqual(claimed?.signals.map((s) => [s.id, s.name, s.payload]), [[sent.id - 1, 'other', undefined], [sent.id, 'go', { ok: true }]]);
  await store.close();
});

test('suspending while a matching signal is already in the inbox makes the run due at once', async () => {
  const { store } = await storeWithRun();
  await store.claimRuns('worker-a', served, 10, 10_000);
  await store.sendSignal('r1', 'go', 1); // arrives while the run is executing (status running)
  const waitingFor = { kind: 'signal' as const, seq: 0, name: 'go', signals: ['go'] };
  await store.commit([{ runId: 'r1', workerId: 'worker-a', fromPos: 1, events: [], update: { status: 'waiting', waitingFor, dueAt: null, releaseLease: true } }], 10_000);
  assert.equal((await store.claimRuns('worker-b', served, 10, 10_000)).length, 1);
  await store.close();
});
