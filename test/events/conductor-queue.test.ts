/**
 * The built-in `conductor:` queues on every store: an EVENT task publishes once (replay does not publish again), a
 * handler in code starts a run per message under a derived id, a stored Conductor handler starts runs with
 * payload parameters and completes a waiting task, and a message whose action fails is redelivered.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { compileWorkflowDef, declarativeSupport } from '../../src/declarative/compile.js';
import { parseWorkflowDef } from '../../src/declarative/definitions.js';
import { defineWorkflow, Engine, type Json } from '../../src/index.js';
import { forEachBackend, runUntil } from '../helpers.js';

const support = await declarativeSupport();
const compile = (json: unknown) => compileWorkflowDef(parseWorkflowDef(json), support.env);

const echo = defineWorkflow({
  name: 'echo',
  version: 1,
  run: async (ctx, input: Json) => ctx.step('echo', () => input),
});

/** Waits for the task `approve`, then returns what it was completed with. */
const approval = defineWorkflow({
  name: 'approval',
  version: 1,
  run: async (ctx) => ctx.task('approve', {}, { ref: 'approve' }),
});

/** Waits for the signal `go` and returns its payload. */
const gate = defineWorkflow({
  name: 'gate',
  version: 1,
  run: async (ctx) => ctx.waitForSignal('go'),
});

const publisher = (queue: string) => ({
  name: 'publisher',
  version: 1,
  tasks: [
    {
      name: 'emit',
      taskReferenceName: 'emit',
      type: 'EVENT',
      sink: `conductor:${queue}`,
      inputParameters: { order: '${workflow.input.order}' },
    },
  ],
});

async function open(store: string): Promise<Engine> {
  const engine = await Engine.open({
    store,
    workflows: [echo, approval, gate],
    compile: support.compile,
    rolloutCheckMs: 0,
    events: { pollMs: 100 },
    logger: { warn() {} },
  });
  support.bind(engine);
  return engine;
}

/** Unacknowledged messages of a conductor: queue, read through a fresh store view of the engine's events. */
async function settledPending(engine: Engine, uri: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const outcomes = await engine.events.pending(uri);
    if (outcomes === 0) return 0;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return engine.events.pending(uri);
}

type StepEvent = { data: { output: { output: Record<string, Json> } } };

