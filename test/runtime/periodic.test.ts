import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Outage, Periodic } from '../../src/runtime/periodic.js';

test('an outage backs off exponentially up to its cap and logs one line when it starts and one when it ends', () => {
  const warnings: string[] = [];
  const outage = new Outage('claiming runs', 100, 1_000, (message) => warnings.push(message));
  const delays = Array.from({ length: 8 }, () => outage.failed(new Error('connection refused')));
  const expected = [100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000];
  for (const [i, delay] of delays.entries()) {
    assert.ok(
      delay >= expected[i]! * 0.9 && delay <= Math.min(expected[i]! * 1.1, 1_000),
      `try ${i + 2} after ${delay} ms, about ${expected[i]} ms (10% jitter, at most 1000)`,
    );
  }
  assert.ok(outage.failing);
  assert.equal(warnings.length, 1, 'eight failures in a row: one warning');
  assert.match(
    warnings[0]!,
    new RegExp(
      /^claiming runs failed; trying again in \d+ ms, then less often, /.source +
        /up to every 1000 ms, until it works \(logged once per outage\)$/.source,
    ),
  );

  outage.succeeded();
  outage.succeeded();
  assert.equal(outage.failing, false);
  assert.deepEqual(warnings.slice(1), ['claiming runs works again'], 'the end of the outage: one line');
  outage.failed(new Error('again'));
  assert.equal(warnings.length, 3, 'a new outage is logged again');
});

test(
  'a periodic job that fails keeps being run (with backoff) ' + 'and its loop only ends with stop or a stopping error',
  async (t) => {
    const keepAlive = setInterval(() => {}, 1_000); // the loops' timers do not keep the process alive
    t.after(() => clearInterval(keepAlive));
    const warnings: string[] = [];
    let calls = 0;
    let reached!: () => void;
    const sixCalls = new Promise<void>((resolve) => (reached = resolve));
    const job = new Periodic(
      async () => {
        if (++calls === 6) reached();
        if (calls <= 4) throw new Error(`store down (${calls})`);
      },
      { what: 'timing out tasks', intervalMs: 1, maxBackoffMs: 5, warn: (message) => warnings.push(message) },
    );
    job.start();
    await sixCalls;
    await job.stop();
    assert.deepEqual(
      warnings.map((w) => w.split(';')[0]),
      ['timing out tasks failed', 'timing out tasks works again'],
    );

    let stopped!: () => void;
    const stoppingError = new Promise<void>((resolve) => (stopped = resolve));
    const closing = new Periodic(
      async () => {
        stopped();
        throw Object.assign(new Error('engine closed'), { code: 'E_ENGINE_CLOSED' });
      },
      {
        what: 'running sub-workflow tasks',
        intervalMs: 1,
        warn: (message) => warnings.push(message),
        stopsOn: (e) => (e as { code?: string }).code === 'E_ENGINE_CLOSED',
      },
    );
    closing.start();
    await stoppingError;
    await closing.stop();
    assert.equal(warnings.length, 2, 'a stopping error is not an outage: nothing logged');
  },
);
