import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { backends, TEST_PG_URL, tempPgStore } from '../helpers.js';

const skip = backends.some((b) => b.name === 'postgres') ? false : 'PostgreSQL is not among WAYMARK_TEST_STORES';

/**
 * A TCP proxy to the test server that, while holding, keeps back what the server sends on each connection
 * and passes it on in one piece when the server ends that connection: so a connection's last answer and
 * the server's goodbye (FATAL, then the end) reach the client in one read, as they do on a loaded machine.
 */
interface HoldingProxy {
  port: number;
  hold(): void;
  /** Stops holding: what is held is passed on now. */
  pass(): void;
  close(): Promise<void>;
}

async function startHoldingProxy(target: { hostname: string; port: number }): Promise<HoldingProxy> {
  let holding = false;
  const sockets = new Set<Socket>();
  const flushes = new Set<() => void>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.hostname);
    let held: Buffer[] = [];
    const flush = () => {
      if (held.length) client.write(Buffer.concat(held));
      held = [];
    };
    flushes.add(flush);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('data', (data) => upstream.write(data));
    upstream.on('data', (data) => (holding ? held.push(data) : client.write(data)));
    upstream.on('end', () => {
      flush();
      flushes.delete(flush);
      client.end();
    });
    client.on('end', () => upstream.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    hold: () => {
      holding = true;
    },
    pass: () => {
      holding = false;
      for (const flush of flushes) flush();
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function sql<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

test('a connection the server ends just as the pool hands it to a waiting transaction fails that transaction, not ' +
  "the process (the 'error' event has a listener)", {
  skip,
  timeout: 30_000,
}, async () => {
  const applicationName = `waymark-handover-${process.pid}`;
  const url = new URL(`${tempPgStore()}&application_name=${applicationName}`);
  const proxy = await startHoldingProxy({ hostname: url.hostname, port: Number(url.port) });
  url.port = String(proxy.port);
  const store = await PostgresStore.open({ url: url.toString(), poolSize: 1 });
  try {
    await store.getRun('nobody'); // the pool's only connection is open (the migration's was closed)
    proxy.hold();
    const read = store.getRun('nobody'); // takes the pool's only connection; its answer is held back
    const write = store
      .createRuns([{ id: 'r1', workflow: 'w', version: 1, input: null }], 1_000)
      .then(() => 'written', String); // waits for that connection
    let backend: { pid: number }[] = [];
    while (backend.length === 0) {
      // the read has been answered by the server (only the proxy holds the answer back)
      backend = await sql<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle' AND query LIKE 'SELECT id, " +
          "% FROM runs WHERE id = %'",
        [applicationName],
      );
    }
    await sql('SELECT pg_terminate_backend($1)', [backend[0]!.pid]);

    assert.equal(await read, undefined, 'the read was answered before the server ended the connection');
    assert.match(
      await write,
      /not queryable|Connection terminated|terminating connection/,
      'the transaction handed the dead connection fails',
    );
    proxy.pass();
    const [again] = await store.createRuns([{ id: 'r1', workflow: 'w', version: 1, input: null }], 1_000);
    assert.ok(
      again && 'run' in again && again.created,
      'a new connection serves the next transaction, which writes the run',
    );
  } finally {
    await store.close();
    await proxy.close();
  }
});
