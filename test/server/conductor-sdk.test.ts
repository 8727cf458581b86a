import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MetadataClient,
  NonRetryableException,
  noopLogger,
  orkesConductorClient,
  TaskManager,
  WorkflowExecutor,
  type ConductorWorker,
} from '@io-orkes/conductor-javascript';
import { Engine } from '../../src/index.js';
import { startServer } from '../../src/server/server.js';
import { runUntil, tempDb } from '../helpers.js';
import { conductorWorkflows as workflows } from './fixtures/conductor-workflows.js';

/**
 * Conductor's own JavaScript SDK against a real socket: workers (batch poll, update-v2), the workflow
 * executor and the metadata client work unchanged.
 */
test(
  "Conductor's JavaScript SDK: a TaskManager's workers complete runs (a thrown error is retried, " +
    'NonRetryableException fails the run); the executor reads, searches, terminates and restarts',
  async () => {
    const engine = await Engine.open({
      store: `sqlite:${tempDb()}`,
      workflows,
      pollIntervalMs: 50,
      rolloutCheckMs: 0,
      logger: { warn() {} },
    });
    const server = await startServer({ engine, port: 0 });
    let manager: TaskManager | undefined;
    try {
      const client = await orkesConductorClient({ serverUrl: server.url });
      const executor = new WorkflowExecutor(client);
      const metadata = new MetadataClient(client);
      await metadata.registerTask({
        name: 'send_welcome_email',
        retryCount: 0,
        timeoutSeconds: 60,
        totalTimeoutSeconds: 0,
      } as never);
      assert.equal((await metadata.getTask('send_welcome_email')).name, 'send_welcome_email');

      const seen = new Map<string, number>();
      const workers: ConductorWorker[] = [
        {
          taskDefName: 'normalize_customer_profile',
          async execute(task) {
            const input = task.inputData as { customerId: string; email?: string };
            const attempt = (seen.get(input.customerId) ?? 0) + 1;
            seen.set(input.customerId, attempt);
            if (input.customerId === 'flaky' && attempt === 1) throw new Error('CRM timeout');
            if (input.customerId === 'fraud') throw new NonRetryableException('known fraudster');
            return { status: 'COMPLETED', outputData: { email: (input.email ?? 'none').toLowerCase() } };
          },
        },
        {
          taskDefName: 'send_welcome_email',
          execute: async (task) => ({
            status: 'COMPLETED',
            outputData: { sentTo: (task.inputData as { to: string }).to },
          }),
        },
      ];
      manager = new TaskManager(client, workers, {
        logger: noopLogger,
        options: { pollInterval: 20, concurrency: 2, batchPollingTimeout: 200 },
      });
      manager.startPolling();

      const ok = await executor.startWorkflow({
        name: 'customer_onboarding',
        version: 1,
        input: { customerId: 'ada', email: 'Ada@X.io' },
        correlationId: 'sdk',
      });
      const flaky = await executor.startWorkflow({
        name: 'customer_onboarding',
        version: 1,
        input: { customerId: 'flaky', email: 'F@X.io' },
      });
      const fraud = await executor.startWorkflow({
        name: 'customer_onboarding',
        version: 1,
        input: { customerId: 'fraud' },
      });
      await runUntil(engine, ok, (r) => r.status === 'completed');
      await runUntil(engine, flaky, (r) => r.status === 'completed');
      await runUntil(engine, fraud, (r) => r.status === 'failed');

      const done = await executor.getWorkflow(ok, true);
      assert.deepEqual(
        [done.status, done.output],
        ['COMPLETED', { customerId: 'ada', risk: 'low', email: { sentTo: 'ada@x.io' } }],
      );
      assert.deepEqual(
        done.tasks!.map((t) => [t.referenceTaskName, t.status]),
        [
          ['normalize_profile', 'COMPLETED'],
          ['risk_check', 'COMPLETED'],
          ['send_email', 'COMPLETED'],
        ],
      );
      const retried = await executor.getWorkflow(flaky, true);
      assert.deepEqual(
        retried.tasks!.slice(0, 2).map((t) => [t.status, t.retryCount]),
        [
          ['FAILED', 0],
          ['COMPLETED', 1],
        ],
      );
      const failed = await executor.getWorkflowStatus(fraud, true, false);
      assert.equal(failed.status, 'FAILED');
      assert.equal((await executor.getWorkflow(fraud, true)).tasks![0]!.status, 'FAILED_WITH_TERMINAL_ERROR');

      const found = await executor.search(
        0,
        10,
        'workflowType IN (customer_onboarding) AND status IN (COMPLETED)',
        '*',
        'workflowId:ASC',
      );
      assert.deepEqual([found.totalHits, found.results!.map((s) => s.workflowId)], [2, [ok, flaky].sort()]);
      assert.equal(typeof found.results![0]!.startTime, 'string');

      await manager.stopPolling();
      manager = undefined;
      const waiting = await executor.startWorkflow({ name: 'approval', input: { amount: 9 } });
      await runUntil(engine, waiting, (r) => r.status === 'waiting');
      await executor.terminate(waiting, 'not needed');
      assert.equal((await executor.getWorkflowStatus(waiting, false, false)).status, 'TERMINATED');
      await executor.restart(waiting, false);
      await runUntil(engine, waiting, (r) => r.status === 'waiting');
      await executor.updateTaskByRefName('manager_approval', waiting, 'COMPLETED', { approved: true });
      assert.deepEqual((await runUntil(engine, waiting, (r) => r.status === 'completed')).output, {
        decision: { approved: true },
        note: 'recorded 9',
      });
      await assert.rejects(executor.getWorkflow('nope', false, 0), (error: Error) =>
        /404|does not exist/.test(String(error.message)),
      );
    } finally {
      await manager?.stopPolling();
      await server.close();
      await engine.close();
    }
  },
);
