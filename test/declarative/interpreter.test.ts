import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine, type Json } from '../../src/index.js';
import { compileWorkflowDef, declarativeSupport } from '../../src/declarative/compile.js';
import { parseWorkflowDef } from '../../src/declarative/definitions.js';
import { forEachBackend, rejectsWith, runUntil } from '../helpers.js';
import { onboardingV1, onboardingV2 } from './fixtures.js';

const support = await declarativeSupport();
const compile = (json: unknown) => compileWorkflowDef(parseWorkflowDef(json), support.env);

/** Every control-flow task type the engine executes itself, around remote SIMPLE tasks. */
const pipeline = {
  name: 'review_pipeline',
  version: 1,
  variables: { reviewed: 0 },
  tasks: [
    { name: 'fetch_docs', taskReferenceName: 'fetch', inputParameters: { batch: '${workflow.input.batch}' } },
    {
      name: 'count',
      taskReferenceName: 'count',
      type: 'INLINE',
      inputParameters: { evaluatorType: 'javascript', expression: '$.docs.length', docs: '${fetch.output.docs}' },
    },
    {
      name: 'route',
      taskReferenceName: 'route',
      type: 'SWITCH',
      evaluatorType: 'javascript',
      expression: '$.n > 1 ? "many" : "one"',
      inputParameters: { n: '${count.output.result}' },
      decisionCases: {
        many: [
          {
            name: 'fan_out',
            taskReferenceName: 'fan_out',
            type: 'FORK_JOIN',
            forkTasks: [
              [{ name: 'review_legal', taskReferenceName: 'legal', inputParameters: { docs: '${fetch.output.docs}' } }],
              [
                { name: 'review_tone', taskReferenceName: 'tone', inputParameters: { docs: '${fetch.output.docs}' } },
                {
                  name: 'score',
                  taskReferenceName: 'score',
                  type: 'INLINE',
                  inputParameters: { evaluatorType: 'javascript', expression: '$.t * 10', t: '${tone.output.t}' },
                },
              ],
            ],
          },
          { name: 'join', taskReferenceName: 'join', type: 'JOIN', joinOn: ['legal', 'score'] },
        ],
      },
      defaultCase: [
        {
          name: 'stop',
          taskReferenceName: 'stop',
          type: 'TERMINATE',
          inputParameters: { terminationStatus: 'COMPLETED', workflowOutput: { skipped: true } },
        },
      ],
    },
    {
      name: 'recheck',
      taskReferenceName: 'loop',
      type: 'DO_WHILE',
      loopCondition: '$.loop.iteration < 3',
      loopOver: [
        {
          name: 'tick',
          taskReferenceName: 'tick',
          type: 'INLINE',
          inputParameters: { evaluatorType: 'javascript', expression: '$.i * 2', i: '${loop.output.iteration}' },
        },
      ],
    },
    {
      name: 'remember',
      taskReferenceName: 'remember',
      type: 'SET_VARIABLE',
      inputParameters: { reviewed: '${count.output.result}' },
    },
    { name: 'pause', taskReferenceName: 'pause', type: 'WAIT', inputParameters: { duration: '1s' } },
  ],
  outputParameters: {
    legal: '${join.output.legal.ok}',
    score: '${join.output.score.result}',
    reviewed: '${workflow.variables.reviewed}',
    ticks: '${loop.output.iteration}',
  },
};

