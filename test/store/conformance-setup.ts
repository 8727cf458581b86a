/** What the conformance suite's files share: a store with one run, and the commits its cases make. */
import type { NewTask } from '../../src/core/tasks.js';
import type { NewEvent } from '../../src/core/types.js';
import { openStore } from '../../src/store/open.js';
import type { CommitOutcome, RunCommit, RunUpdate, Store } from '../../src/store/types.js';
import type { Backend } from '../helpers.js';

/** The version the suite's runs are of. */
export const served = [{ workflow: 'w', version: 1 }];

/** A fresh store with version w v1 (fingerprint 'f1') and one run of it, 'r1' (input { a: 1 }), unleased and due. */
export async function storeWithRun(backend: Backend): Promise<{ store: Store }> {
  const store = await openStore(backend.store());
  await store.registerWorkflowVersions([{ workflow: 'w', version: 1, fingerprint: 'f1' }]);
  await store.createRuns([{ id: 'r1', workflow: 'w', version: 1, input: { a: 1 } }], 1000);
  return { store };
}

/** One commit by `workerId` at `fromPos` (Default: no events), alone in its batch; its outcome. */
export async function commitOne(
  store: Store,
  commit: Pick<RunCommit, 'runId' | 'workerId' | 'fromPos'> & Partial<RunCommit>,
  leaseMs = 10_000,
): Promise<CommitOutcome> {
  const [outcome] = await store.commit([{ events: [] as NewEvent[], ...commit }], leaseMs);
  return outcome!;
}

/** A suspension that waits for `signals`, gives up the lease and schedules no wake-up. */
export const waitForSignal = (...signals: string[]): RunUpdate => ({
  status: 'waiting',
  waitingFor: { kind: 'signal', seq: 0, name: signals[0]!, signals },
  dueAt: null,
  releaseLease: true,
});

/** The ids of the runs `workerId` can claim now (it then holds their leases for `leaseMs`). */
export async function claimIds(store: Store, workerId: string, leaseMs = 10_000): Promise<string[]> {
  return (await store.claimRuns(workerId, served, 100, leaseMs)).map((c) => c.run.id).sort();
}

/** A task attempt of r1, of `taskType`, pollable from `visibleAt`. */
export function taskOf(id: string, taskType: string, visibleAt: number, traceparent?: string): NewTask {
  return {
    taskId: id,
    runId: 'r1',
    workflow: 'w',
    version: 1,
    seq: Number(id.replace(/\D/g, '')),
    attempt: 1,
    taskType,
    refName: id,
    input: null,
    responseTimeoutMs: 60_000,
    timeoutMs: 0,
    visibleAt,
    ...(traceparent ? { traceparent } : {}),
  };
}
