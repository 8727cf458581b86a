import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { defineWorkflow, Engine } from '../../src/index.js';
import { backends, TEST_PG_URL, tempPgStore } from '../helpers.js';

const skip = backends.some((b) => b.name === 'postgres') ? false : 'PostgreSQL is not among WAYMARK_TEST_STORES';

const slow = defineWorkflow({
  name: 'slow',
  version: 1,
  async run(ctx, input: { n: number }) {
    let total = 0;
    for (let i = 0; i < 8; i++) {
      total += await ctx.step(`s${i}`, async () => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        return input.n;
      });
    }
    return total;
  },
});

/** Terminates every server connection opened under `applicationName`; returns how many. */
async function killConnections(applicationName: string): Promise<number> {
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
      [applicationName],
    );
    return rows.length;
  } finally {
    await admin.end();
  }
}

test('killed database connections mid-run: the engine reconnects and every run completes, each step committed once', {
  skip,
  timeout: 60_000,
}, async () => {
  const applicationName = `waymark-reconnect-${process.pid}`;
  const location = `${tempPgStore()}&application_name=${applicationName}`;
  const engine = await Engine.open({
    store: location,
    workflows: [slow],
    concurrency: 40,
    pollIntervalMs: 100,
    leaseMs: 3_000,
    logger: { warn: () => {} },
  });
  try {
    const runs = await Promise.all(Array.from({ length: 200 }, (_, n) => engine.start('slow', { n })));
    let killed = 0;
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      killed += await killConnections(applicationName);
    }
    assert.ok(killed > 0, 'connections were killed while runs executed');
    const outputs = await Promise.all(runs.map((r) => engine.result<number>(r.id, { timeoutMs: 30_000 })));
    assert.deepEqual(
      outputs,
      runs.map((_, n) => 8 * n),
    );
    for (const run of runs.slice(0, 50)) {
      const steps = (await engine.history(run.id)).filter((e) => e.type === 'step_completed').map((e) => e.name);
      assert.deepEqual(steps, ['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7']);
    }
  } finally {
    await engine.close();
  }
});
