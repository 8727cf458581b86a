import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { defineWorkflow } from '../../src/index.js';
import { Engine, openEngineOnStore } from '../../src/engine.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';
import { tempDb } from '../helpers.js';
import { privateClusterUnavailable, startPrivateCluster } from '../pg-private.js';

const STEPPERS = 20;
const LEASE_MS = 2_000;

/** A promise with its resolve function, for steps the test lets go on. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** A real outage of the store: `begin` makes every statement of the engine fail, `end` ends it. */
interface Outage {
  store: string | Store;
  begin(): Promise<void>;
  end(): Promise<void>;
}

/**
 * A worker busy with one long run (so it keeps renewing leases) loses its store while 20 other runs commit:
 * their commits fail, and so does handing them back. Once the store is back they must not stay leased to the
 * worker (they replay from their last checkpoint and finish) while the long run keeps its lease.
 */
async function abandonedRunsAreNotKeptLeased(outage: Outage): Promise<void> {
  const hold = gate();
  const release = gate();
  let entered = 0;
  const allEntered = gate();
  const enter = () => ++entered === STEPPERS + 1 && allEntered.open();
  const holder = defineWorkflow({
    name: 'holder',
    version: 1,
    async run(ctx) {
      return ctx.step('hold', async () => {
        enter();
        await hold.opened;
        return 'held';
      });
    },
  });
  const stepper = defineWorkflow({
    name: 'stepper',
    version: 1,
    async run(ctx, input: { n: number }) {
      await ctx.step('first', async () => {
        enter();
        await release.opened;
      });
      return ctx.step('second', async () => input.n);
    },
  });
  const commitFailed = new Set<string>();
  const allFailed = gate();
  const logger = {
    warn(facts: Record<string, unknown>, message: string) {
      if (message.startsWith('commit failed') && commitFailed.add(facts.runId as string).size === STEPPERS)
        allFailed.open();
    },
  };
  const options = {
    workflows: [holder, stepper],
    workerId: 'busy-worker',
    leaseMs: LEASE_MS,
    pollIntervalMs: 100,
    logger,
  };
  const engine: Engine =
    typeof outage.store === 'string'
      ? await Engine.open({ ...options, store: outage.store })
      : await openEngineOnStore(outage.store, options);
  try {
    await engine.start('holder', {}, { id: 'holder' });
    const ids = Array.from({ length: STEPPERS }, (_, n) => `stepper-${n}`);
    for (const [n, id] of ids.entries()) await engine.start('stepper', { n }, { id });
    await allEntered.opened;

    await outage.begin();
    release.open(); // the steppers' first steps end now: their checkpoints cannot be committed
    await allFailed.opened;
    await outage.end();

    const outputs = await Promise.all(ids.map((id) => engine.result<number>(id, { timeoutMs: 4 * LEASE_MS + 10_000 })));
    assert.deepEqual(
      outputs,
      ids.map((_, n) => n),
      'every abandoned run was claimed again and finished while the worker stayed busy',
    );
    assert.equal((await engine.getRun('holder')).status, 'running', 'the long run is still executing here');

    hold.open();
    assert.equal(await engine.result('holder', { timeoutMs: 10_000 }), 'held');
    const holds = (await engine.history('holder')).filter((e) => e.type === 'step_completed' && e.name === 'hold');
    assert.equal(holds.length, 1, 'the executing run kept its lease throughout: its step completed once');
  } finally {
    hold.open();
    await engine.close();
  }
}

test('PostgreSQL: runs whose commit and release failed in an outage are not kept leased by a busy worker', {
  skip: privateClusterUnavailable,
  timeout: 90_000,
}, async (t) => {
  const cluster = await startPrivateCluster();
  t.after(() => cluster.destroy());
  await abandonedRunsAreNotKeptLeased({ store: cluster.url, begin: () => cluster.stop(), end: () => cluster.start() });
});

test('SQLite: runs whose commit and release failed while the ' +
  'database was locked are not kept leased by a busy worker', {
  timeout: 60_000,
}, async () => {
  const file = tempDb();
  const store = new SqliteStore({ path: file, busyTimeoutMs: 20 });
  const holder = new Database(file);
  try {
    await abandonedRunsAreNotKeptLeased({
      store,
      begin: async () => void holder.exec('BEGIN EXCLUSIVE'),
      end: async () => void holder.exec('ROLLBACK'),
    });
  } finally {
    holder.close();
    await store.close();
  }
});
