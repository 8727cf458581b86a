/**
 * Stranding: a version whose in-flight runs no live worker serves. A worker about to close checks whether
 * it is the last one serving a version with runs in flight.
 */
import { WaymarkError } from '../core/errors.js';
import { isTerminal, type Json } from '../core/types.js';
import type { Store, WorkerRecord } from '../store/types.js';

/** A version whose in-flight runs no live worker but `workerId` serves: closing that worker strands them. */
export interface StrandingRisk {
  workflow: string;
  version: number;
  inFlight: number;
}

/** The versions that closing `workerId` would leave with in-flight runs and no live worker. */
export async function strandedByClosing(
  store: Store,
  workerId: string,
  served: { workflow: string; version: number }[],
): Promise<StrandingRisk[]> {
  const [counts, workers] = await Promise.all([store.countRuns(), store.liveWorkers()]);
  const others = workers.filter((w) => w.workerId !== workerId);
  return served
    .filter((s) => !others.some((w) => serves(w, s.workflow, s.version)))
    .map((s) => ({
      ...s,
      inFlight: counts
        .filter((c) => c.workflow === s.workflow && c.version === s.version && !isTerminal(c.status))
        .reduce((n, c) => n + c.count, 0),
    }))
    .filter((risk) => risk.inFlight > 0);
}

/**
 * Before a worker closes: warns when it is the last one serving versions with runs in flight, or refuses
 * (E_WOULD_STRAND).
 */
export async function checkStranding(
  store: Store,
  workerId: string,
  served: { workflow: string; version: number }[],
  refuse: boolean,
  warn: (message: string, facts: Record<string, unknown>) => void,
): Promise<void> {
  const risks = await strandedByClosing(store, workerId, served).catch(() => []);
  if (risks.length === 0) return;
  const list = risks.map((r) => `${r.workflow} v${r.version} (${r.inFlight} in flight)`).join(', ');
  if (refuse)
    throw new WaymarkError(
      'E_WOULD_STRAND',
      `this is the last live worker serving ${list}: start a worker that serves them first`,
      { details: risks as unknown as Json },
    );
  warn(`closing the last live worker serving ${list}: those runs are stranded until a worker serving them starts`, {
    event: 'version_stranded',
    stranded: risks,
  });
}

/**
 * Forgets workers whose heartbeat expired and logs each once (one process of many gets it), then each version
 * they served that now has in-flight runs and no live worker: it is stranded until a worker serving it starts.
 */
export async function noticeLostWorkers(
  store: Store,
  warn: (message: string, facts: Record<string, unknown>) => void,
): Promise<void> {
  const lost = await store.removeLostWorkers();
  if (lost.length === 0) return;
  for (const worker of lost) {
    const served = worker.served.map((s) => `${s.workflow} v${s.version}`).join(', ') || 'nothing';
    warn(
      `worker ${worker.workerId} was lost: no heartbeat since ${worker.heartbeatAt.toISOString()} (it served ` +
        `${served}); its runs are taken over once their leases expire`,
      {
        event: 'worker_lost',
        lostWorkerId: worker.workerId,
        lastHeartbeatAt: worker.heartbeatAt,
        served: worker.served,
      },
    );
  }
  const [counts, live] = await Promise.all([store.countRuns(), store.liveWorkers()]);
  const versions = new Map(lost.flatMap((w) => w.served).map((s) => [`${s.workflow}@${s.version}`, s]));
  for (const { workflow, version } of versions.values()) {
    if (live.some((w) => serves(w, workflow, version))) continue;
    const inFlight = counts
      .filter((c) => c.workflow === workflow && c.version === version && !isTerminal(c.status))
      .reduce((n, c) => n + c.count, 0);
    if (inFlight === 0) continue;
    warn(
      `${workflow} v${version} is stranded: ${inFlight} run${inFlight === 1 ? '' : 's'} in flight and no live worker ` +
        'serves it; start a worker that does',
      { event: 'version_stranded', workflow, version, inFlight },
    );
  }
}

function serves(worker: WorkerRecord, workflow: string, version: number): boolean {
  return worker.served.some((s) => s.workflow === workflow && s.version === version);
}
