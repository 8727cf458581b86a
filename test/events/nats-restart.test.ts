/**
 * A NATS broker restart mid-stream. The shared broker at 127.0.0.1:4222 is not restarted (other test files use it
 * at the same time): this test starts its own nats-server (JetStream, its own store directory, a free port) and
 * SIGKILLs and restarts that one while an engine consumes from it. Nothing lost or doubled: runs counted by their
 * derived ids.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect as connectTcp, createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../src/index.js';
import { echo } from '../fixtures/event-workflows.js';
import { tempDir, tempPgStore } from '../helpers.js';

const NATS_SERVER = '/usr/sbin/nats-server';

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Resolves once something accepts connections on the port (tries every 100 ms); fails after `timeoutMs`. */
async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connectTcp(port, '127.0.0.1');
      socket.once('connect', () => resolve(true)).once('error', () => resolve(false));
      socket.setTimeout(500, () => resolve(false));
    }).then((up) => up);
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing answered on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function startBroker(port: number, dir: string): ChildProcess {
  return spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
}

async function existing(engine: Engine, ids: string[]): Promise<number> {
  let found = 0;
  for (const id of ids)
    if (
      await engine.getRun(id).then(
        () => true,
        () => false,
      )
    )
      found++;
  return found;
}

async function untilStarted(engine: Engine, ids: string[], count: number, timeoutMs = 40_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await existing(engine, ids);
    if (found >= count) return found;
    if (Date.now() > deadline) throw new Error(`${found} of ${ids.length} runs started in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('nats: the broker SIGKILLed and restarted mid-stream: every message starts exactly one run', async (t) => {
  const port = await freePort();
  const dir = join(tempDir(), 'jetstream');
  let broker = startBroker(port, dir);
  await waitForPort(port);
  const url = `nats://127.0.0.1:${port}`;
  const engine = await Engine.open({
    store: tempPgStore(),
    workflows: [echo],
    pollIntervalMs: 100,
    rolloutCheckMs: 0,
    logger: { warn() {} },
    events: { nats: url, ackWaitMs: 1_500, pollMs: 300 },
  });
  try {
    await engine.events.createHandler({
      name: 'restart',
      event: 'nats:restart-orders',
      actions: [{ action: 'start_workflow', start_workflow: { name: 'echo', input: { n: '${n}' } } }],
    });
    await engine.events.consuming();
    const ids = Array.from({ length: 30 }, (_, i) => `evt:restart:m-${i}`);
    for (let i = 0; i < 15; i++) await engine.events.publish('nats:restart-orders', { n: i }, `m-${i}`);
    await untilStarted(engine, ids, 3);
    broker.kill('SIGKILL');
    await once(broker, 'exit');
    const atKill = await existing(engine, ids);
    broker = startBroker(port, dir);
    await waitForPort(port);
    for (let i = 15; i < 30; i++) {
      // the client reconnects on its own; a publish before it has may fail: try again
      for (let attempt = 0; ; attempt++) {
        try {
          await engine.events.publish('nats:restart-orders', { n: i }, `m-${i}`);
          break;
        } catch (error) {
          if (attempt > 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    }
    await untilStarted(engine, ids, 30);
    const runs = (await engine.listRuns({ workflow: 'echo', limit: 1000 })).map((r) => r.id).sort();
    assert.deepEqual(runs, [...ids].sort(), 'one run per message: none lost, none doubled');
    t.diagnostic(`${atKill} of the first 15 messages had started runs when the broker was killed`);
  } finally {
    await engine.close();
    if (broker.exitCode === null && broker.signalCode === null) {
      broker.kill('SIGKILL');
      await once(broker, 'exit');
    }
  }
});
