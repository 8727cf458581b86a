import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { Engine } from '../src/runtime/engine.js';
import type { Run } from '../src/core/types.js';
import { WaymarkError } from '../src/core/errors.js';

/** A fresh SQLite file path in a temp folder removed after the test file. */
export function tempDb(name = 'waymark.db'): string {
  const dir = mkdtempSync(join(tmpdir(), 'waymark-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, name);
}

/** A temp folder removed after the test file. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'waymark-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Resolves with the run once `predicate` holds, re-checking after every change the engine commits
 * (and every 100 ms for changes made by other processes). Fails after `timeoutMs`.
 */
export async function runUntil(engine: Engine, runId: string, predicate: (run: Run) => boolean, timeoutMs = 10_000): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await engine.getRun(runId);
    if (predicate(run)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} did not reach the expected state in ${timeoutMs} ms: ${JSON.stringify(run)}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, 100);
      const unsubscribe = engine.subscribe((change) => change.runId === runId && done());
      function done() {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      }
    });
  }
}

/** Asserts that `promise` rejects with a WaymarkError of `code`; returns the error. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<WaymarkError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WaymarkError && error.code === code) return error;
    throw new Error(`expected ${code}, got ${String((error as WaymarkError)?.code)}: ${String(error)}`);
  }
  throw new Error(`expected ${code}, but it resolved`);
}
