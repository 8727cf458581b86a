import { HISTORY_FORMAT, type RunStartedData } from '../core/types.js';
import type { NewRun } from './types.js';

/** The data of a run's first event, `run_started`: what it runs and with what. */
export function startedData(run: NewRun): RunStartedData {
  const data: RunStartedData = {
    workflow: run.workflow,
    version: run.version,
    input: run.input ?? null,
    format: HISTORY_FORMAT,
  };
  if (run.expiresAt !== undefined) data.expiresAt = run.expiresAt;
  if (run.lock) data.lock = { key: run.lock.key, onConflict: run.lock.onConflict };
  if (run.traceparent !== undefined) data.traceparent = run.traceparent;
  return data;
}
