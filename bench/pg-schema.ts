/** PostgreSQL helpers for the bench: a fresh schema per scenario, dropped afterwards, and raw queries. */
import { randomUUID } from 'node:crypto';
import pg from 'pg';

/** The URL without its `schema` parameter, for raw `pg` connections. */
export function connectionUrl(location: string): string {
  const url = new URL(location);
  url.searchParams.delete('schema');
  return url.toString();
}

/** The schema a location names (its `schema` parameter), else Waymark's default. */
export function schemaOf(location: string): string {
  return new URL(location).searchParams.get('schema') ?? 'waymark';
}

/** `location` with its `schema` parameter set (or replaced) to a fresh `bench_<scenario>_<random>`. */
export function withFreshSchema(location: string, scenario: string): { store: string; schema: string } {
  const schema = `bench_${scenario.toLowerCase()}_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  const url = new URL(location);
  url.searchParams.set('schema', schema);
  return { store: url.toString(), schema };
}

/** Runs `fn` with one raw connection to the database behind `location`. */
export async function withClient<T>(location: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: connectionUrl(location) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Drops a bench schema and everything in it. Only `bench_*` schemas: never a real Waymark schema. */
export async function dropSchema(location: string, schema: string): Promise<void> {
  if (!/^bench_[a-z0-9_]+$/.test(schema)) throw new Error(`refusing to drop schema '${schema}': not a bench schema`);
  await withClient(location, (client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

/** The server's `synchronous_commit` setting, stamped on result lines. */
export async function synchronousCommit(location: string): Promise<string> {
  return withClient(
    location,
    async (client) =>
      `synchronous_commit=${(await client.query('SHOW synchronous_commit')).rows[0].synchronous_commit}`,
  );
}
