import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { expectedLedgerOutput } from '../fixtures/ledger-workflow.js';
import { openStore } from '../../src/store/open.js';
import { forEachBackend, tempDir, type Backend } from '../helpers.js';
import { killHard, startFixture, type FixtureMessage } from '../processes.js';

interface Message extends FixtureMessage {
  output?: unknown;
  history?: { type: string; name?: string; seq?: number }[];
}

function spawnWorker(env: Record<string, string>) {
  const fixture = startFixture('crash-worker.ts', env);
  return {
    child: fixture.child,
    exited: fixture.exited,
    next: (type: string) => fixture.next(type) as Promise<Message>,
  };
}

function ledgerLines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean) : [];
}

/** Crashes a worker at `faultPoint`, recovers in a new process and checks exactly-once effects and the output. */
async function crashAndRecover(backend: Backend, faultPoint: string, recovery: { workerId: string; leaseMs: number }) {
  const dir = tempDir();
  const db = backend.store();
  const ledger = join(dir, 'ledger.txt');
  const runId = `run-${faultPoint}`;
  const common = { STORE: db, LEDGER: ledger, RUN_ID: runId };

  const first = spawnWorker({ ...common, ROLE: 'first', FAULT: faultPoint, WORKER_ID: 'worker-a', LEASE_MS: '1000' });
  await first.next('fault');
  await killHard(first);
  const atCrash = ledgerLines(ledger);
  const committedAtCrash = await committedSteps(db, runId);

  const late = faultPoint === 'waiting-signal';
  const second = spawnWorker({
    ...common,
    ROLE: 'recover',
    WORKER_ID: recovery.workerId,
    LEASE_MS: String(recovery.leaseMs),
    SEND_SIGNAL: late ? '1' : '0',
  });
  const done = await second.next('done');
  await second.exited;

  assert.deepEqual(
    done.output,
    expectedLedgerOutput({ base: 'b', sleepMs: 0 }, late ? 'late' : 'early'),
    'same output as a crash-free run',
  );
  const lines = ledgerLines(ledger);
  const counts = new Map<string, string[]>();
  for (const line of lines) {
    const [step, key] = line.split(' ');
    counts.set(step!, [...(counts.get(step!) ?? []), key!]);
  }
  for (const step of committedAtCrash)
    assert.equal(counts.get(step)?.length, 1, `committed step ${step} applied exactly once`);
  for (const step of ['s1', 's2', 's3', 's4', 's5']) {
    const keys = counts.get(step) ?? [];
    assert.ok(keys.length >= 1, `${step} ran`);
    assert.equal(new Set(keys).size, 1, `${step} always ran with one idempotency key`);
  }
  const completions = done.history!.filter((e) => e.type === 'step_completed').map((e) => e.name);
  assert.deepEqual(completions, ['s1', 's2', 's3', 's4', 's5'], 'each step committed once, in order');
  return { atCrash, lines, committedAtCrash, counts, history: done.history! };
}

/** Step names with a committed outcome, read straight from the store. */
async function committedSteps(location: string, runId: string): Promise<string[]> {
  const store = await openStore(location);
  try {
    return (await store.history(runId)).filter((e) => e.type === 'step_completed').map((e) => e.name!);
  } finally {
    await store.close();
  }
}

forEachBackend((backend) => {
  const sameWorker = { workerId: 'worker-a', leaseMs: 30_000 };

  test(
    "SIGKILL after a step's side effect, before its commit: " +
      'the step runs again with the same key; nothing else repeats',
    async () => {
      const { atCrash, committedAtCrash, counts } = await crashAndRecover(backend, 'after-effect:s3', sameWorker);
      assert.deepEqual(
        atCrash.map((l) => l.split(' ')[0]),
        ['s1', 's2', 's3'],
      );
      assert.deepEqual(committedAtCrash, ['s1', 's2']);
      assert.equal(counts.get('s3')!.length, 2, 'the in-flight step ran again');
    },
  );

  test('SIGKILL right after a commit: the committed step is not applied again', async () => {
    const { atCrash, committedAtCrash, counts } = await crashAndRecover(backend, 'before-effect:s4', sameWorker);
    assert.deepEqual(committedAtCrash, ['s1', 's2', 's3']);
    assert.deepEqual(
      atCrash.map((l) => l.split(' ')[0]),
      ['s1', 's2', 's3'],
    );
    for (const step of ['s1', 's2', 's3', 's4', 's5']) assert.equal(counts.get(step)!.length, 1);
  });

  test('SIGKILL while sleeping: the timer survives and the run completes after restart', async () => {
    const { committedAtCrash, counts, history } = await crashAndRecover(backend, 'sleeping', sameWorker);
    assert.deepEqual(committedAtCrash, ['s1', 's2']);
    for (const step of ['s1', 's2', 's3', 's4', 's5']) assert.equal(counts.get(step)!.length, 1);
    assert.deepEqual(
      history.filter((e) => e.type.startsWith('timer_')).map((e) => e.type),
      ['timer_set', 'timer_fired'],
    );
  });

  test(
    'SIGKILL while waiting for a signal: ' + 'a signal sent after the crash is delivered to the recovered run',
    async () => {
      const { committedAtCrash, counts } = await crashAndRecover(backend, 'waiting-signal', sameWorker);
      assert.deepEqual(committedAtCrash, ['s1', 's2', 's3', 's4']);
      for (const step of ['s1', 's2', 's3', 's4', 's5']) assert.equal(counts.get(step)!.length, 1);
    },
  );

  test("a different worker takes over a dead worker's run once its lease expires", async () => {
    const { counts } = await crashAndRecover(backend, 'after-effect:s2', { workerId: 'worker-b', leaseMs: 1000 });
    assert.equal(counts.get('s2')!.length, 2);
    assert.equal(counts.get('s1')!.length, 1);
  });

  test(
    'changed code after a crash: ' + 'the run is parked needs_attention with the divergence and its history intact',
    async () => {
      const dir = tempDir();
      const common = { STORE: backend.store(), LEDGER: join(dir, 'ledger.txt'), RUN_ID: 'run-diverge' };
      const first = spawnWorker({ ...common, ROLE: 'first', FAULT: 'before-effect:s4', WORKER_ID: 'worker-a' });
      await first.next('fault');
      await killHard(first);
      const before = await committedSteps(common.STORE, common.RUN_ID);
      const second = spawnWorker({
        ...common,
        ROLE: 'recover',
        EXPECT: 'parked',
        VARIANT: 'reordered',
        WORKER_ID: 'worker-a',
      });
      const done = await second.next('done');
      await second.exited;
      const run = done.output as { status: string; attention: { code: string; details: unknown } };
      assert.equal(run.status, 'needs_attention');
      assert.equal(run.attention.code, 'E_NONDETERMINISM');
      assert.deepEqual(run.attention.details, {
        reason: 'nondeterminism',
        seq: 0,
        expected: { kind: 'step', name: 's1' },
        got: { kind: 'step', name: 's2' },
      });
      assert.deepEqual(
        await committedSteps(common.STORE, common.RUN_ID),
        before,
        'no step committed on wrong assumptions',
      );
      assert.deepEqual(
        ledgerLines(common.LEDGER).map((l) => l.split(' ')[0]),
        ['s1', 's2', 's3'],
        'no side effect either',
      );
      assert.equal(done.history!.at(-1)!.type, 'run_parked');
    },
  );
});
