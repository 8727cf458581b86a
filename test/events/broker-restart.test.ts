/**
 * Broker restarts mid-stream. The shared brokers (127.0.0.1:4222, :5672) are not restarted (other test files use
 * them at the same time): each test starts its own broker (nats-server with JetStream, or a RabbitMQ node, with
 * its own data directory and a free port), SIGKILLs it while an engine consumes, and starts it again on the same
 * data. Nothing lost or doubled: runs counted by their derived ids.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect as connectTcp, createServer } from 'node:net';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../src/index.js';
import { echo } from '../fixtures/event-workflows.js';
import { tempDir, tempPgStore } from '../helpers.js';

const NATS_SERVER = '/usr/sbin/nats-server';
const RABBITMQ_SERVER = '/usr/sbin/rabbitmq-server';

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Whether something accepts connections on the port. */
function portAnswers(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connectTcp(port, '127.0.0.1');
    const answer = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.once('connect', () => answer(true)).once('error', () => answer(false));
    socket.setTimeout(500, () => answer(false));
  });
}

/** Resolves once something accepts connections on the port (tries every 100 ms); fails after `timeoutMs`. */
async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await portAnswers(port)) return;
    if (Date.now() > deadline) throw new Error(`nothing answered on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A broker this test owns: started (in its own process group) and SIGKILLed by it. */
interface Broker {
  url: string;
  start(): ChildProcess;
  /** SIGKILLs every process of the broker and waits until they are gone. */
  kill(child: ChildProcess): Promise<void>;
}

function natsBroker(port: number): Broker {
  const dir = join(tempDir(), 'jetstream');
  return {
    url: `nats://127.0.0.1:${port}`,
    start: () =>
      spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], {
        stdio: 'ignore',
        detached: true,
      }),
    kill: killGroup,
  };
}

/** A RabbitMQ node of its own (name, ports, data, no plugins); the server drops to the rabbitmq user, hence 0777. */
function amqpBroker(port: number, distPort: number): Broker {
  const dir = tempDir();
  chmodSync(dir, 0o777);
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${port}\nloopback_users = none\n`);
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  const env = {
    ...process.env,
    HOME: dir,
    RABBITMQ_NODENAME: `wmtest${port}@localhost`,
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_FEATURE_FLAGS_FILE: join(dir, 'feature_flags'),
    RABBITMQ_PLUGINS_EXPAND_DIR: join(dir, 'plugins'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_PID_FILE: join(dir, 'pid'),
  };
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    start: () => spawn(RABBITMQ_SERVER, [], { env, cwd: dir, stdio: 'ignore', detached: true }),
    // the server runs as the rabbitmq user in a session of its own: its node's pid file names it
    async kill(child) {
      const pid = Number(readFileSync(join(dir, 'pid'), 'utf8').trim());
      const group = groupOf(pid);
      await killGroup(child);
      if (group !== undefined) process.kill(-group, 'SIGKILL');
      await until(() => !existsSync(`/proc/${pid}`), 'the RabbitMQ node to exit');
    },
  };
}

/** The process group of a live process (from /proc), or undefined when it is gone. */
function groupOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

async function until(done: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** SIGKILLs the process group of a broker started here (the server and what it started) and waits for its exit. */
async function killGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  process.kill(-child.pid!, 'SIGKILL');
  await exited;
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

async function untilStarted(engine: Engine, ids: string[], count: number, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await existing(engine, ids);
    if (found >= count) return found;
    if (Date.now() > deadline) throw new Error(`${found} of ${ids.length} runs started in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

for (const kind of ['nats', 'amqp'] as const) {
  test(`${kind}: the broker SIGKILLed and restarted mid-stream: every message starts exactly one run`, async (t) => {
    const port = await freePort();
    const owned = kind === 'nats' ? natsBroker(port) : amqpBroker(port, await freePort());
    let broker = owned.start();
    await waitForPort(port, 60_000);
    const url = owned.url;
    const uri = `${kind}:restart-orders`;
    const engine = await Engine.open({
      store: tempPgStore(),
      workflows: [echo],
      pollIntervalMs: 100,
      rolloutCheckMs: 0,
      logger: { warn() {} },
      events: { [kind]: url, ackWaitMs: 1_500, pollMs: 300 },
    });
    try {
      const ids = Array.from({ length: 60 }, (_, i) => `evt:restart:m-${i}`);
      // published before anything consumes, so the consumer is mid-way through them when the broker dies
      for (let i = 0; i < 45; i++) await engine.events.publish(uri, { n: i }, `m-${i}`);
      await engine.events.createHandler({
        name: 'restart',
        event: uri,
        actions: [{ action: 'start_workflow', start_workflow: { name: 'echo', input: { n: '${n}' } } }],
      });
      await engine.events.consuming();
      // a slow consumer (50 ms of work a message after the start), so the broker dies with messages in flight
      await engine.events.on(uri, () => new Promise((resolve) => setTimeout(resolve, 50)));
      await untilStarted(engine, ids, 3);
      await owned.kill(broker);
      assert.equal(await portAnswers(port), false, 'the broker is down');
      const atKill = await existing(engine, ids);
      broker = owned.start();
      await waitForPort(port, 60_000);
      for (let i = 45; i < 60; i++) {
        // the client reconnects on its own; a publish before it has may fail: try again
        for (let attempt = 0; ; attempt++) {
          try {
            await engine.events.publish(uri, { n: i }, `m-${i}`);
            break;
          } catch (error) {
            if (attempt > 50) throw error;
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
        }
      }
      const restarted = Date.now();
      await untilStarted(engine, ids, 60);
      t.diagnostic(`every message had its run ${Date.now() - restarted} ms after the broker came back`);
      const runs = (await engine.listRuns({ workflow: 'echo', limit: 1000 })).map((r) => r.id).sort();
      assert.deepEqual(runs, [...ids].sort(), 'one run per message: none lost, none doubled');
      t.diagnostic(`${atKill} of the first 45 messages had started runs when the broker was killed`);
      assert.ok(atKill < 45, `the broker was killed mid-stream (${atKill} of 45 handled)`);
    } finally {
      try {
        await engine.close();
      } finally {
        await owned.kill(broker);
      }
    }
  });
}
