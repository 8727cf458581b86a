/** The conformance suite's lease cases: starts that take the lease, claims by due time, releases, stale writers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Store } from '../../src/store/types.js';
import { forEachBackend } from '../helpers.js';
import { claimIds, commitOne, served, storeWithRun } from './conformance-setup.js';

/** A suspension on a timer due at `dueAt` (epoch ms); `release` gives the lease up. */
const sleepUntil = (dueAt: number, release = true) => ({
  status: 'waiting' as const,
  waitingFor: { kind: 'sleep' as const, seq: 0, until: dueAt },
  dueAt,
  releaseLease: release,
});

/** Runs r1, r2, r3, all leased to `workerId`. */
async function threeLeasedRuns(store: Store, workerId: string): Promise<void> {
  await store.createRuns(
    ['r2', 'r3'].map((id) => ({ id, workflow: 'w', version: 1, input: null })),
    1000,
  );
  assert.deepEqual(await claimIds(store, workerId), ['r1', 'r2', 'r3']);
}

forEachBackend((backend) => {
  test('a start with a lease owner is claimed by it; a start refused on a held lock writes nothing', async () => {
    const { store } = await storeWithRun(backend);
    const lock = { key: 'k', onConflict: 'reject' as const };
    const [own] = await store.createRuns(
      [{ id: 'mine', workflow: 'w', version: 1, input: { n: 1 }, lock, leaseOwner: 'worker-a' }],
      10_000,
    );
    assert.ok(own && 'claimed' in own && own.created);
    assert.deepEqual(
      [own.claimed?.run.id, own.claimed?.history.map((e) => e.type), own.claimed?.signals],
      ['mine', ['run_started'], []],
      'ready to execute',
    );
    assert.deepEqual(await claimIds(store, 'worker-b'), ['r1'], 'its lease is held');
    const [refused] = await store.createRuns([{ id: 'other', workflow: 'w', version: 1, input: null, lock }], 1000);
    assert.deepEqual(refused, { created: false, lockHeldBy: { key: 'k', runId: 'mine' } });
    assert.equal(await store.getRun('other'), undefined, 'nothing written');
    await store.close();
  });

  test('claims take due runs only, earliest due first, up to the limit, and mark them running', async () => {
    const { store } = await storeWithRun(backend);
    await threeLeasedRuns(store, 'setup');
    const now = Date.now();
    await store.commit(
      [
        { runId: 'r1', workerId: 'setup', fromPos: 1, events: [], update: sleepUntil(now + 60_000) },
        { runId: 'r2', workerId: 'setup', fromPos: 1, events: [], update: sleepUntil(now - 2_000) },
        { runId: 'r3', workerId: 'setup', fromPos: 1, events: [], update: sleepUntil(now - 1_000) },
      ],
      10_000,
    );
    assert.deepEqual(await store.claimRuns('worker-a', served, 0, 10_000), [], 'a limit of 0 claims nothing');
    assert.deepEqual(await store.claimRuns('worker-a', [], 10, 10_000), [], 'serving nothing claims nothing');
    const [first, ...more] = await store.claimRuns('worker-a', served, 1, 10_000);
    assert.deepEqual([first?.run.id, first?.run.status, more], ['r2', 'running', []], 'the earliest due, alone');
    assert.deepEqual(await claimIds(store, 'worker-b'), ['r3'], 'r1 is due in a minute: not yet');
    const due = await store.nextDueAt(served);
    assert.ok(due !== undefined && Math.abs(due - (now + 60_000)) < 1_000, 'r1 is the next one due');
    await store.close();
  });

  test("releasing given runs frees only that worker's: a running one is due now, a sleeping one later", async () => {
    const { store } = await storeWithRun(backend);
    await threeLeasedRuns(store, 'worker-a');
    const later = Date.now() + 60_000;
    await store.commit(
      [
        { runId: 'r1', workerId: 'worker-a', fromPos: 1, events: [], update: { status: 'running', dueAt: later } },
        { runId: 'r2', workerId: 'worker-a', fromPos: 1, events: [], update: sleepUntil(later, false) },
      ],
      10_000,
    );
    await store.releaseLeases('worker-b', ['r1', 'r2', 'r3']);
    assert.deepEqual(await claimIds(store, 'worker-c'), [], "another worker's release frees nothing");
    await store.releaseLeases('worker-a', ['r1', 'r2']);
    assert.deepEqual(await claimIds(store, 'worker-c'), ['r1'], 'r2 sleeps on; r3 is still leased');
    await store.releaseLeases('worker-a');
    assert.deepEqual(await claimIds(store, 'worker-c'), ['r3'], 'all the rest of its leases');
    await store.close();
  });

  test('a writer whose expired lease another worker took is fenced off; so is an operator during a lease', async () => {
    const { store } = await storeWithRun(backend);
    await store.claimRuns('worker-a', served, 10, 50);
    const operator = await commitOne(store, {
      runId: 'r1',
      workerId: 'op',
      fromPos: 1,
      asOperator: true,
      update: { status: 'cancelled' },
    });
    assert.deepEqual(operator, { ok: false, reason: 'lease_lost' }, 'a live lease keeps operators out');
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(await store.setPendingAction('r1', { action: 'pause', actor: 'op', reason: 'x', at: 1 }), false);
    assert.deepEqual(await claimIds(store, 'worker-b'), ['r1'], 'the expired lease is taken over');
    const step = { type: 'step_completed' as const, seq: 0, name: 's', data: { output: 'stale' } };
    const stale = await commitOne(store, { runId: 'r1', workerId: 'worker-a', fromPos: 1, events: [step] });
    assert.deepEqual(stale, { ok: false, reason: 'lease_lost' });
    assert.deepEqual(
      (await store.history('r1')).map((e) => e.type),
      ['run_started'],
      'nothing of it was written',
    );
    await store.close();
  });
});

