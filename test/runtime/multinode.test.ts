import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { Engine } from '../../src/index.js';
import { expectedLedgeredOutput, ledgeredWorkflow, LEDGER_STEPS } from '../fixtures/fleet-workflows.js';
import { backends, TEST_PG_URL, tempPgStore } from '../helpers.js';
import { killHard, startFixture, stopGracefully, type Fixture } from '../processes.js';

const skip = backends.some((b) => b.name === 'postgres')
  ? false
  : 'multi-node runs need PostgreSQL, which is not among WAYMARK_TEST_STORES';
/** Enough runs to keep three nodes of 50 busy through the kills; the point is correctness, not load. */
const RUNS = 500;
/** A node is killed each time this many more runs have completed, up to MAX_KILLS times. */
const KILL_EVERY = 50;
const MAX_KILLS = 6;
const WORKERS = ['node-a', 'node-b', 'node-c'];

test('3 engine processes on one PostgreSQL, one SIGKILLed after every few dozen completed runs: ' +
  'every run completes, no committed step applies twice', {
  skip,
  timeout: 240_000,
}, async (t) => {
  const location = tempPgStore();
  const schema = new URL(location).searchParams.get('schema')!;
  const ledgerUrl = `${TEST_PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const ledger = new pg.Pool({ connectionString: ledgerUrl, max: 2 });
  const client = await Engine.open({ store: location, worker: false, workflows: [ledgeredWorkflow(ledger)] });
  const nodes = new Map<string, Fixture>();
  const killedPids = new Set<number>();
  try {
    await ledger.query(
      'CREATE TABLE ledger (id serial PRIMARY KEY, run_id text NOT NULL, ' +
        'step int NOT NULL, idem_key text NOT NULL, pid int NOT NULL)',
    );
    await Promise.all(Array.from({ length: RUNS }, (_, n) => client.start('ledgered', { n }, { id: `run-${n}` })));

    const launch = async (workerId: string) => {
      const node = startFixture('fleet-worker.ts', {
        STORE: location,
        WORKER_ID: workerId,
        SERVE: 'ledgered',
        LEDGER_URL: ledgerUrl,
        LEASE_MS: '5000',
        CONCURRENCY: '50',
      });
      nodes.set(workerId, node);
      await node.next('ready');
    };
    await Promise.all(WORKERS.map(launch));

    // Kill one node each time KILL_EVERY more runs have completed (so the kills land mid-load however fast the
    // machine is) and bring it back under the same worker id, until every run has finished.
    const deadline = Date.now() + 200_000;
    let kills = 0;
    for (;;) {
      const done = await finished(client);
      if (done === RUNS) break;
      assert.ok(Date.now() < deadline, `only ${done}/${RUNS} runs finished in time`);
      if (kills >= MAX_KILLS || done < (kills + 1) * KILL_EVERY) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      const victim = WORKERS[kills % WORKERS.length]!;
      const node = nodes.get(victim)!;
      killedPids.add(node.child.pid!);
      await killHard(node);
      kills++;
      await launch(victim);
    }
    assert.ok(kills >= 2, `the workload outlived at least two kills (it saw ${kills})`);
    t.diagnostic(`${kills} kills while ${RUNS} runs executed`);

    const outputs = await Promise.all(
      Array.from({ length: RUNS }, (_, n) => client.result(`run-${n}`, { timeoutMs: 10_000 })),
    );
    for (const [n, output] of outputs.entries()) {
      assert.deepEqual(output, expectedLedgeredOutput(n), `run-${n} has a crash-free output`);
    }

    // Every committed step names the ledger row its execution wrote; any other row for that step came
    // from an execution whose process was killed before it could commit.
    const committed = new Map<string, number>();
    for (let n = 0; n < RUNS; n++) {
      const steps = (await client.history(`run-${n}`)).filter((e) => e.type === 'step_completed');
      assert.equal(steps.length, LEDGER_STEPS, `run-${n} committed each step once`);
      for (const e of steps) committed.set(`run-${n}/${e.seq}`, (e.data as { output: number }).output);
    }
    const rows = (
      await ledger.query<{ id: number; run_id: string; step: number; idem_key: string; pid: number }>(
        'SELECT * FROM ledger',
      )
    ).rows;
    const keys = new Map<string, Set<string>>();
    let reexecuted = 0;
    for (const row of rows) {
      const key = `${row.run_id}/${row.step}`;
      keys.set(key, (keys.get(key) ?? new Set()).add(row.idem_key));
      if (committed.get(key) === row.id) continue;
      reexecuted++;
      assert.ok(
        killedPids.has(row.pid),
        `ledger row ${row.id} (${key}) was written by live process ${row.pid} but not committed: a step ran twice`,
      );
    }
    assert.equal(committed.size, RUNS * LEDGER_STEPS);
    for (const id of committed.values())
      assert.ok(
        rows.some((r) => r.id === id),
        `committed ledger row ${id} exists`,
      );
    for (const [key, set] of keys) assert.equal(set.size, 1, `${key} always ran with one idempotency key`);
    t.diagnostic(`${reexecuted} step executions were lost to kills and ran again`);
    assert.ok(reexecuted <= kills * 50, `re-executions (${reexecuted}) are bounded by in-flight steps at kill time`);
  } finally {
    await Promise.all(
      [...nodes.values()].map((node) => (node.child.exitCode === null ? stopGracefully(node) : undefined)),
    );
    await client.close();
    await ledger.end();
  }
});

async function finished(client: Engine): Promise<number> {
  const [summary] = (await client.versions()).filter((v) => v.workflow === 'ledgered');
  return summary?.runs.completed ?? 0;
}
