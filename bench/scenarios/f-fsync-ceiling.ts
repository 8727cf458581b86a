import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { emit, note, percentile, removeDb, round, tempDbPath, type ScenarioContext } from '../lib.js';

const TRANSACTIONS = 3_000;

/** Single-row insert transactions per second on a raw better-sqlite3 connection in one mode. */
function measure(path: string, synchronous: 'FULL' | 'NORMAL'): { perSec: number; p50: number; p99: number } {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.exec('CREATE TABLE IF NOT EXISTS fsync_probe (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO fsync_probe (v) VALUES (?)');
    const tx = db.transaction((v: string) => insert.run(v));
    for (let i = 0; i < 200; i++) tx.immediate(`warm-${i}`);
    const each: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < TRANSACTIONS; i++) {
      const s = performance.now();
      tx.immediate(`row-${i}`);
      each.push(performance.now() - s);
    }
    const ms = performance.now() - t0;
    return { perSec: TRANSACTIONS / (ms / 1000), p50: percentile(each, 50), p99: percentile(each, 99) };
  } finally {
    db.close();
  }
}

/** F: the hardware ceiling: how many fsynced single-row commits per second SQLite (WAL, synchronous=FULL) does here. */
export async function scenarioF({ dbPath }: ScenarioContext): Promise<void> {
  // A separate file on the store's filesystem: the probe table never goes into a Waymark store.
  const path = join(dirname(dbPath), basename(tempDbPath('fsync')));
  try {
    const full = measure(path, 'FULL');
    removeDb(path);
    const normal = measure(path, 'NORMAL');
    note(`F: probe file ${path}; synchronous=NORMAL is shown for comparison only`);
    emit({
      scenario: 'F',
      name: 'sqlite-fsync-ceiling',
      transactions: TRANSACTIONS,
      dir: dirname(path),
      commitsPerSec: round(full.perSec, 0),
      p50CommitMs: round(full.p50, 3),
      p99CommitMs: round(full.p99, 3),
      normalCommitsPerSec: round(normal.perSec, 0),
      target: 'none (hardware ceiling: WAL + synchronous=FULL, one single-row INSERT per transaction)',
      met: true,
    });
  } finally {
    removeDb(path);
  }
}
