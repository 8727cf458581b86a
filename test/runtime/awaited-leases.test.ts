/**
 * A worker that starts while a SIGKILLed worker's leases are unexpired says, once, through the engine's logger, that
 * it waits for them and when the last expires; then it takes the runs over. A worker restarted with the dead one's id
 * takes its runs back at once and waits for nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine } from '../../src/index.js';
import { holderStopped } from '../../src/core/leases.js';
import { openStore } from '../../src/store/open.js';
import { hangingStep } from '../fixtures/stopped-workflows.js';
import { runUntil, tempDb } from '../helpers.js';
import { killHard, startFixture } from '../processes.js';

/** The workers' lease (heartbeat every third of it): a stopped worker is known as such 2/3 into its last lease. */
const LEASE_MS = 6_000;

/** A worker process running `runs` runs, SIGKILLed once every one is in its hanging step. */
async function killedWhileExecuting(store: string, workerId: string, runs: number): Promise<void> {
  const worker = startFixture('stopped-worker.ts', {
    STORE: store,
    WORKER_ID: workerId,
    LEASE_MS: String(LEASE_MS),
    RUNS: String(runs),
  });
  for (let i = 0; i < runs; i++) await worker.next('in-step');
  await killHard(worker);
}

/**
 * Resolves once the killed worker counts as stopped while its lease on `runId` is still unexpired: the moment a new
 * worker has leases to wait for. Fails if the lease expired first (the machine was too slow to see that moment).
 */
async function untilHolderStopped(store: string, runId: string): Promise<void> {
  const raw = await openStore(store);
  try {
    for (;;) {
      const lease = (await raw.runLease(runId))!;
      const now = Date.now();
      if (lease.expiresAt <= now) throw new Error(`the lease of ${runId} expired before its holder counted as stopped`);
      if (holderStopped(lease, now)) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await raw.close();
  }
}

/** `promise`, or a failure naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A logger that keeps each warning and resolves `awaited` with the first 'leases_awaited' one. */
function capturingLogger() {
  const warnings: { facts: Record<string, unknown>; message: string }[] = [];
  let resolve!: (w: { facts: Record<string, unknown>; message: string }) => void;
  const awaited = new Promise<{ facts: Record<string, unknown>; message: string }>((r) => (resolve = r));
  const logger = {
    warn(facts: Record<string, unknown>, message: string) {
      warnings.push({ facts, message });
      if (facts.event === 'leases_awaited') resolve({ facts, message });
    },
  };
  return { logger, warnings, awaited };
}

test('after a SIGKILLed worker, a new one says it waits for N of its leases, till when; then takes over', async () => {
  const db = tempDb();
  const store = `sqlite:${db}`;
  await killedWhileExecuting(store, 'doomed', 2);
  await untilHolderStopped(store, 'run-0');
  const { logger, warnings, awaited } = capturingLogger();
  const engine = await Engine.open({
    store,
    workflows: [hangingStep],
    workerId: 'rescuer',
    leaseMs: LEASE_MS,
    pollIntervalMs: 50,
    rolloutCheckMs: 0,
    logger,
  });
  try {
    const { facts, message } = await within(awaited, 20_000, 'no leases_awaited line');
    const raw = await openStore(store);
    const leases = await Promise.all(['run-0', 'run-1'].map((id) => raw.runLease(id)));
    await raw.close();
    const latest = Math.max(...leases.map((l) => l!.expiresAt));
    assert.deepEqual([facts.lostWorkerId, facts.leases, facts.latestExpiresAt], ['doomed', 2, latest]);
    assert.match(
      message,
      new RegExp(
        `^waiting for 2 leases of worker doomed \\(no heartbeat since \\S+\\), which stopped, to expire: the last ` +
          `expires at ${new Date(latest).toISOString().replace(/\./g, '\\.')} \\(in \\d s\\); ` +
          'its runs are taken over then$',
      ),
    );
    await runUntil(engine, 'run-0', (r) => r.status === 'completed');
    await runUntil(engine, 'run-1', (r) => r.status === 'completed');
    assert.ok(Date.now() >= latest, 'taken over once the leases expired');
    assert.equal(warnings.filter((w) => w.facts.event === 'leases_awaited').length, 1, 'said once');
  } finally {
    await engine.close();
  }
});

test("a worker restarted with the dead one's id takes its runs back at once and waits for no lease", async () => {
  const store = `sqlite:${tempDb()}`;
  await killedWhileExecuting(store, 'same', 1);
  const { logger, warnings } = capturingLogger();
  const started = Date.now();
  const engine = await Engine.open({
    store,
    workflows: [hangingStep],
    workerId: 'same',
    leaseMs: LEASE_MS,
    pollIntervalMs: 50,
    rolloutCheckMs: 0,
    logger,
  });
  try {
    await runUntil(engine, 'run-0', (r) => r.status === 'completed');
    assert.ok(Date.now() - started < LEASE_MS, 'before the lease would have expired');
    assert.deepEqual(
      warnings.filter((w) => w.facts.event === 'leases_awaited'),
      [],
    );
  } finally {
    await engine.close();
  }
});
