import { isTerminal, type RunStatus } from '../core/types.js';
import type { Store, WorkerRecord } from '../store/types.js';

/** One workflow version as operators see it: its runs by status and who serves it. */
export interface VersionSummary {
  workflow: string;
  version: number;
  fingerprint: string;
  registeredAt: Date;
  /** Exact run counts by status. */
  runs: Partial<Record<RunStatus, number>>;
  /** Runs not yet completed, failed or cancelled. */
  inFlight: number;
  /** Live workers serving this version. */
  servedBy: string[];
  /** In-flight runs that no live worker serves: they wait, unmoved, for a worker that does. */
  stranded: number;
}

/** Summarises every registered version from the store: exact counts and live workers. */
export async function summariseVersions(store: Store): Promise<VersionSummary[]> {
  const [versions, counts, workers] = await Promise.all([store.listWorkflowVersions(), store.countRuns(), store.liveWorkers()]);
  return versions.map((v) => {
    const runs: Partial<Record<RunStatus, number>> = {};
    let inFlight = 0;
    for (const c of counts) {
      if (c.workflow !== v.workflow || c.version !== v.version) continue;
      runs[c.status] = c.count;
      if (!isTerminal(c.status)) inFlight += c.count;
    }
    const servedBy = workers.filter((w) => serves(w, v.workflow, v.version)).map((w) => w.workerId);
    return { ...v, runs, inFlight, servedBy, stranded: servedBy.length === 0 ? inFlight : 0 };
  });
}

function serves(worker: WorkerRecord, workflow: string, version: number): boolean {
  return worker.served.some((s) => s.workflow === workflow && s.version === version);
}
