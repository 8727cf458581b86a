import pg from 'pg';
import { emit, note, percentile, round, type ScenarioContext } from '../lib.js';
import { connectionUrl, schemaOf } from '../pg-schema.js';

const TRANSACTIONS = 3_000;
const PARALLEL = [1, 4, 16];

interface Ceiling {
  connections: number;
  commitsPerSec: number;
  p50CommitMs: number;
  p99CommitMs: number;
}

/** `TRANSACTIONS` single-row INSERT transactions (BEGIN; INSERT; COMMIT) spread over `connections` connections. */
async function measure(url: string, table: string, connections: number, autocommit = false): Promise<Ceiling> {
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      return client;
    }),
  );
  try {
    const insert = { name: 'probe_insert', text: `INSERT INTO ${table} (v) VALUES ($1)` };
    const one = async (client: pg.Client, v: string) => {
      if (autocommit) return void (await client.query({ ...insert, values: [v] }));
      await client.query('BEGIN');
      await client.query({ ...insert, values: [v] });
      await client.query('COMMIT');
    };
    for (const client of clients) for (let i = 0; i < 50; i++) await one(client, `warm-${i}`);
    const each: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (client) => {
        while (next < TRANSACTIONS) {
          const i = next++;
          const s = performance.now();
          await one(client, `row-${i}`);
          each.push(performance.now() - s);
        }
      }),
    );
    const ms = performance.now() - t0;
    return {
      connections,
      commitsPerSec: round(TRANSACTIONS / (ms / 1000), 0),
      p50CommitMs: round(percentile(each, 50), 3),
      p99CommitMs: round(percentile(each, 99), 3),
    };
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

/**
 * G: the PostgreSQL commit ceiling on this server: durable single-row INSERT transactions per second
 * (3 round trips each, synchronous_commit as configured) over 1, 4 and 16 connections, and the same INSERT
 * as one autocommit statement (1 round trip) on one connection.
 */
export async function scenarioG({ store }: ScenarioContext): Promise<void> {
  const url = connectionUrl(store);
  const table = `"${schemaOf(store)}".commit_probe`;
  const setup = new pg.Client({ connectionString: url });
  await setup.connect();
  try {
    await setup.query(`CREATE SCHEMA IF NOT EXISTS "${schemaOf(store)}"`);
    await setup.query(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, v text NOT NULL)`);
  } finally {
    await setup.end();
  }
  const results: Ceiling[] = [];
  for (const connections of PARALLEL) {
    const result = await measure(url, table, connections);
    note(`G: ${JSON.stringify(result)}`);
    results.push(result);
  }
  const single = await measure(url, table, 1, true);
  note(`G: autocommit (one round trip per transaction): ${JSON.stringify(single)}`);
  emit({
    scenario: 'G',
    name: 'postgres-commit-ceiling',
    transactions: TRANSACTIONS,
    commitsPerSec: results[0]!.commitsPerSec,
    p50CommitMs: results[0]!.p50CommitMs,
    p99CommitMs: results[0]!.p99CommitMs,
    byConnections: results,
    autocommitCommitsPerSec: single.commitsPerSec,
    autocommitP50CommitMs: single.p50CommitMs,
    target: 'none (server ceiling: BEGIN; one-row INSERT; COMMIT per transaction)',
    met: true,
  });
}
