/**
 * Events through the real brokers (NATS JetStream at 127.0.0.1:4222, RabbitMQ at 127.0.0.1:5672) into runs on
 * PostgreSQL: a stored handler starts a run per message and a handler in code completes a waiting task, while the
 * consuming engine process is SIGKILLed mid-stream and replaced. Nothing is lost or doubled (runs counted by their
 * derived ids). The shared brokers are not restarted here (other test files use them at the same time): the
 * consumer is killed instead, leaving delivered, unacknowledged messages with the broker.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import amqp from 'amqplib';
import { connect } from 'nats';
import { jetStreamName } from '../../src/events/nats-queue.js';
import { compileWorkflowDef, declarativeSupport } from '../../src/declarative/compile.js';
import { parseWorkflowDef } from '../../src/declarative/definitions.js';
import { Engine, type Json } from '../../src/index.js';
import { approval, echo } from '../fixtures/event-workflows.js';
import { runUntil, tempPgStore } from '../helpers.js';
import { killHard, startFixture, type Fixture } from '../processes.js';

const BROKERS = {
  nats: process.env.WAYMARK_TEST_NATS ?? 'nats://127.0.0.1:4222',
  amqp: process.env.WAYMARK_TEST_AMQP ?? 'amqp://guest:guest@127.0.0.1:5672',
};
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup().catch(() => {});
});

async function existing(engine: Engine, ids: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const id of ids)
    if (
      await engine.getRun(id).then(
        () => true,
        () => false,
      )
    )
      found.push(id);
  return found;
}

/** Resolves once `count` of `ids` exist (started by the consumer process); fails after `timeoutMs`. */
async function untilStarted(engine: Engine, ids: string[], count: number, timeoutMs = 30_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await existing(engine, ids);
    if (found.length >= count) return found;
    if (Date.now() > deadline) throw new Error(`${found.length} of ${ids.length} runs started in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function consumer(store: string, broker: 'nats' | 'amqp', approvals: string): Fixture {
  return startFixture('event-consumer.ts', {
    STORE: store,
    BROKER: broker,
    BROKER_URL: BROKERS[broker],
    APPROVALS: approvals,
  });
}

for (const broker of ['nats', 'amqp'] as const) {
  test(`${broker}: runs started, a task completed, the consumer SIGKILLed mid-stream`, async (t) => {
    const suffix = randomUUID().slice(0, 8);
    const orders = `${broker}:orders-${suffix}`;
    const approvals = `${broker}:approvals-${suffix}`;
    cleanups.push(() => removeQueues(broker, [`orders-${suffix}`, `approvals-${suffix}`]));
    const store = tempPgStore();
    const engine = await Engine.open({
      store,
      workflows: [echo, approval],
      pollIntervalMs: 100,
      rolloutCheckMs: 0,
      logger: { warn() {} },
      events: { [broker]: BROKERS[broker], consumeHandlers: false },
    });
    let running: Fixture | undefined;
    try {
      const name = `start-${suffix}`;
      await engine.events.createHandler({
        name,
        event: orders,
        actions: [{ action: 'start_workflow', start_workflow: { name: 'echo', input: { n: '${n}' } } }],
      });
      const ids = Array.from({ length: 30 }, (_, i) => `evt:${name}:m-${i}`);
      running = consumer(store, broker, approvals);
      await running.next('ready');
      for (let i = 0; i < 15; i++) await engine.events.publish(orders, { n: i }, `m-${i}`);
      const before = await untilStarted(engine, ids, 3);
      await killHard(running);
      const atKill = (await existing(engine, ids)).length;
      for (let i = 15; i < 30; i++) await engine.events.publish(orders, { n: i }, `m-${i}`);
      running = consumer(store, broker, approvals);
      await running.next('ready');
      await untilStarted(engine, ids, 30);
      const runs = (await engine.listRuns({ workflow: 'echo', limit: 1000 })).map((r) => r.id).sort();
      assert.deepEqual(runs, [...ids].sort(), 'one run per message: none lost, none doubled');
      assert.ok(before.length >= 3 && atKill < 30, `killed mid-stream (${atKill} of 30 started)`);
      t.diagnostic(`${atKill} of the first 15 messages had started runs when the consumer was killed`);
      const last = await runUntil(engine, ids[29]!, (r) => r.status === 'completed');
      assert.deepEqual(last.output, { n: 29 });

      const waiting = await engine.start('approval', {});
      await runUntil(engine, waiting.id, (r) => r.status === 'waiting');
      while (!(await engine.tasks.ofRun(waiting.id)).some((t) => t.refName === 'approve')) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await engine.events.publish(approvals, { runId: waiting.id, who: 'ana' }, `a-${suffix}`);
      const approved = await runUntil(engine, waiting.id, (r) => r.status === 'completed', 20_000);
      assert.deepEqual(approved.output, { by: 'ana' });
    } finally {
      if (running) await killHard(running);
      await engine.close();
    }
  });
}

test('an EVENT task publishes to NATS once, and a handler in code consumes it', async () => {
  const support = await declarativeSupport();
  const suffix = randomUUID().slice(0, 8);
  const subject = `emitted-${suffix}`;
  cleanups.push(() => removeQueues('nats', [subject]));
  const engine = await Engine.open({
    store: tempPgStore(),
    workflows: [echo],
    compile: support.compile,
    rolloutCheckMs: 0,
    events: { nats: BROKERS.nats },
  });
  support.bind(engine);
  try {
    const def = {
      name: 'emitter',
      version: 1,
      tasks: [
        {
          name: 'emit',
          taskReferenceName: 'emit',
          type: 'EVENT',
          sink: `nats:${subject}`,
          inputParameters: { n: '${workflow.input.n}' },
        },
      ],
    };
    await engine.definitions.register([compileWorkflowDef(parseWorkflowDef(def), support.env)]);
    const seen: Json[] = [];
    await engine.events.on(
      `nats:${subject}`,
      async (message, actions) => {
        seen.push(message.id);
        await actions.start('echo', message.payload);
      },
      { name: 'emitted' },
    );
    const run = await engine.start('emitter', { n: 5 });
    const done = await runUntil(engine, run.id, (r) => r.status === 'completed');
    const messageId = `${run.id}:emit`;
    assert.equal((done.output as Record<string, Json>).messageId, messageId);
    // the same id published again (a replay publishing again would) is dropped by JetStream's duplicate window
    await engine.events.publish(`nats:${subject}`, { n: 5 }, messageId);
    const started = await untilStarted(engine, [`evt:emitted:${messageId}`], 1);
    const echoed = await runUntil(engine, started[0]!, (r) => r.status === 'completed');
    assert.equal((echoed.output as Record<string, Json>).n, 5);
    assert.equal((echoed.output as Record<string, Json>).workflowInstanceId, run.id);
    await engine.events.publish(`nats:${subject}`, { n: 6 }, 'after');
    await untilStarted(engine, ['evt:emitted:after'], 1);
    assert.deepEqual(seen, [messageId, 'after'], 'the duplicate was never delivered');
  } finally {
    await engine.close();
  }
});

async function removeQueues(broker: 'nats' | 'amqp', names: string[]): Promise<void> {
  if (broker === 'nats') {
    const nc = await connect({ servers: BROKERS.nats });
    const jsm = await nc.jetstreamManager();
    for (const name of names) await jsm.streams.delete(jetStreamName('WAYMARK', name)).catch(() => false);
    await nc.close();
    return;
  }
  const connection = await amqp.connect(BROKERS.amqp);
  const channel = await connection.createChannel();
  for (const name of names) await channel.deleteQueue(name).catch(() => {});
  await connection.close();
}
