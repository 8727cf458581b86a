import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine, RunChange } from '../src/index.js';

/** One benchmark result: printed as a single JSON line on stdout. */
export interface BenchResult {
  scenario: string;
  name: string;
  /** The target, or absent for a scenario that only measures. */
  target?: string;
  met?: boolean;
  [figure: string]: unknown;
}

/** Which backend a scenario runs on. */
export type StoreKind = 'sqlite' | 'postgres';

/** What a scenario is given by the dispatcher. */
export interface ScenarioContext {
  /** 'sqlite:<path>' or 'postgres://...?schema=<fresh schema>': this scenario's own store. */
  store: string;
  kind: StoreKind;
  /** The database file path behind a SQLite `store`; '' on PostgreSQL. */
  dbPath: string;
}

/** The backend a store location names. */
export function storeKind(location: string): StoreKind {
  return location.startsWith('postgres://') || location.startsWith('postgresql://') ? 'postgres' : 'sqlite';
}

/** A store location safe to print: a PostgreSQL URL's password is masked. */
export function redact(location: string): string {
  if (storeKind(location) !== 'postgres') return location;
  try {
    const url = new URL(location);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'postgres://<unparseable url>';
  }
}

/** The p-th percentile (0..100) of `values`, nearest-rank; NaN for no values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Rounds to `digits` decimals, so the JSON lines stay readable. */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The short sha of HEAD, with '+dirty' when the working tree has changes; 'unknown' outside git. */
export function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}

/** The store kind of the running scenario, stamped on every result line (set by scenario-main). */
let currentKind: StoreKind = 'sqlite';
let currentSynchronous = 'full';
export function setStoreKind(kind: StoreKind, synchronous: string): void {
  currentKind = kind;
  currentSynchronous = synchronous;
}

/** Prints one result line on stdout, stamped with the store kind, the commit and the durability mode. */
export function emit(result: BenchResult): void {
  const line = {
    ...result,
    store: currentKind,
    commit: gitCommit(),
    synchronous: currentSynchronous,
    node: process.version,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Progress and notes: stderr only, so stdout stays one JSON line per scenario. */
export function note(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** A fresh database path in the OS temp folder. */
export function tempDbPath(label: string): string {
  return join(tmpdir(), `waymark-bench-${label}-${process.pid}-${randomUUID().slice(0, 8)}.db`);
}

/** Deletes a SQLite file and its WAL/SHM companions. */
export function removeDb(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(path + suffix, { force: true });
}

/** Resident set size in MB. */
export function rssMb(): number {
  return process.memoryUsage().rss / (1024 * 1024);
}

/** Runs a full GC a few times when node was started with --expose-gc; returns whether it could. */
export async function fullGc(): Promise<boolean> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return false;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return true;
}

/**
 * Resolves once `predicate` has accepted committed changes `count` times (distinct runs), or rejects
 * after `timeoutMs`. Subscribe before starting the work you wait for.
 */
export function awaitChanges(
  engine: Engine,
  count: number,
  predicate: (change: RunChange) => boolean,
  timeoutMs: number,
  label: string,
): { done: Promise<number>; seen: () => number } {
  const runs = new Set<string>();
  let unsubscribe: () => void = () => {};
  const done = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`${label}: only ${runs.size}/${count} after ${timeoutMs} ms`));
    }, timeoutMs);
    unsubscribe = engine.subscribe((change) => {
      if (!predicate(change) || runs.has(change.runId)) return;
      runs.add(change.runId);
      if (runs.size >= count) {
        clearTimeout(timer);
        unsubscribe();
        resolve(performance.now());
      }
    });
  });
  return { done, seen: () => runs.size };
}

/** Starts `count` runs, at most `parallel` start calls outstanding; returns their ids. */
export async function startRuns(
  engine: Engine,
  workflow: string,
  count: number,
  idPrefix: string,
  parallel = 200,
): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  async function lane() {
    while (next < count) {
      const i = next++;
      const run = await engine.start(workflow, { i }, { id: `${idPrefix}-${i}` });
      ids.push(run.id);
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane));
  return ids;
}
