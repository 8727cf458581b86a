/** The entry of a sandbox thread: evaluates one expression at a time for the pool in sandbox-pool.ts. */
import { parentPort, workerData } from 'node:worker_threads';
import { WaymarkError } from '../core/errors.js';
import type { Json } from '../core/types.js';
import { runJq } from './jq.js';
import { loadSandbox } from './sandbox.js';

/** What an expression is written in. */
export type ExpressionLanguage = 'javascript' | 'jq';

/** What the pool asks. */
export interface ThreadJob {
  id: number;
  expression: string;
  input: Json;
  timeoutMs: number;
  language: ExpressionLanguage;
}

/** What the thread answers: the value or the error, and the time the evaluation took. */
export type ThreadAnswer = { id: number; elapsedMs: number } & (
  | { ok: true; value: Json }
  | { ok: false; code: string; message: string; details: Json | undefined }
);

const port = parentPort!;
const sandbox = await loadSandbox({ memoryBytes: (workerData as { memoryBytes: number }).memoryBytes });

port.on('message', async (job: ThreadJob) => {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 100) / 100;
  let answer: ThreadAnswer;
  try {
    // a spinning jq query has no limit of its own: the pool stops this thread past the job's time-out
    const value =
      job.language === 'jq'
        ? await runJq(job.expression, job.input)
        : sandbox.evaluate(job.expression, job.input, { timeoutMs: job.timeoutMs });
    answer = { id: job.id, elapsedMs: elapsed(), ok: true, value };
  } catch (error) {
    const known = error instanceof WaymarkError;
    answer = {
      id: job.id,
      elapsedMs: elapsed(),
      ok: false,
      code: known ? error.code : 'E_EXPRESSION',
      message: known ? error.message : `expression failed: ${(error as Error)?.message ?? String(error)}`,
      details: known ? error.details : undefined,
    };
  }
  port.postMessage(answer);
});
port.postMessage({ ready: true });