/** Completes the next task of `type` with `output` once one is handed out. */
async function complete(engine: Engine, type: string, output: (input: Json) => Json): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [task] = await engine.tasks.poll(type, 'test-worker', 1);
    if (task) return void (await engine.tasks.report(task.taskId, { status: 'COMPLETED', output: output(task.input) }));
    if (Date.now() > deadline) throw new Error(`no ${type} task was handed out`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

forEachBackend((backend) => {
  test('declarative onboarding: pinned v1 runs one worker task, routed starts run v2 with the risk task', async () => {
    const engine = await Engine.open({ store: backend.store(), compile: support.compile, rolloutCheckMs: 0 });
    support.bind(engine);
    try {
      await engine.definitions.register([compile(onboardingV1), compile(onboardingV2)]);
      const v1 = await engine.start(
        'customer_onboarding',
        { customerId: 'c-1', profile: { country: 'de' } },
        { version: 1 },
      );
      const v2 = await engine.start('customer_onboarding', { customerId: 'c-2', profile: { country: 'fr' } });
      assert.deepEqual([v1.version, v2.version], [1, 2]);
      await complete(engine, 'normalize_customer_profile', (input) => ({
        profile: { country: String((input as { profile: { country: string } }).profile.country).toUpperCase() },
      }));
      await complete(engine, 'normalize_customer_profile', (input) => ({
        profile: { country: String((input as { profile: { country: string } }).profile.country).toUpperCase() },
      }));
      assert.deepEqual(await engine.result(v1.id, { timeoutMs: 10_000 }), { profile: { country: 'DE' } });
      await complete(engine, 'assign_risk_tier', (input) => ({
        tier: (input as { country: string }).country === 'FR' ? 'low' : 'high',
      }));
      assert.deepEqual(await engine.result(v2.id, { timeoutMs: 10_000 }), { profile: { country: 'FR' }, tier: 'low' });
      assert.ok(!(await engine.tasks.ofRun(v1.id)).some((t) => t.taskType === 'assign_risk_tier'));
    } finally {
      await engine.close();
    }
  });

  test(
    'a declarative run with switch, fork/join, loop, variables and a timer survives an engine restart midway ' +
      'and replays',
    async () => {
      const store = backend.store();
      let engine = await Engine.open({ store, compile: support.compile, rolloutCheckMs: 0 });
      support.bind(engine);
      let runId: string;
      try {
        await engine.definitions.register([compile(pipeline)]);
        runId = (await engine.start('review_pipeline', { batch: 'b-7' })).id;
        await complete(engine, 'fetch_docs', () => ({ docs: ['a', 'b', 'c'] }));
        await runUntil(engine, runId, (r) => r.status === 'waiting' && (r.waitingFor?.tasks?.length ?? 0) === 2);
      } finally {
        await engine.close();
      }
      const run = { id: runId };

      // A fresh engine (no code given) serves the stored graph and picks the run up where it stopped.
      engine = await Engine.open({ store, compile: support.compile, rolloutCheckMs: 0 });
      support.bind(engine);
      try {
        await complete(engine, 'review_tone', () => ({ t: 4 }));
        await complete(engine, 'review_legal', () => ({ ok: true }));
        assert.deepEqual(await engine.result(run.id, { timeoutMs: 10_000 }), {
          legal: true,
          score: 40,
          reviewed: 3,
          ticks: 3,
        });
        const steps = (await engine.history(run.id)).filter((e) => e.type === 'step_completed').map((e) => e.name);
        assert.deepEqual(steps, [
          'count',
          'route',
          'fan_out',
          'score',
          'join',
          'tick__1',
          'loop__1',
          'tick__2',
          'loop__2',
          'tick__3',
          'loop__3',
          'remember',
        ]);
        const check = await engine.deployCheck([compile(pipeline)]);
        assert.equal(check.workflows[0]!.classification, 'unchanged', 'the same graph is the same version');
      } finally {
        await engine.close();
      }
    },
  );

  test(
    'SUB_WORKFLOW starts a child run and takes its output; a failing run starts its failureWorkflow with ' +
      'what failed',
    async () => {
      const engine = await Engine.open({ store: backend.store(), compile: support.compile, rolloutCheckMs: 0 });
      support.bind(engine);
      try {
        const inline = (ref: string, expression: string, inputs: Record<string, Json>) => ({
          name: ref,
          taskReferenceName: ref,
          type: 'INLINE',
          inputParameters: { evaluatorType: 'javascript', expression, ...inputs },
        });
        const child = {
          name: 'child_flow',
          version: 1,
          tasks: [inline('double', '$.x * 2', { x: '${workflow.input.x}' })],
          outputParameters: { result: '${double.output.result}' },
        };
        const parent = {
          name: 'parent_flow',
          version: 1,
          tasks: [
            {
              name: 'child_flow',
              taskReferenceName: 'sub',
              type: 'SUB_WORKFLOW',
              subWorkflowParam: { name: 'child_flow' },
              inputParameters: { x: '${workflow.input.x}' },
            },
          ],
          outputParameters: { doubled: '${sub.output.result}' },
        };
        const onFailure = {
          name: 'on_failure',
          version: 1,
          tasks: [
            inline('note', '$.id + " failed: " + $.why', {
              id: '${workflow.input.workflowId}',
              why: '${workflow.input.reason}',
            }),
          ],
        };
        const fragile = {
          name: 'fragile',
          version: 1,
          failureWorkflow: 'on_failure',
          tasks: [
            {
              name: 'stop',
              taskReferenceName: 'stop',
              type: 'TERMINATE',
              inputParameters: { terminationStatus: 'FAILED', terminationReason: 'bad input' },
            },
          ],
        };
        await engine.definitions.register([compile(child), compile(parent), compile(onFailure), compile(fragile)]);
        const run = await engine.start('parent_flow', { x: 21 });
        assert.deepEqual(await engine.result(run.id, { timeoutMs: 10_000 }), { doubled: 42 });
        const childRun = await engine.getRun(`${run.id}.sub`);
        assert.deepEqual([childRun.workflow, childRun.status, childRun.input], ['child_flow', 'completed', { x: 21 }]);

        const failing = await engine.start('fragile', null);
        const failed = await runUntil(engine, failing.id, (r) => r.status === 'failed');
        assert.deepEqual(
          [failed.error!.code, failed.error!.details, failed.error!.message],
          ['E_TERMINATED', { status: 'FAILED' }, 'bad input'],
        );
        assert.deepEqual(await engine.result(`${failing.id}.failure`, { timeoutMs: 10_000 }), {
          result: `${failing.id} failed: bad input`,
        });
      } finally {
        await engine.close();
      }
    },
  );

  test(
    "a sub-workflow takes its parent's version line: a parent on the candidate starts its child on the " +
      "child's candidate",
    async () => {
      const engine = await Engine.open({ store: backend.store(), compile: support.compile, rolloutCheckMs: 0 });
      support.bind(engine);
      try {
        const child = (version: number) => ({
          name: 'line_child',
          version,
          tasks: [
            {
              name: 'v',
              taskReferenceName: 'v',
              type: 'INLINE',
              inputParameters: { evaluatorType: 'javascript', expression: String(version) },
            },
          ],
          outputParameters: { version: '${v.output.result}' },
        });
        const parent = (version: number) => ({
          name: 'line_parent',
          version,
          tasks: [
            {
              name: 'line_child',
              taskReferenceName: 'child',
              type: 'SUB_WORKFLOW',
              subWorkflowParam: { name: 'line_child' },
            },
          ],
          outputParameters: { parent: version, child: '${child.output.version}' },
        });
        await engine.definitions.register([child(1), child(2), parent(1), parent(2)].map(compile));
        await engine.setRoute('line_parent', { current: 1, candidate: 2, percent: 50 });
        await engine.setRoute('line_child', { current: 1, candidate: 2, percent: 50 });
        for (const version of [1, 2, 1, 2, 1, 2, 1, 2, 1, 2]) {
          const run = await engine.start('line_parent', null, { version });
          assert.deepEqual(
            await engine.result(run.id, { timeoutMs: 10_000 }),
            { parent: version, child: version },
            'the child follows its parent, not its own draw',
          );
        }
      } finally {
        await engine.close();
      }
    },
  );

  test(
    'registering a changed graph under a registered version is refused; replacing or removing a version with runs ' +
      'is refused',
    async () => {
      const engine = await Engine.open({ store: backend.store(), compile: support.compile, rolloutCheckMs: 0 });
      support.bind(engine);
      try {
        await engine.definitions.register([compile(onboardingV1)]);
        await engine.definitions.register([compile({ ...onboardingV1, description: 'only the description changed' })]);
        const changed = { ...onboardingV2, version: 1 };
        await rejectsWith(engine.definitions.register([compile(changed)]), 'E_VERSION_CONFLICT');
        await engine.definitions.register([compile(changed)], { replace: true }); // no runs yet: allowed
        await engine.start('customer_onboarding', { customerId: 'x' });
        await rejectsWith(
          engine.definitions.register([compile(onboardingV1)], { replace: true }),
          'E_VERSION_CONFLICT',
        );
        await rejectsWith(engine.definitions.unregister('customer_onboarding', 1), 'E_RUN_STATE');
        await engine.definitions.register([compile(onboardingV2)]);
        const sources = await engine.definitions.sources();
        assert.deepEqual(
          sources.map((s) => [s.workflow, s.version]),
          [
            ['customer_onboarding', 1],
            ['customer_onboarding', 2],
          ],
        );
      } finally {
        await engine.close();
      }
    },
  );
});
