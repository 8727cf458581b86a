import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROLLOUT_STEPS, rolloutWorkflow } from '../../src/examples/rollout.js';
import { Engine } from '../../src/index.js';
import { forEachBackend, rejectsWith, tempDir, type Backend } from '../helpers.js';
import { killHard, startFixture, stopGracefully } from '../processes.js';

const STEP_NAMES = ROLLOUT_STEPS.map((s) => s.name);

/** The ledger's entries: `do <step>` / `undo <step>` with the idempotency key each ran under. */
function ledger(path: string): { kind: string; step: string; key: string }[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [kind, step, , key] = line.split(' ');
      return { kind: kind!, step: step!, key: key! };
    });
}

const count = (entries: { kind: string; step: string }[], kind: string, step: string) =>
  entries.filter((e) => e.kind === kind && e.step === step).length;

async function setup(backend: Backend, name: string) {
  const store = backend.store();
  const path = join(tempDir(), 'ledger.txt');
  const client = await Engine.open({ store, worker: false, workflows: [rolloutWorkflow({ apply() {}, undo() {} })] });
  const env = { STORE: store, LEDGER: path, RUN_ID: `rollout-${name}`, CLUSTER: 'prod-eu' };
  return { store, path, client, env };
}

forEachBackend((backend) => {
  test('SIGKILL inside step 6: the state is knowable, nothing committed re-applies, ' +
    'the non-idempotent step parks unknown_outcome, the target stays locked', {
    timeout: 60_000,
  }, async () => {
    const { path, client, env } = await setup(backend, 'crash-step-6');
    try {
      const first = startFixture('rollout-worker.ts', {
        ...env,
        ROLE: 'start',
        WORKER_ID: 'ops-1',
        FAULT: 'inside:deploy-canary',
      });
      await first.next('fault');
      await killHard(first);

      // What an operator sees before anything recovers it.
      const during = await client.describe(env.RUN_ID);
      assert.deepEqual(during.completedSteps, STEP_NAMES.slice(0, 5));
      assert.deepEqual(during.current, { kind: 'step', name: 'deploy-canary', seq: 5 });
      assert.deepEqual(
        during.effects.map((e) => [e.step, e.state]),
        STEP_NAMES.slice(1, 5).map((s) => [s, 'kept']),
      );
      const blocked = await rejectsWith(client.start('rollout', { cluster: 'prod-eu', release: 'r43' }), 'E_LOCK_HELD');
      assert.match(blocked.message, new RegExp(`locked by run '${env.RUN_ID}'`));

      const second = startFixture('rollout-worker.ts', { ...env, ROLE: 'recover', WORKER_ID: 'ops-1' });
      assert.equal((await second.next('settled')).status, 'needs_attention');
      const parked = await client.describe(env.RUN_ID);
      const details = parked.run.attention?.details as { reason: string; step: string; workerId: string };
      assert.deepEqual([details.reason, details.step, details.workerId], ['unknown_outcome', 'deploy-canary', 'ops-1']);
      assert.deepEqual(parked.actions, ['retry_step', 'skip_step', 'compensate', 'cancel']);
      const afterRecovery = ledger(path);
      for (const step of STEP_NAMES.slice(0, 6))
        assert.equal(count(afterRecovery, 'do', step), 1, `${step} applied once`);
      await rejectsWith(client.start('rollout', { cluster: 'prod-eu', release: 'r43' }), 'E_LOCK_HELD');

      // The operator checks the cluster, confirms the canary is deployed, and lets the rollout go on.
      const confirmed = { target: 'prod-eu', key: afterRecovery.find((e) => e.step === 'deploy-canary')!.key };
      await client.skipStep(env.RUN_ID, { actor: 'ada', reason: 'canary verified on the cluster', output: confirmed });
      assert.equal((await second.next('settled')).status, 'completed');
      assert.deepEqual(await client.result(env.RUN_ID), { cluster: 'prod-eu', release: 'r42', steps: 12 });
      const final = ledger(path);
      for (const step of STEP_NAMES) assert.equal(count(final, 'do', step), 1, `${step} applied exactly once`);
      assert.equal(await stopGracefully(second), 0);
      const next = await client.start('rollout', { cluster: 'prod-eu', release: 'r43' });
      assert.equal(next.lockKey, 'cluster:prod-eu', 'the lock was released with the finished run');
      await client.cancel(next.id);
    } finally {
      await client.close();
    }
  });

  test('a failure at step 9 unwinds steps 8..1 in reverse, each compensation once, across a SIGKILL mid-compensation', {
    timeout: 60_000,
  }, async () => {
    const { path, client, env } = await setup(backend, 'unwind');
    try {
      // Killed right after the compensation of deploy-canary committed, before migrate-schema's; another worker
      // takes the run over once the dead one's short lease expires.
      const first = startFixture('rollout-worker.ts', {
        ...env,
        LEASE_MS: '2000',
        ROLE: 'start',
        WORKER_ID: 'ops-2',
        FAIL_AT: 'deploy-fleet',
        FAULT: 'undo:migrate-schema',
      });
      await first.next('fault');
      await killHard(first);
      const during = await client.describe(env.RUN_ID);
      assert.equal(during.run.status, 'compensating');
      assert.deepEqual(
        during.effects.filter((e) => e.state === 'undone').map((e) => e.step),
        ['deploy-canary'],
      );
      assert.deepEqual(during.pending, [
        "compensate 'migrate-schema'",
        "compensate 'scale-up-canary'",
        "compensate 'drain-traffic'",
        "compensate 'snapshot-config'",
      ]);

      const second = startFixture('rollout-worker.ts', {
        ...env,
        LEASE_MS: '2000',
        ROLE: 'recover',
        WORKER_ID: 'ops-2b',
      });
      assert.equal((await second.next('settled')).status, 'compensated');
      const entries = ledger(path);
      const undone = entries.filter((e) => e.kind === 'undo').map((e) => e.step);
      assert.deepEqual(
        undone,
        ['deploy-canary', 'migrate-schema', 'scale-up-canary', 'drain-traffic', 'snapshot-config'],
        'reverse completion order, each once',
      );
      for (const e of entries.filter((x) => x.kind === 'undo')) {
        const applied = entries.find((x) => x.kind === 'do' && x.step === e.step)!;
        assert.ok(applied, `${e.step} was applied before it was undone`);
      }
      for (const step of STEP_NAMES.slice(0, 8)) assert.equal(count(entries, 'do', step), 1, `${step} applied once`);
      assert.equal(count(entries, 'do', 'deploy-fleet'), 0, 'the failing step changed nothing');
      const history = await client.history(env.RUN_ID);
      assert.deepEqual(history.at(-1)?.data, {
        undone: ['deploy-canary', 'migrate-schema', 'scale-up-canary', 'drain-traffic', 'snapshot-config'],
        notUndone: ['announce-release'],
      });
      assert.equal(history.filter((e) => e.type === 'compensation_completed').length, 5);
      const done = await client.describe(env.RUN_ID);
      assert.deepEqual(
        done.effects.map((e) => [e.step, e.state]),
        [
          ['snapshot-config', 'undone'],
          ['drain-traffic', 'undone'],
          ['scale-up-canary', 'undone'],
          ['migrate-schema', 'undone'],
          ['deploy-canary', 'undone'],
          ['announce-release', 'kept'],
        ],
      );
      assert.equal(await stopGracefully(second), 0);
    } finally {
      await client.close();
    }
  });
});
