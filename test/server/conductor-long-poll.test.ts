import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine } from '../../src/index.js';
import { startServer } from '../../src/server/server.js';
import { tempDb } from '../helpers.js';
import { conductorWorkflows as workflows } from './fixtures/conductor-workflows.js';

/** Resolves the next time the engine answers a poll with no task: the poll is waiting from then on. */
function nextEmptyPoll(engine: Engine): Promise<void> {
  const original = engine.tasks.poll;
  return new Promise((resolve) => {
    engine.tasks.poll = async (...args) => {
      const tasks = await original.apply(engine.tasks, args);
      if (tasks.length === 0) {
        engine.tasks.poll = original;
        resolve();
      }
      return tasks;
    };
  });
}

test(
  'batch poll over a socket waits for a task (woken by its scheduling), ' +
    'honours its timeout, and ends when the server closes',
  async () => {
    const engine = await Engine.open({
      store: `sqlite:${tempDb()}`,
      workflows,
      pollIntervalMs: 50,
      rolloutCheckMs: 0,
      logger: { warn() {} },
    });
    const server = await startServer({ engine, port: 0 });
    try {
      const url = `${server.url}/api/tasks/poll/batch/normalize_customer_profile?workerid=socket-worker&count=2`;

      let started = Date.now();
      const timedOut = await fetch(`${url}&timeout=300`, { headers: { accept: 'application/json' } });
      assert.deepEqual([timedOut.status, await timedOut.json()], [200, []]);
      assert.ok(Date.now() - started >= 290, `answered after ${Date.now() - started} ms, before its timeout`);

      const waiting = nextEmptyPoll(engine);
      started = Date.now();
      const pending = fetch(`${url}&timeout=20000`);
      await waiting;
      await engine.start('customer_onboarding', { customerId: 'c-9' }, { version: 1, id: 'long-poll' });
      const answer = await pending;
      const tasks = (await answer.json()) as { workflowInstanceId: string; workerId: string }[];
      assert.deepEqual(
        tasks.map((t) => [t.workflowInstanceId, t.workerId]),
        [['long-poll', 'socket-worker']],
      );
      assert.ok(Date.now() - started < 5_000, 'answered when the task arrived, not at the timeout');

      const idle = nextEmptyPoll(engine);
      const cut = fetch(`${url}&timeout=20000`);
      await idle;
      started = Date.now();
      await server.close();
      const closed = await cut;
      assert.deepEqual([closed.status, await closed.json()], [200, []]);
      assert.ok(Date.now() - started < 5_000, 'a closing server ends the wait');
    } finally {
      await server.close().catch(() => {});
      await engine.close();
    }
  },
);
