import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachBackend, runUntil } from '../helpers.js';
import { pollUntil, withConductor } from './fixtures/conductor-client.js';
import { conductorWorkflows as workflows } from './fixtures/conductor-workflows.js';

/**
 * A declarative workflow as a Conductor client sends it: a worker task, SWITCH (value-param) to a HUMAN review,
 * SET_VARIABLE. (No JavaScript expression: their wall-clock limit is the declarative layer's to test.)
 */
const kyc = {
  name: 'kyc_check',
  version: 1,
  description: 'Scores a customer; a risky one waits for a human review',
  ownerEmail: 'risk@example.com',
  restartable: false,
  schemaVersion: 2,
  inputParameters: ['customerId'],
  variables: { score: 0 },
  timeoutPolicy: '',
  tasks: [
    {
      name: 'normalize_customer_profile',
      taskReferenceName: 'normalize',
      inputParameters: { customerId: '${workflow.input.customerId}' },
    },
    {
      name: 'route',
      taskReferenceName: 'route',
      type: 'SWITCH',
      evaluatorType: 'value-param',
      expression: 'risk',
      inputParameters: { risk: '${normalize.output.risk}' },
      decisionCases: { '50': [{ name: 'manual_review', taskReferenceName: 'review', type: 'HUMAN' }] },
      defaultCase: [],
    },
    {
      name: 'remember',
      taskReferenceName: 'remember',
      type: 'SET_VARIABLE',
      inputParameters: { score: '${normalize.output.risk}' },
    },
  ],
  outputParameters: { score: '${normalize.output.risk}', review: '${review.output.decision}' },
};

const taskDef = {
  name: 'normalize_customer_profile',
  retryCount: 1,
  retryLogic: 'FIXED',
  retryDelaySeconds: 0,
  responseTimeoutSeconds: 60,
  timeoutSeconds: 0,
  ownerEmail: 'risk@example.com',
  createdBy: 'someone',
};

function assertEmpty(answer: { status: number; text: string; headers: Record<string, unknown> }, what: string): void {
  assert.deepEqual(
    [answer.status, answer.text, answer.headers['content-length']],
    [200, '', '0'],
    `${what}: ${answer.text}`,
  );
}

