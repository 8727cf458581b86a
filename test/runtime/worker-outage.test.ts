import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { Engine } from '../../src/index.js';
import { tempDb } from '../helpers.js';
import { privateClusterUnavailable, startPrivateCluster } from '../pg-private.js';
import { startFixture, stopGracefully, type Fixture } from '../processes.js';

/** An embedded worker process and every warning it has logged so far. */
interface WatchedWorker {
  fixture: Fixture;
  /** Every warning so far, oldest first. */
  warnings: string[];
  /** How many warnings so far match `pattern`. */
  count(pattern: RegExp): number;
  /** Resolves once a warning matching `pattern` was logged (already, or later); rejects if the process exits first. */
  warned(pattern: RegExp): Promise<void>;
}

async function startWorker(env: Record<string, string>): Promise<WatchedWorker> {
  const fixture = startFixture('embedded-worker.ts', env);
  const messages: string[] = [];
  const waiting: { pattern: RegExp; resolve: () => void }[] = [];
  fixture.child.on('message', (m: { type: string; message?: string }) => {
    if (m.type !== 'warn') return;
    messages.push(m.message!);
    for (const w of waiting.filter((w) => w.pattern.test(m.message!))) w.resolve();
  });
  await fixture.next('ready');
  return {
    fixture,
    warnings: messages,
    count: (pattern) => messages.filter((m) => pattern.test(m)).length,
    warned: (pattern) =>
      new Promise<void>((resolve, reject) => {
        if (messages.some((m) => pattern.test(m))) return resolve();
        waiting.push({ pattern, resolve });
        void fixture.exited.then((how) =>
          reject(
            new Error(
              `the worker exited (${String(how)}) before logging ${pattern}; it logged: ${messages.join(' | ')}`,
            ),
          ),
        );
      }),
  };
}

/**
 * Starts `count` runs from a client engine and waits for the worker to finish each; fails as soon as the worker exits.
 */
async function startAndFinish(store: string, prefix: string, count: number, worker: WatchedWorker): Promise<void> {
  const client = await Engine.open({ store, worker: false });
  try {
    const ids = Array.from({ length: count }, (_, n) => `${prefix}-${n}`);
    for (const [n, id] of ids.entries()) await client.start('doubler', { n }, { id });
    const exited = worker.fixture.exited.then((how) => {
      throw new Error(`the worker exited on its own (${String(how)}) with runs left to do`);
    });
    const outputs = await Promise.race([
      Promise.all(ids.map((id) => client.result<number>(id, { timeoutMs: 30_000 }))),
      exited,
    ]);
    assert.deepEqual(
      outputs,
      ids.map((_, n) => n * 2),
    );
  } finally {
    await client.close();
  }
}

/** After an outage: the worker is still there, logged the failed claims once and their recovery, and stops cleanly. */
async function assertSurvived(worker: WatchedWorker): Promise<void> {
  await worker.warned(/^claiming runs works again/);
  assert.equal(worker.count(/^claiming runs failed/), 1, 'the outage is logged once, not at every try');
  assert.equal(worker.fixture.child.exitCode, null, 'the worker is still running');
  assert.equal(await stopGracefully(worker.fixture), 0);
}

test('an embedded worker survives its PostgreSQL server restarting: ' +
  'it keeps claiming, finishes runs started afterwards and never exits', {
  skip: privateClusterUnavailable,
  timeout: 120_000,
}, async (t) => {
  const cluster = await startPrivateCluster();
  t.after(() => cluster.destroy());
  const worker = await startWorker({ STORE: cluster.url, WORKER_ID: 'embedded-pg' });
  t.after(() => void worker.fixture.child.kill('SIGKILL'));
  await startAndFinish(cluster.url, 'before', 3, worker);

  await cluster.stop();
  await worker.warned(/^claiming runs failed/);
  await cluster.start();

  await startAndFinish(cluster.url, 'after', 3, worker);
  await assertSurvived(worker);
  t.diagnostic(`the worker logged: ${worker.warnings.join(' | ')}`);
});

test("an embedded worker survives SQLite's 'database is locked': " +
  'it keeps claiming, finishes runs started afterwards and never exits', {
  timeout: 60_000,
}, async (t) => {
  const file = tempDb();
  const store = `sqlite:${file}`;
  const worker = await startWorker({ STORE: store, WORKER_ID: 'embedded-sqlite', BUSY_TIMEOUT_MS: '50' });
  t.after(() => void worker.fixture.child.kill('SIGKILL'));
  await startAndFinish(store, 'before', 3, worker);

  const holder = new Database(file);
  holder.exec('BEGIN EXCLUSIVE'); // every other writer now gets SQLITE_BUSY
  try {
    await worker.warned(/^claiming runs failed/);
  } finally {
    holder.exec('ROLLBACK');
    holder.close();
  }

  await startAndFinish(store, 'after', 3, worker);
  await assertSurvived(worker);
  t.diagnostic(`the worker logged: ${worker.warnings.join(' | ')}`);
});
