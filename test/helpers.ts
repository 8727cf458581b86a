import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe } from 'node:test';
import type { Engine } from '../src/engine.js';
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
export async function runUntil(
  engine: Engine,
  runId: string,
  predicate: (run: Run) => boolean,
  timeoutMs = 10_000,
): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await engine.getRun(runId);
    if (predicate(run)) return run;
    if (Date.now() > deadline)
      throw new Error(`run ${runId} did not reach the expected state in ${timeoutMs} ms: ${JSON.stringify(run)}`);
    await nextChange(engine, runId);
  }
}

/** Resolves after the engine's next commit for the run, or after 100 ms (changes made by other processes). */
export function nextChange(engine: Engine, runId: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, 100);
    const unsubscribe = engine.subscribe((change) => change.runId === runId && done());
    function done() {
      clearTimeout(timer);
      unsubscribe();
      resolve();
    }
  });
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

/** A store backend the suite runs against. `store()` gives a fresh, empty store location each call. */
export interface Backend {
  name: 'sqlite' | 'postgres';
  store(): string;
}

/** PostgreSQL server the suite uses. (Default: the local test database) */
export const TEST_PG_URL = process.env.WAYMARK_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

const createdSchemas = new Set<string>();
after(async () => {
  if (createdSchemas.size === 0) return;
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    for (const schema of createdSchemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
});

/** A fresh PostgreSQL schema (dropped after the test file) as a store location. */
export function tempPgStore(): string {
  const schema = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  createdSchemas.add(schema);
  return `${TEST_PG_URL}?schema=${schema}`;
}

const ALL_BACKENDS: Backend[] = [
  { name: 'sqlite', store: () => `sqlite:${tempDb()}` },
  { name: 'postgres', store: tempPgStore },
];

/** Backends chosen by WAYMARK_TEST_STORES ('sqlite,postgres' by default). */
export const backends: Backend[] = (process.env.WAYMARK_TEST_STORES ?? 'sqlite,postgres').split(',').map((name) => {
  const backend = ALL_BACKENDS.find((b) => b.name === name.trim());
  if (!backend) throw new Error(`WAYMARK_TEST_STORES names an unknown store '${name}' (known: sqlite, postgres)`);
  return backend;
});

/** Defines the same tests once per backend, each group named for its backend. */
export function forEachBackend(define: (backend: Backend) => void): void {
  for (const backend of backends) describe(backend.name, () => define(backend));
}