forEachBackend((backend) => {
  test(
    'task definitions: POST many, PUT one (upsert), ' +
      'GET all and one, DELETE; invalid ones are 400 with every problem',
    async () => {
      await withConductor(backend.store(), { workflows }, async ({ call }) => {
        assertEmpty(
          await call('POST', '/api/metadata/taskdefs', [taskDef, { name: 'send_welcome_email' }]),
          'POST taskdefs',
        );
        const all = await call('GET', '/api/metadata/taskdefs');
        assert.deepEqual(all.body.map((d: any) => d.name).sort(), ['normalize_customer_profile', 'send_welcome_email']);
        const defaults = (await call('GET', '/api/metadata/taskdefs/send_welcome_email')).body;
        assert.deepEqual(
          [defaults.retryCount, defaults.retryLogic, defaults.retryDelaySeconds],
          [3, 'FIXED', 60],
          'defaults filled in',
        );
        assertEmpty(await call('PUT', '/api/metadata/taskdefs', { ...taskDef, retryCount: 2 }), 'PUT taskdefs');
        assert.equal((await call('GET', '/api/metadata/taskdefs/normalize_customer_profile')).body.retryCount, 2);

        const invalid = await call('POST', '/api/metadata/taskdefs', [
          { name: 'ok' },
          { name: '', retryLogic: 'SOMETIMES' },
        ]);
        assert.equal(invalid.status, 400);
        assert.deepEqual(invalid.body.validationErrors.map((v: any) => v.path).sort(), ['[1].name', '[1].retryLogic']);
        assert.equal(
          (await call('GET', '/api/metadata/taskdefs/ok')).status,
          404,
          'nothing saved from a refused request',
        );

        assertEmpty(await call('DELETE', '/api/metadata/taskdefs/send_welcome_email'), 'DELETE taskdef');
        assert.equal((await call('GET', '/api/metadata/taskdefs/send_welcome_email')).status, 404);
        const again = await call('DELETE', '/api/metadata/taskdefs/send_welcome_email');
        assert.deepEqual([again.status, again.body.status], [404, 404]);
      });
    },
  );

  test("a task definition's concurrentExecLimit and rate limit bound what polls hand out", async () => {
    await withConductor(backend.store(), { workflows }, async (api) => {
      const { call, engine } = api;
      assertEmpty(
        await call('POST', '/api/metadata/taskdefs', [
          { name: 'normalize_customer_profile', concurrentExecLimit: 1 },
          { name: 'send_welcome_email', rateLimitPerFrequency: 1, rateLimitFrequencyInSeconds: 600 },
        ]),
        'taskdefs',
      );
      for (const id of ['one', 'two'])
        await engine.start('customer_onboarding', { customerId: id }, { version: 1, id });
      for (const id of ['one', 'two']) await runUntil(engine, id, (r) => r.status === 'waiting');
      const batch = await call('GET', '/api/tasks/poll/batch/normalize_customer_profile?count=5&timeout=0');
      assert.equal(batch.body.length, 1, 'one at a time');
      assert.equal((await call('GET', '/api/tasks/poll/normalize_customer_profile')).status, 204);
      const next = await call('POST', '/api/tasks/update-v2', {
        taskId: batch.body[0].taskId,
        status: 'COMPLETED',
        outputData: { email: 'e' },
      });
      assert.equal(next.status, 200, 'the finished one made room for the next');
      await call('POST', '/api/tasks/update-v2', {
        taskId: next.body.taskId,
        status: 'COMPLETED',
        outputData: { email: 'e' },
      });

      const first = await pollUntil(api, 'send_welcome_email');
      await runUntil(
        engine,
        first.workflowInstanceId === 'one' ? 'two' : 'one',
        (r) => r.waitingFor?.name === 'send_welcome_email',
      );
      assert.equal(await engine.tasks.queueSize('send_welcome_email'), 1);
      assert.deepEqual(
        (await call('GET', '/api/tasks/poll/batch/send_welcome_email?count=5&timeout=0')).body,
        [],
        'one per 600 s',
      );
    });
  });

  test(
    'workflow definitions: POST (409 when it exists, unless overwrite), ' +
      'PUT upserts in bulk, GET latest or a version, DELETE a version without runs',
    async () => {
      await withConductor(backend.store(), { workflows }, async ({ call }) => {
        assertEmpty(await call('POST', '/api/metadata/workflow', kyc), 'register');
        const exists = await call('POST', '/api/metadata/workflow', kyc);
        assert.deepEqual([exists.status, exists.body.status], [409, 409]);
        assertEmpty(
          await call('POST', '/api/metadata/workflow?overwrite=true', { ...kyc, description: 'changed' }),
          'overwrite a version without runs',
        );
        const got = await call('GET', '/api/metadata/workflow/kyc_check');
        assert.deepEqual(
          [got.status, got.body.name, got.body.version, got.body.description, got.body.tasks.length],
          [200, 'kyc_check', 1, 'changed', 3],
        );
        assert.equal(got.body.tasks[0].type, 'SIMPLE', 'a missing task type defaults to SIMPLE');

        const put = await call('PUT', '/api/metadata/workflow', [
          { ...kyc, version: 2 },
          { ...kyc, version: 1 },
        ]);
        assert.deepEqual(put.body, { bulkErrorResults: {}, bulkSuccessfulResults: ['kyc_check', 'kyc_check'] });
        assert.equal((await call('GET', '/api/metadata/workflow/kyc_check')).body.version, 2, 'latest by default');
        assert.equal((await call('GET', '/api/metadata/workflow/kyc_check?version=1')).body.version, 1);
        assert.equal((await call('GET', '/api/metadata/workflow/kyc_check?version=7')).status, 404);
        assert.equal((await call('GET', '/api/metadata/workflow/nothing')).status, 404);
        const code = (await call('GET', '/api/metadata/workflow/customer_onboarding')).body;
        assert.deepEqual([code.version, code.tasks], [3, []], 'code workflows are listed with an empty graph');
        const listed = (await call('GET', '/api/metadata/workflow')).body.map((d: any) => `${d.name}@${d.version}`);
        assert.ok(
          listed.includes('kyc_check@1') && listed.includes('kyc_check@2') && listed.includes('approval@1'),
          listed.join(', '),
        );

        const invalid = await call('POST', '/api/metadata/workflow', {
          name: 'broken',
          tasks: [{ name: 'x', type: 'NOT_A_TYPE' }],
        });
        assert.equal(invalid.status, 400);
        assert.ok(
          invalid.body.validationErrors.length >= 1 &&
            invalid.body.validationErrors.every((v: any) => v.path.startsWith('tasks')),
          JSON.stringify(invalid.body),
        );
        const empty = await call('POST', '/api/metadata/workflow', { name: 'broken', tasks: [] });
        assert.deepEqual([empty.status, empty.body.validationErrors[0].path], [400, 'tasks']);
        const bulkInvalid = await call('PUT', '/api/metadata/workflow', [kyc, { name: 'broken' }]);
        assert.deepEqual([bulkInvalid.status, bulkInvalid.body.validationErrors[0].path], [400, '[1].tasks']);

        assertEmpty(await call('DELETE', '/api/metadata/workflow/kyc_check/2'), 'delete a version');
        assert.equal((await call('GET', '/api/metadata/workflow/kyc_check?version=2')).status, 404);
        assert.equal((await call('DELETE', '/api/metadata/workflow/kyc_check/2')).status, 404);
      });
    },
  );

  test(
    'a declarative workflow registered over HTTP runs with HTTP workers: task definition retries, ' +
      'system tasks and variables in the Workflow JSON, HUMAN completed by reference',
    async () => {
      await withConductor(backend.store(), { workflows }, async (api) => {
        const { call, engine } = api;
        assertEmpty(await call('POST', '/api/metadata/taskdefs', [taskDef]), 'taskdefs');
        assertEmpty(await call('POST', '/api/metadata/workflow', kyc), 'workflow');

        const low = (await call('POST', '/api/workflow/kyc_check', { customerId: 'nl-1' })).text;
        const first = await pollUntil(api, 'normalize_customer_profile');
        assert.deepEqual(
          [first.workflowInstanceId, first.referenceTaskName, first.inputData],
          [low, 'normalize', { customerId: 'nl-1' }],
        );
        await call('POST', '/api/tasks/update-v2', {
          taskId: first.taskId,
          status: 'FAILED',
          reasonForIncompletion: 'flaky CRM',
        });
        const retry = await pollUntil(api, 'normalize_customer_profile');
        assert.equal(retry.retryCount, 1, 'retried as its task definition says (retryCount 1)');
        await call('POST', '/api/tasks/update-v2', {
          taskId: retry.taskId,
          status: 'COMPLETED',
          outputData: { country: 'NL', risk: 10 },
        });
        await runUntil(engine, low, (r) => r.status === 'completed');
        const done = (await call('GET', `/api/workflow/${low}`)).body;
        assert.deepEqual(
          [done.status, done.output, done.variables],
          ['COMPLETED', { score: 10, review: null }, { score: 10 }],
        );
        assert.deepEqual(
          done.tasks.map((t: any) => [t.referenceTaskName, t.taskType, t.status]),
          [
            ['normalize', 'normalize_customer_profile', 'FAILED'],
            ['normalize', 'normalize_customer_profile', 'COMPLETED'],
            ['route', 'SWITCH', 'COMPLETED'],
            ['remember', 'SET_VARIABLE', 'COMPLETED'],
          ],
        );
        assert.deepEqual(
          [done.tasks[2].inputData, done.tasks[2].outputData],
          [{ risk: 10 }, { evaluationResult: ['10'], selectedCase: 'defaultCase' }],
        );
        assert.deepEqual(done.tasks[3].inputData, { score: 10 });
        assert.deepEqual([done.workflowDefinition.name, done.workflowDefinition.tasks.length], ['kyc_check', 3]);
        const refused = await call('POST', `/api/workflow/${low}/restart`);
        assert.deepEqual([refused.status, refused.body.status], [409, 409]);
        assert.match(refused.body.message, /restartable/);

        const high = (await call('POST', '/api/workflow', { name: 'kyc_check', input: { customerId: 'us-1' } })).text;
        const task = await pollUntil(api, 'normalize_customer_profile');
        await call('POST', '/api/tasks', {
          taskId: task.taskId,
          status: 'COMPLETED',
          outputData: { country: 'US', risk: 50 },
        });
        await runUntil(
          engine,
          high,
          (r) => r.status === 'waiting' && r.waitingFor?.kind === 'task' && r.waitingFor.name === 'HUMAN',
        );
        const review = (await call('GET', `/api/workflow/${high}`)).body.tasks.find(
          (t: any) => t.referenceTaskName === 'review',
        );
        assert.deepEqual([review.taskType, review.status, review.workflowTask.type], ['HUMAN', 'IN_PROGRESS', 'HUMAN']);
        const answered = await call('POST', `/api/tasks/${high}/review/COMPLETED`, { decision: 'approved' });
        assert.equal(answered.text, review.taskId);
        assert.deepEqual((await runUntil(engine, high, (r) => r.status === 'completed')).output, {
          score: 50,
          review: 'approved',
        });

        // As Conductor: 200, and the version is gone from /api/metadata; its runs keep the stored graph they replay on.
        const inUse = await call('DELETE', '/api/metadata/workflow/kyc_check/1');
        assert.equal(inUse.status, 200, 'deleting a version with runs answers 200');
        assert.equal((await call('GET', '/api/metadata/workflow/kyc_check?version=1')).status, 404);
        assert.ok(!(await call('GET', '/api/metadata/workflow')).body.some((d: any) => d.name === 'kyc_check'));
        assert.equal(
          (await call('POST', '/api/workflow/kyc_check?version=1', {})).status >= 400,
          true,
          'no new starts',
        );
        assert.equal((await call('GET', `/api/workflow/${high}`)).body.workflowDefinition.name, 'kyc_check');
        assert.ok(
          (await engine.definitions.sources()).some((s) => s.workflow === 'kyc_check' && s.version === 1),
          'the stored graph stays for the runs',
        );
        const replace = await call('POST', '/api/metadata/workflow?overwrite=true', {
          ...kyc,
          outputParameters: { score: '${normalize.output.risk}' },
        });
        assert.deepEqual(
          [replace.status, replace.body?.code],
          [409, 'E_VERSION_CONFLICT'],
          'a version with runs is never replaced',
        );
      });
    },
  );

  test(
    'a SUB_WORKFLOW task shows its child (subWorkflowId) ' +
      'and is never handed to workers; the child answers like any workflow',
    async () => {
      await withConductor(backend.store(), { workflows }, async (api) => {
        const { call, engine } = api;
        const parent = {
          name: 'approval_parent',
          version: 1,
          tasks: [
            {
              name: 'approval',
              taskReferenceName: 'child',
              type: 'SUB_WORKFLOW',
              subWorkflowParam: { name: 'approval', version: 1 },
              inputParameters: { amount: '${workflow.input.amount}' },
            },
          ],
          outputParameters: { decision: '${child.output.decision}' },
        };
        assertEmpty(await call('POST', '/api/metadata/workflow', parent), 'register');
        const childWaits = new Promise<void>((resolve) => {
          const stop = engine.subscribe((change) => {
            if (!change.runId.endsWith('.child') || change.status !== 'waiting') return;
            stop();
            resolve();
          });
        });
        const id = (await call('POST', '/api/workflow/approval_parent', { amount: 12 })).text;
        const childId = `${id}.child`;
        await childWaits;
        const sub = (await call('GET', `/api/workflow/${id}`)).body.tasks[0];
        assert.deepEqual(
          [sub.taskType, sub.workflowTask.type, sub.subWorkflowId, sub.referenceTaskName],
          ['SUB_WORKFLOW', 'SUB_WORKFLOW', childId, 'child'],
        );
        assert.equal((await call('GET', '/api/tasks/poll/SUB_WORKFLOW?workerid=intruder')).status, 204);
        assert.deepEqual((await call('GET', '/api/tasks/poll/batch/HUMAN?timeout=0')).body, []);
        assert.equal((await call('GET', `/api/workflow/${childId}`)).body.input.amount, 12);
        await call('POST', `/api/tasks/${childId}/manager_approval/COMPLETED`, { approved: true });
        assert.deepEqual((await runUntil(engine, id, (r) => r.status === 'completed')).output, {
          decision: { approved: true },
        });
        assert.equal((await call('GET', `/api/workflow/${id}`)).body.tasks[0].status, 'COMPLETED');
      });
    },
  );
});