/** The run `id` once it exists and completed (it is started by a consumer, so it may not exist yet). */
export async function completedRun(engine: Engine, id: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (
    !(await engine.getRun(id).then(
      () => true,
      () => false,
    ))
  ) {
    if (Date.now() > deadline) throw new Error(`no run '${id}' after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return runUntil(engine, id, (r) => r.status === 'completed', timeoutMs);
}

forEachBackend((backend) => {
  test('an EVENT task publishes once to a conductor: queue and a code handler starts one run per message', async () => {
    const store = backend.store();
    const queue = `orders-${randomUUID().slice(0, 8)}`;
    const engine = await open(store);
    try {
      await engine.definitions.register([compile(publisher(queue))]);
      const started: string[] = [];
      const stop = await engine.events.on(`conductor:${queue}`, async (message, actions) => {
        started.push(await actions.start('echo', message.payload));
      });
      const run = await engine.start('publisher', { order: 7 });
      const done = await runUntil(engine, run.id, (r) => r.status === 'completed');
      const output = (done.output ?? {}) as Record<string, Json>;
      const expectedId = `${run.id}:emit`;
      const history = await engine.history(run.id);
      const step = history.find((e) => e.type === 'step_completed') as unknown as StepEvent;
      assert.equal(step.data.output.output.messageId, expectedId, 'the id is recorded in the step output');
      const derived = `evt:conductor:${queue}:${expectedId}`;
      const echoed = await completedRun(engine, derived);
      assert.deepEqual((echoed.output as Record<string, Json>).order, 7);
      assert.equal((echoed.output as Record<string, Json>).workflowInstanceId, run.id);
      assert.deepEqual(started, [derived]);
      assert.ok(output);
      // the same message published again (a replayed EVENT would use the same id) is not a second message
      await engine.events.publish(`conductor:${queue}`, { order: 7 }, expectedId);
      await stop();
      assert.equal((await engine.listRuns({ workflow: 'echo' })).length, 1, 'one run for the one message');
    } finally {
      await engine.close();
    }
  });

  test('a stored handler starts runs with payload parameters, completes a waiting task', async () => {
    const store = backend.store();
    const suffix = randomUUID().slice(0, 8);
    const starts = `conductor:starts-${suffix}`;
    const approvals = `conductor:approvals-${suffix}`;
    const engine = await open(store);
    try {
      await engine.events.createHandler({
        name: `start-${suffix}`,
        event: starts,
        condition: '$.kind === "order"',
        actions: [
          {
            action: 'start_workflow',
            start_workflow: {
              name: 'echo',
              input: { id: '${orderId}', note: 'order ${orderId}' },
              correlationId: '${orderId}',
            },
          },
        ],
      });
      await engine.events.createHandler({
        name: `approve-${suffix}`,
        event: approvals,
        actions: [
          {
            action: 'complete_task',
            complete_task: { workflowId: '${runId}', taskRefName: 'approve', output: { by: '${who}' } },
          },
        ],
      });
      await assert.rejects(
        engine.events.createHandler({
          name: `start-${suffix}`,
          event: starts,
          actions: [{ action: 'start_workflow', start_workflow: { name: 'echo' } }],
        }),
        { code: 'E_EVENT_HANDLER_EXISTS' },
      );
      await assert.rejects(
        engine.events.createHandler({
          name: 'x',
          event: starts,
          condition: '$.a ===',
          actions: [{ action: 'start_workflow', start_workflow: { name: 'echo' } }],
        }),
        /condition is not a JavaScript expression/,
      );
      await engine.events.publish(starts, { kind: 'order', orderId: 'o-1' }, 'm1');
      await engine.events.publish(starts, { kind: 'refund', orderId: 'o-2' }, 'm2');
      await engine.events.publish(starts, { kind: 'order', orderId: 'o-3' }, 'm3');
      const first = await completedRun(engine, `evt:start-${suffix}:m1`);
      assert.deepEqual(first.output, { id: 'o-1', note: 'order o-1' });
      await completedRun(engine, `evt:start-${suffix}:m3`);
      assert.deepEqual((await engine.listRuns({ workflow: 'echo' })).map((r) => r.id).sort(), [
        `evt:start-${suffix}:m1`,
        `evt:start-${suffix}:m3`,
      ]);

      const waiting = await engine.start('approval', {});
      await runUntil(engine, waiting.id, (r) => r.status === 'waiting');
      for (;;) {
        const tasks = await engine.tasks.ofRun(waiting.id);
        if (tasks.some((t) => t.refName === 'approve')) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await engine.events.publish(approvals, { runId: waiting.id, who: 'ana' }, 'a1');
      const approved = await runUntil(engine, waiting.id, (r) => r.status === 'completed', 15_000);
      assert.deepEqual(approved.output, { by: 'ana' });
      assert.equal(await settledPending(engine, approvals), 0);
    } finally {
      await engine.close();
    }
  });

  test('a signal action delivers a signal to a run once; a redelivery does not send it again', async () => {
    const suffix = randomUUID().slice(0, 8);
    const event = `conductor:signals-${suffix}`;
    const engine = await open(backend.store());
    try {
      await engine.events.createHandler({
        name: `go-${suffix}`,
        event,
        actions: [{ action: 'signal', signal: { runId: '${runId}', name: 'go', payload: { by: '${who}' } } }],
      });
      const run = await engine.start('gate', {});
      await runUntil(engine, run.id, (r) => r.status === 'waiting');
      const first = await engine.events.handleIncoming(event, { runId: run.id, who: 'ana' }, 's-1');
      assert.deepEqual(first[0]!.refused, []);
      const done = await runUntil(engine, run.id, (r) => r.status === 'completed');
      assert.deepEqual(done.output, { by: 'ana' });
      // the same message again: noted as sent, so nothing is sent (a send to the finished run would be refused)
      const again = await engine.events.handleIncoming(event, { runId: run.id, who: 'ana' }, 's-1');
      assert.deepEqual(again[0]!.refused, []);
      const other = await engine.events.handleIncoming(event, { runId: run.id, who: 'bo' }, 's-2');
      assert.equal(other[0]!.refused.length, 1, 'a new message is sent, and refused by the finished run');
    } finally {
      await engine.close();
    }
  });

  test('an EVENT task whose sink names a broker this engine has no connection for fails saying so', async () => {
    const engine = await open(backend.store());
    try {
      const def = { ...publisher('x'), name: 'to_nats' };
      def.tasks[0]!.sink = 'nats:nowhere';
      await engine.definitions.register([compile(def)]);
      const run = await engine.start('to_nats', { order: 1 });
      const failed = await runUntil(engine, run.id, (r) => r.status === 'failed');
      const details = failed.error!.details as { attempts: number; error: { code: string; message: string } };
      assert.deepEqual(
        [failed.error!.code, details.error.code, details.attempts],
        ['E_STEP_FAILED', 'E_BROKER_NOT_CONFIGURED', 1],
        'not retried',
      );
      assert.match(details.error.message, /EVENT 'emit': queue 'nats:nowhere' needs a NATS connection/);
    } finally {
      await engine.close();
    }
  });

  test('a message is acknowledged only after its actions: a failed attempt leaves it for redelivery', async () => {
    const queue = `conductor:flaky-${randomUUID().slice(0, 8)}`;
    const engine = await open(backend.store());
    try {
      const attempts: string[] = [];
      let started: () => void;
      const done = new Promise<void>((resolve) => (started = resolve));
      await engine.events.on(
        queue,
        async (message, actions) => {
          attempts.push(message.id);
          await actions.start('echo', message.payload);
          if (attempts.length === 1) throw new Error('the process died before the ack');
          started();
        },
        { name: 'flaky' },
      );
      await engine.events.publish(queue, { n: 1 }, 'f1');
      await done;
      assert.deepEqual(attempts, ['f1', 'f1'], 'delivered again after the failed attempt');
      assert.deepEqual(
        (await engine.listRuns({ workflow: 'echo' })).map((r) => r.id),
        ['evt:flaky:f1'],
        'the second attempt found the run the first one started',
      );
      assert.equal(await settledPending(engine, queue), 0, 'acknowledged after the second attempt');
    } finally {
      await engine.close();
    }
  });
});
