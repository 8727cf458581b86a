import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine } from '../../src/index.js';
import { startServer } from '../../src/server/server.js';
import { forEachBackend } from '../helpers.js';
import { conductorWorkflows as workflows } from './fixtures/conductor-workflows.js';

/** Counts the store polls the engine makes from now on (each call still goes to the store). */
function countPolls(engine: Engine): { count(): number } {
  let calls = 0;
  const original = engine.tasks.poll;
  engine.tasks.poll = (...args) => {
    calls++;
    return original.apply(engine.tasks, args);
  };
  return { count: () => calls };
}

const WAITERS = 400;

forEachBackend((backend) => {
  test(
    'hundreds of waiting batch polls share a few store polls, ' +
      'are all answered, and each task goes to exactly one of them',
    async () => {
      const engine = await Engine.open({
        store: backend.store(),
        workflows,
        pollIntervalMs: 50,
        rolloutCheckMs: 0,
        logger: { warn() {} },
      });
      const server = await startServer({ engine, port: 0 });
      const get = (path: string) =>
        fetch(`${server.url}${path}`).then(async (r) => ({ status: r.status, body: await r.json() }));
      try {
        const polls = countPolls(engine);
        const idle = Array.from({ length: WAITERS }, (_, i) =>
          get(`/api/tasks/poll/batch/idle_type?workerid=w-${i}&count=5&timeout=1000`),
        );
        const health = await get('/health');
        assert.deepEqual(health, { status: 200, body: { status: 'ok' } }, '/health answers while the polls wait');
        const answered = await Promise.all(idle);
        assert.deepEqual(
          answered.filter((a) => a.status !== 200 || !Array.isArray(a.body) || a.body.length > 0),
          [],
          'every idle poll is answered [] at its timeout',
        );
        // Each poll waiting on its own looked every 200 ms: 400 polls of 1 s made some 2,400 store polls.
        assert.ok(polls.count() < 100, `${WAITERS} idle polls made ${polls.count()} store polls`);

        const waiting = Array.from({ length: WAITERS }, (_, i) =>
          get(`/api/tasks/poll/batch/normalize_customer_profile?workerid=w-${i}&count=1&timeout=30000`),
        );
        await Promise.all(
          Array.from({ length: WAITERS }, (_, i) =>
            engine.start('customer_onboarding', { customerId: `c-${i}` }, { version: 1, id: `poll-${i}` }),
          ),
        );
        const got = await Promise.all(waiting);
        assert.deepEqual(
          got.filter((a) => a.status !== 200 || a.body.length !== 1),
          [],
          'every waiting poll gets one task before its timeout',
        );
        const taskIds = got.map((a) => a.body[0].taskId);
        assert.equal(new Set(taskIds).size, WAITERS, 'no task is handed out twice');
        assert.deepEqual(new Set(got.map((a) => a.body[0].workflowInstanceId)).size, WAITERS);
        assert.equal(await engine.tasks.queueSize('normalize_customer_profile'), 0);
      } finally {
        await server.close();
        await engine.close();
      }
    },
  );
});
