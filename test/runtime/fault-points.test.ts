import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { Engine, type HistoryEvent } from '../../src/index.js';
import { EXPECTED, executions, faultWorkflow, ledgerLines } from '../fixtures/fault-workflows.js';
import { forEachBackend, runUntil, tempDir } from '../helpers.js';
import { startFixture } from '../processes.js';

/** Runs the fault worker; it must die by SIGKILL at its armed fault point. */
async function crashAt(env: Record<string, string>): Promise<void> {
  const fixture = startFixture('fault-worker.ts', env);
  const how = await fixture.exited;
  assert.equal(how, 'SIGKILL', `the worker was to die at ${env.WAYMARK_FAULT}, it ended with ${String(how)}`);
}

/** Runs the fault worker with no fault armed until it reports done. */
async function runClean(env: Record<string, string>): Promise<void> {
  const fixture = startFixture('fault-worker.ts', { ...env, WAYMARK_FAULT: '' });
  await fixture.next('done');
  await fixture.exited;
}

const completedSteps = (history: HistoryEvent[]) =>
  new Set(history.filter((e) => e.type === 'step_completed').map((e) => e.name!));

forEachBackend((backend) => {
  const setup = (name: string) => {
    const dir = tempDir();
    const ledger = join(dir, 'ledger.txt');
    return { ledger, env: { STORE: backend.store(), LEDGER: ledger, RUN_ID: `fault-${name}` } };
  };

  /**
   * Reopens the store in this process (a new worker), lets the run finish, and checks that nothing committed ran again.
   */
  async function recover(
    env: { STORE: string; LEDGER: string; RUN_ID: string },
    options: { unknownOutcome?: boolean } = {},
  ) {
    const engine = await Engine.open({
      store: env.STORE,
      workflows: [faultWorkflow(env.LEDGER, 1), faultWorkflow(env.LEDGER, 2)],
      workerId: 'fault-worker',
      pollIntervalMs: 50,
      rolloutCheckMs: 0,
    });
    try {
      const before = completedSteps(await engine.history(env.RUN_ID));
      const linesBefore = ledgerLines(env.LEDGER).length;
      await engine.signal(env.RUN_ID, 'go', { ok: true }); // the crash may have come before the worker's own signal
      if (options.unknownOutcome) {
        const parked = await runUntil(engine, env.RUN_ID, (r) => r.status === 'needs_attention');
        assert.equal((parked.attention?.details as { reason?: string } | undefined)?.reason, 'unknown_outcome');
        assert.equal((parked.attention?.details as { step?: string } | undefined)?.step, 'charge');
        await engine.skipStep(env.RUN_ID, { output: 'charged', actor: 'test', reason: 'the charge went through' });
      }
      assert.deepEqual(await engine.result(env.RUN_ID, { timeoutMs: 20_000 }), EXPECTED);
      const again = ledgerLines(env.LEDGER)
        .slice(linesBefore)
        .map((line) => line.split(' ')[1]!)
        .filter((step) => before.has(step));
      assert.deepEqual(again, [], 'no step whose outcome was committed before the crash ran again');
      return { engine, counts: executions(env.LEDGER, env.RUN_ID), history: await engine.history(env.RUN_ID) };
    } finally {
      await engine.close();
    }
  }

  test(
    'killed after a step ran and before its checkpoint: ' +
      'an idempotent step in flight runs again once, nothing committed does',
    async () => {
      const { env } = setup('step-effect');
      await crashAt({ ...env, WAYMARK_FAULT: 'step-effect:1', SIGNAL_EARLY: '1' });
      const { counts } = await recover(env);
      // Steps of both branches may have run before the crash; each ran again at most once, and only if uncommitted.
      assert.ok(
        Object.values(counts).some((n) => n === 2),
        `the interrupted step ran again: ${JSON.stringify(counts)}`,
      );
      assert.ok(
        Object.values(counts).every((n) => n <= 2),
        JSON.stringify(counts),
      );
      assert.equal(counts.charge, 1);
    },
  );

  test(
    'killed after the non-idempotent step ran and before its checkpoint: ' +
      'the run parks on an unknown outcome and never charges twice',
    async () => {
      const { env } = setup('unknown');
      await crashAt({ ...env, WAYMARK_FAULT: 'step-effect:5', SIGNAL_EARLY: '1' });
      const { counts } = await recover(env, { unknownOutcome: true });
      assert.equal(counts.charge, 1);
    },
  );

  test(
    'killed after a commit reached the store and before the engine saw it: ' + 'the committed steps never run again',
    async () => {
      const { env } = setup('commit');
      await crashAt({ ...env, WAYMARK_FAULT: 'commit-unacknowledged:3', SIGNAL_EARLY: '1' });
      const { counts } = await recover(env);
      assert.equal(counts.charge, 1);
    },
  );

  test('killed while suspending: the run resumes where it was and every step ran exactly once', async () => {
    const { env } = setup('suspension');
    await crashAt({ ...env, WAYMARK_FAULT: 'suspension:1' });
    const { counts } = await recover(env);
    assert.deepEqual(counts, { a1: 1, a2: 1, b1: 1, b2: 1, charge: 1 });
  });

  test(
    'killed during an upgrade: the run is either upgraded or untouched, ' +
      'never half; it upgrades afterwards and finishes',
    async () => {
      const { env } = setup('upgrade');
      await runClean(env); // the run now waits for its signal
      await crashAt({ ...env, ROLE: 'upgrade', WAYMARK_FAULT: 'upgrade-commit' });
      const engine = await Engine.open({
        store: env.STORE,
        workflows: [faultWorkflow(env.LEDGER, 1), faultWorkflow(env.LEDGER, 2)],
        workerId: 'fault-worker',
        worker: false,
      });
      try {
        const run = await engine.getRun(env.RUN_ID);
        const upgraded = (await engine.history(env.RUN_ID)).some((e) => e.type === 'run_upgraded');
        assert.equal(run.version === 2, upgraded, 'the version and the history agree');
        await engine.upgrade(env.RUN_ID, { to: 2, actor: 'test', reason: 'again' });
      } finally {
        await engine.close();
      }
      const { counts, history } = await recover(env);
      assert.deepEqual(counts, { a1: 1, a2: 1, b1: 1, b2: 1, charge: 1 });
      assert.equal(history.filter((e) => e.type === 'run_upgraded').length, 1);
    },
  );
});
