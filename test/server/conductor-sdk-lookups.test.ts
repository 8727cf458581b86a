import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MetadataClient, orkesConductorClient, TaskClient, WorkflowExecutor } from '@io-orkes/conductor-javascript';
import { Engine } from '../../src/index.js';
import { startServer } from '../../src/server/server.js';
import { runUntil, tempDb } from '../helpers.js';
import { conductorWorkflows as workflows } from './fixtures/conductor-workflows.js';

const orderFlow = {
  name: 'sdk_order',
  version: 1,
  schemaVersion: 2,
  tasks: [
    { name: 'sdk_reserve', taskReferenceName: 'reserve', type: 'SIMPLE', inputParameters: {} },
    { name: 'sdk_confirm', taskReferenceName: 'confirm', type: 'HUMAN', inputParameters: {} },
  ],
};

/** The SDK's calls for the lookups, searches, sync updates, signals and removal, against a real socket. */
test("Conductor's JavaScript SDK: task search, updateTaskSync, signals, getByCorrelationIds, delete", async () => {
  const engine = await Engine.open({
    store: `sqlite:${tempDb()}`,
    workflows,
    pollIntervalMs: 50,
    rolloutCheckMs: 0,
    logger: { warn() {} },
  });
  const server = await startServer({ engine, port: 0 });
  try {
    const client = await orkesConductorClient({ serverUrl: server.url });
    const executor = new WorkflowExecutor(client);
    const tasks = new TaskClient(client);
    await new MetadataClient(client).registerWorkflowDef(orderFlow as never, true);
    const id = await executor.startWorkflow({
      name: 'sdk_order',
      version: 1,
      input: {},
      correlationId: 'sdk-1',
      priority: 7,
      taskToDomain: { sdk_reserve: 'blue' },
    } as never);
    await runUntil(engine, id, (r) => r.status === 'waiting');
    assert.equal((await executor.getWorkflow(id, false)).priority, 7);

    const found = await tasks.search(0, 10, '', '*', 'taskType IN (sdk_reserve)');
    assert.deepEqual(
      [
        found.totalHits,
        found.results?.[0]?.workflowId,
        (found.results?.[0] as { domain?: string } | undefined)?.domain,
      ],
      [1, id, 'blue'],
    );
    const synced = await tasks.updateTaskSync(id, 'reserve', 'COMPLETED', { ok: true });
    assert.equal(synced.workflowId, id);
    assert.ok(synced.tasks?.some((t) => t.referenceTaskName === 'reserve' && t.status === 'COMPLETED'));
    await runUntil(engine, id, (r) => r.waitingFor?.kind === 'task' && r.waitingFor.name === 'HUMAN');

    const byCorrelation = await executor.getByCorrelationIds(
      { workflowNames: ['sdk_order'], correlationIds: ['sdk-1'] },
      true,
      false,
    );
    assert.deepEqual(
      byCorrelation['sdk-1']?.map((w) => w.workflowId),
      [id],
    );

    const response = await executor.signal(id, 'COMPLETED' as never, { approved: true });
    assert.deepEqual([response.targetWorkflowId, response.targetWorkflowStatus], [id, 'COMPLETED']);

    const second = await executor.startWorkflow({ name: 'sdk_order', version: 1, input: {} });
    await runUntil(engine, second, (r) => r.status === 'waiting');
    await tasks.updateTaskResult(second, 'reserve', 'COMPLETED', {});
    await runUntil(engine, second, (r) => r.waitingFor?.kind === 'task' && r.waitingFor.name === 'HUMAN');
    await executor.signalAsync(second, 'COMPLETED' as never, { approved: false });
    await runUntil(engine, second, (r) => r.status === 'completed');

    const third = await executor.startWorkflow({ name: 'sdk_order', version: 1, input: {} });
    await executor.deleteWorkflow(third, false);
    await assert.rejects(executor.getWorkflow(third, false), 'a running workflow was terminated and removed');
  } finally {
    await server.close();
    await engine.close();
  }
});