forEachBackend((backend) => {
  test('runLease and leaseHolds read lease holders with their last heartbeat, or none once forgotten', async () => {
    const { store } = await storeWithRun(backend);
    assert.equal(await store.runLease('r1'), undefined, 'not leased yet');
    assert.deepEqual(await store.leaseHolds(), []);
    await store.heartbeat('worker-a', served, 10_000);
    const before = Date.now();
    await threeLeasedRuns(store, 'worker-a');
    await store.createRuns([{ id: 'r4', workflow: 'w', version: 2, input: null, leaseOwner: 'worker-b' }], 60_000);
    const lease = await store.runLease('r1');
    assert.equal(lease?.workerId, 'worker-a');
    assert.ok(lease.expiresAt >= before + 9_000 && lease.expiresAt <= Date.now() + 11_000, 'its expiry (epoch ms)');
    assert.ok(lease.heartbeatAt !== null && Math.abs(lease.heartbeatAt - before) < 5_000, 'its heartbeat');
    assert.equal(lease.heartbeatExpiresAt! - lease.heartbeatAt, 10_000, 'and when the heartbeat lapses');
    const holds = await store.leaseHolds();
    assert.deepEqual(
      holds.map((h) => [h.workerId, h.workflow, h.version, h.leases, h.heartbeatAt === null]),
      [
        ['worker-a', 'w', 1, 3, false],
        ['worker-b', 'w', 2, 1, true],
      ],
      'grouped by holder and version; worker-b never beat',
    );
    assert.ok(holds[1]!.latestExpiresAt > holds[0]!.latestExpiresAt, 'the latest expiry of each group');
    await store.removeWorker('worker-a');
    assert.deepEqual(await store.runLease('r1'), { ...lease, heartbeatAt: null, heartbeatExpiresAt: null });
    await store.releaseLeases('worker-a', ['r1']);
    assert.equal(await store.runLease('r1'), undefined, 'released');
    assert.equal(await store.runLease('missing'), undefined);
    await store.close();
  });

  test('leaseHolds leaves out expired leases; runLease still shows one', async () => {
    const { store } = await storeWithRun(backend);
    assert.deepEqual(await claimIds(store, 'worker-a', 1), ['r1']);
    await new Promise((resolve) => setTimeout(resolve, 20)); // past the 1 ms lease
    assert.deepEqual(await store.leaseHolds(), []);
    assert.equal((await store.runLease('r1'))?.workerId, 'worker-a');
    await store.close();
  });
});
