import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { test } from 'node:test';
import pg from 'pg';
import { WaymarkError } from '../../src/core/errors.js';
import { postgresMigrations } from '../../src/store/postgres/migrate.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { backends, TEST_PG_URL, tempPgStore } from '../helpers.js';

const skip = backends.some((b) => b.name === 'postgres') ? false : 'PostgreSQL is not among WAYMARK_TEST_STORES';

async function sql<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

const schemaOf = (location: string) => new URL(location).searchParams.get('schema')!;

test('several processes migrating one schema at once apply each migration exactly once', { skip }, async () => {
  const location = tempPgStore();
  const script = `import { PostgresStore } from './src/store/postgres/postgres-store.ts';
    const store = await PostgresStore.open({ url: process.argv[1] }); await store.close();`;
  const children = Array.from({ length: 4 }, () =>
    fork('--input-type=module', [location], { execArgv: ['--import', 'tsx', '-e', script], stdio: 'inherit' }),
  );
  const codes = await Promise.all(children.map((c) => new Promise((resolve) => c.once('exit', resolve))));
  assert.deepEqual(codes, [0, 0, 0, 0]);
  const versions = await sql<{ version: number }>(
    `SELECT version FROM "${schemaOf(location)}".waymark_schema ORDER BY version`,
  );
  assert.deepEqual(
    versions.map((v) => v.version),
    postgresMigrations().map((m) => m.version),
  );
});

test('a schema written by a newer Waymark is refused clearly and left untouched', { skip }, async () => {
  const location = tempPgStore();
  await (await PostgresStore.open({ url: location })).close();
  const schema = schemaOf(location);
  await sql(`INSERT INTO "${schema}".waymark_schema (version, applied_at) VALUES (999, 0)`);
  await assert.rejects(
    PostgresStore.open({ url: location }),
    (e: unknown) => e instanceof WaymarkError && e.code === 'E_SCHEMA_TOO_NEW',
  );
  const rows = await sql<{ n: number }>(`SELECT COUNT(*)::int AS n FROM "${schema}".waymark_schema`);
  assert.equal(rows[0]!.n, postgresMigrations().length + 1);
});

test('a bad schema name or an unreachable server is a clear error', { skip }, async () => {
  await assert.rejects(PostgresStore.open({ url: `${TEST_PG_URL}?schema=Bad-Name` }), /schema 'Bad-Name' is invalid/);
  await assert.rejects(
    PostgresStore.open({ url: 'postgres://postgres@127.0.0.1:1/test' }),
    (e: unknown) => e instanceof WaymarkError && e.code === 'E_STORE',
  );
});

test('a start made through one store wakes workers listening through another', { skip }, async () => {
  const location = tempPgStore();
  const listener = await PostgresStore.open({ url: location });
  const writer = await PostgresStore.open({ url: location });
  try {
    const woken = new Promise<void>((resolve) => listener.onWake(resolve));
    await writer.createRuns([{ id: 'r1', workflow: 'w', version: 1, input: null }], 1000);
    await woken;
  } finally {
    await writer.close();
    await listener.close();
  }
});

test('a commit or a start the server refuses (a number out of range) ' +
  'fails alone: the batch is split and the others are written', {
  skip,
}, async () => {
  const store = await PostgresStore.open({ url: tempPgStore() });
  try {
    const [one, two] = await store.createRuns(
      [
        { id: 'r1', workflow: 'w', version: 1, input: null, leaseOwner: 'worker-a' },
        { id: 'r2', workflow: 'w', version: 1, input: null, leaseOwner: 'worker-a' },
      ],
      10_000,
    );
    assert.ok(one!.created && two!.created);
    const step = { type: 'step_completed' as const, seq: 0, name: 's', data: { output: 1 } };
    const outcomes = await store.commit(
      [
        {
          runId: 'r1',
          workerId: 'worker-a',
          fromPos: 1,
          events: [step],
          update: { status: 'running', version: 2 ** 31 },
        },
        { runId: 'r2', workerId: 'worker-a', fromPos: 1, events: [step], update: { status: 'completed' } },
      ],
      10_000,
    );
    assert.equal(outcomes[0]!.ok ? 'ok' : outcomes[0]!.reason, 'invalid_value');
    assert.match((outcomes[0] as { message: string }).message, /out of range for type integer/);
    assert.deepEqual(outcomes[1], { ok: true });
    assert.deepEqual([(await store.history('r1')).length, (await store.getRun('r2'))?.status], [1, 'completed']);

    const started = await store.createRuns(
      [
        { id: 'r3', workflow: 'w', version: 2 ** 31, input: null },
        { id: 'r4', workflow: 'w', version: 1, input: null },
      ],
      1000,
    );
    assert.match('refused' in started[0]! ? started[0]!.refused : '', /out of range for type integer/);
    assert.equal(started[1]!.created, true);
    assert.deepEqual([await store.getRun('r3'), (await store.getRun('r4'))?.status], [undefined, 'running']);
  } finally {
    await store.close();
  }
});

test('renewing leases never waits for a run another transaction holds locked, ' +
  'so it cannot deadlock a group commit; the others are renewed', {
  skip,
}, async () => {
  const location = tempPgStore();
  const schema = schemaOf(location);
  const store = await PostgresStore.open({ url: location });
  const holder = new pg.Client({ connectionString: TEST_PG_URL });
  await holder.connect();
  try {
    await store.registerWorkflowVersions([{ workflow: 'w', version: 1, fingerprint: 'f1' }]);
    await store.createRuns(
      ['r1', 'r2'].map((id) => ({ id, workflow: 'w', version: 1, input: null })),
      1000,
    );
    assert.equal((await store.claimRuns('worker-a', [{ workflow: 'w', version: 1 }], 10, 60_000)).length, 2);
    const expiry = async () =>
      Object.fromEntries(
        (await sql<{ id: string; e: number }>(`SELECT id, lease_expires_at::float8 AS e FROM "${schema}".runs`)).map(
          (r) => [r.id, r.e],
        ),
      );
    const before = await expiry();

    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM "${schema}".runs WHERE id = 'r1' FOR UPDATE`); // as a commit in flight does
    let bound: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      store.renewLeases('worker-a', ['r1', 'r2'], 600_000).then(() => 'renewed'),
      new Promise((resolve) => (bound = setTimeout(() => resolve('still waiting for the lock after 5 s'), 5_000))),
    ]);
    clearTimeout(bound);
    await holder.query('ROLLBACK');
    assert.equal(outcome, 'renewed');
    const after = await expiry();
    assert.equal(after.r1, before.r1, 'the locked run was skipped (its commit extends its lease)');
    assert.ok(after.r2! > before.r2! + 500_000, 'the other run was renewed');
  } finally {
    await holder.end();
    await store.close();
  }
});
