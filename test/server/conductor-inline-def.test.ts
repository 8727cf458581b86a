import assert from 'node:assert/strict';
import { test } from 'node:test';
import { orkesConductorClient, WorkflowExecutor } from '@io-orkes/conductor-javascript';
import { Engine } from '../../src/index.js';
import { startServer } from '../../src/server/server.js';
import { tempDb } from '../helpers.js';

/** An inline definition: a jq transform, then a worker task the test mocks. */
const inline = {
  name: 'inline_quote',
  version: 3,
  tasks: [
    {
      name: 'price',
      taskReferenceName: 'price',
      type: 'JSON_JQ_TRANSFORM',
      inputParameters: { qty: '${workflow.input.qty}', queryExpression: '.qty * 5' },
    },
    { name: 'approve_quote', taskReferenceName: 'approve', inputParameters: { price: '${price.output.result}' } },
  ],
  outputParameters: { price: '${price.output.result}', approved: '${approve.output.ok}' },
};

test(
  "Conductor's JavaScript SDK: a start with an inline workflowDef runs it as an ephemeral version (the same def " +
    'is the same version); POST /api/workflow/test completes mocked tasks and answers the workflow',
  async () => {
    const engine = await Engine.open({ store: `sqlite:${tempDb()}`, rolloutCheckMs: 0, logger: { warn() {} } });
    const server = await startServer({ engine, port: 0 });
    try {
      const client = await orkesConductorClient({ serverUrl: server.url });
      const executor = new WorkflowExecutor(client);
      const first = await executor.startWorkflow({
        name: 'inline_quote',
        input: { qty: 2 },
        workflowDef: inline,
      } as never);
      const again = await executor.startWorkflow({
        name: 'inline_quote',
        input: { qty: 3 },
        workflowDef: inline,
      } as never);
      const [a, b] = [await engine.getRun(first), await engine.getRun(again)];
      assert.equal(a.workflow, b.workflow, 'the same inline definition is the same version');
      assert.match(a.workflow, /^inline_quote:ephemeral:[0-9a-f]{16}$/);
      assert.equal(a.version, 3);
      const shown = await executor.getWorkflow(first, true);
      assert.deepEqual([shown.workflowName, shown.workflowVersion], ['inline_quote', 3]);
      const routes = await (await fetch(`${server.url}/api/metadata/workflow/inline_quote`)).status;
      assert.equal(routes, 404, 'an inline definition is not registered under its own name');

      const testAnswer = await fetch(`${server.url}/api/workflow/test`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'inline_quote',
          input: { qty: 4 },
          workflowDef: inline,
          taskRefToMockOutput: { approve: [{ status: 'COMPLETED', output: { ok: true } }] },
        }),
      });
      const tested = (await testAnswer.json()) as {
        status: string;
        output: unknown;
        tasks?: { referenceTaskName: string; taskType: string; status: string }[];
      };
      assert.equal(tested.status, 'COMPLETED', JSON.stringify(tested));
      assert.deepEqual(tested.output, { price: 20, approved: true });
      assert.deepEqual(
        tested.tasks!.map((t) => [t.referenceTaskName, t.taskType, t.status]),
        [
          ['price', 'JSON_JQ_TRANSFORM', 'COMPLETED'],
          ['approve', 'approve_quote', 'COMPLETED'],
        ],
      );

      const bad = await fetch(`${server.url}/api/workflow`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'x',
          workflowDef: {
            name: 'x',
            tasks: [
              {
                name: 'q',
                taskReferenceName: 'q',
                type: 'JSON_JQ_TRANSFORM',
                inputParameters: { queryExpression: '.a | {' },
              },
            ],
          },
        }),
      });
      const body = (await bad.json()) as { message: string };
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.match(body.message, /jq syntax error/);
    } finally {
      await server.close();
      await engine.close();
    }
  },
);
