import { WaymarkError } from '../core/errors.js';
import { isTerminal, type Run } from '../core/types.js';
import type { RunChange } from './kernel.js';

/** What waiting for a run's end needs from the engine. */
export interface ResultSource {
  getRun(runId: string): Promise<Run>;
  subscribe(listener: (change: RunChange) => void): () => void;
  warn(message: string, facts: Record<string, unknown>): void;
}

/**
 * Resolves with the run once it is over: at once when this engine commits its end, else by looking again
 * every 250 ms (another process may finish it). E_TIMEOUT after `timeoutMs`; a failed read (not a WaymarkError,
 * e.g. a dropped connection) is retried at the same pace and logged once per wait.
 */
export async function waitForTerminal(source: ResultSource, runId: string, timeoutMs = Infinity): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  let run = await source.getRun(runId);
  let warned = false;
  while (!isTerminal(run.status)) {
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new WaymarkError(
        'E_TIMEOUT',
        `run '${runId}' did not finish within ${timeoutMs} ms (status: ${run.status})`,
        {
          details: { runId, status: run.status },
        },
      );
    }
    await changeOrPoll(source, runId, Math.min(left, 250));
    try {
      run = await source.getRun(runId);
    } catch (error) {
      if (error instanceof WaymarkError) throw error;
      if (!warned)
        source.warn(
          'reading the run failed while waiting for its result; reading it again every 250 ms until the wait ends',
          { runId, error: String(error) },
        );
      warned = true;
    }
  }
  return run;
}

/** Resolves when the engine commits a terminal change for the run, or after `ms`. */
function changeOrPoll(source: ResultSource, runId: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    const unsubscribe = source.subscribe((change) => {
      if (change.runId === runId && change.status && isTerminal(change.status)) done();
    });
    function done() {
      clearTimeout(timer);
      unsubscribe();
      resolve();
    }
  });
}
