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
    stranded: risks,
  });
}

function serves(worker: WorkerRecord, workflow: string, version: number): boolean {
  return worker.served.some((s) => s.workflow === workflow && s.version === version);
}
