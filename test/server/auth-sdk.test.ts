import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  noopLogger,
  orkesConductorClient,
  TaskManager,
  WorkflowExecutor,
  type ConductorWorker,
} from '@io-orkes/conductor-javascript';
import { runUntil, tempDb } from '../helpers.js';
import { authServer, send } from './auth-fixtures.js';
import { conductorWorkflows as workflows } from './fixtures/conductor-workflows.js';

/**
 * Conductor's JavaScript SDK against a server with auth, configured only with keyId and keySecret: it gets a
 * token from POST /api/token, its worker (a worker key) completes tasks, its executor (an operator key) starts
 * runs; when the token expires it gets a new one on the server's EXPIRED_TOKEN and goes on.
 */
test("Conductor's SDK with keyId/keySecret: a worker completes tasks; a new token follows an expiry", async () => {
  const auth = await authServer(
    `sqlite:${tempDb()}`,
    { workflows, worker: true, pollIntervalMs: 50, rolloutCheckMs: 0 },
    { tokenTtlMs: 1_000 },
  );
  let manager: TaskManager | undefined;
  const clients: { stopBackgroundRefresh(): void }[] = [];
  try {
    const connect = async (key: { keyId: string; keySecret: string }) => {
      const client = await orkesConductorClient({ serverUrl: auth.url, ...key, logger: noopLogger });
      clients.push(client);
      return client;
    };
    const operator = await connect(auth.keys.operator);
    const worker = await connect(auth.keys.worker);
    const workers: ConductorWorker[] = [
      {
        taskDefName: 'normalize_customer_profile',
        execute: async (task) => ({
          status: 'COMPLETED',
          outputData: { email: String((task.inputData as { email: string }).email).toLowerCase() },
        }),
      },
      {
        taskDefName: 'send_welcome_email',
        execute: async (task) => ({
          status: 'COMPLETED',
          outputData: { sentTo: (task.inputData as { to: string }).to },
        }),
      },
    ];
    manager = new TaskManager(worker, workers, {
      logger: noopLogger,
      options: { pollInterval: 20, concurrency: 1, batchPollingTimeout: 100 },
    });
    manager.startPolling();
    const executor = new WorkflowExecutor(operator);
    const start = (customerId: string) =>
      executor.startWorkflow({ name: 'customer_onboarding', version: 1, input: { customerId, email: 'A@X.io' } });

    const first = await start('ada');
    const done = await runUntil(auth.engine, first, (r) => r.status === 'completed');
    assert.deepEqual(done.output, { customerId: 'ada', risk: 'low', email: { sentTo: 'a@x.io' } });
    const history = await auth.engine.history(first);
    assert.ok(
      history.some((e) => e.type === 'task_completed'),
      'the tasks were completed by the remote worker',
    );

    // The operator client's token expires: the server says so, and the SDK asks for a new one.
    const headers = (await operator.getAuthenticationHeaders())!;
    for (let refused = false; !refused; ) {
      const answer = await send(auth.url, 'GET', '/api/workflow/search', headers);
      refused = answer.status === 401 && answer.body.error === 'EXPIRED_TOKEN';
      if (!refused) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const second = await start('bob');
    await runUntil(auth.engine, second, (r) => r.status === 'completed');
    assert.notDeepEqual(await operator.getAuthenticationHeaders(), headers, 'a new token');
  } finally {
    await manager?.stopPolling();
    for (const client of clients) client.stopBackgroundRefresh();
    await auth.close();
  }
});
