import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine, type Json, WaymarkError } from '../../src/index.js';
import { checkJqQueries, compileWorkflowDef, declarativeSupport } from '../../src/declarative/compile.js';
import { parseWorkflowDef, type ValidationProblem } from '../../src/declarative/definitions.js';
import { structuralDiff } from '../../src/declarative/diff.js';
import { replayHistories } from '../../src/testing/index.js';
import { forEachBackend, runUntil } from '../helpers.js';

const support = await declarativeSupport();
const compile = (json: unknown) => compileWorkflowDef(parseWorkflowDef(json), support.env);

/** Every system task type added for Conductor parity, around remote tasks a DYNAMIC and a dynamic fork pick. */
const orderFlow = {
  name: 'system_tasks_flow',
  version: 1,
  tasks: [
    {
      name: 'sum',
      taskReferenceName: 'jq',
      type: 'JSON_JQ_TRANSFORM',
      inputParameters: {
        items: '${workflow.input.items}',
        queryExpression: '{total: ([.items[].price] | add), names: [.items[].name]}',
      },
    },
    {
      name: 'size',
      taskReferenceName: 'lambda',
      type: 'LAMBDA',
      inputParameters: {
        total: '${jq.output.result.total}',
        scriptExpression: 'return $.total > 10 ? "big" : "small";',
      },
    },
    {
      name: 'decide',
      taskReferenceName: 'decide',
      type: 'DECISION',
      caseValueParam: 'size',
      inputParameters: { size: '${lambda.output.result}' },
      decisionCases: {
        big: [
          { name: 'big', taskReferenceName: 'big', type: 'LAMBDA', inputParameters: { scriptExpression: 'return 1' } },
        ],
        small: [{ name: 'small', taskReferenceName: 'small', type: 'NOOP' }],
      },
    },
    { name: 'pick', taskReferenceName: 'pick', type: 'EXCLUSIVE_JOIN', joinOn: ['big', 'small'] },
    {
      name: 'weigh',
      taskReferenceName: 'dyn',
      type: 'DYNAMIC',
      dynamicTaskNameParam: 'taskToRun',
      inputParameters: { taskToRun: '${workflow.input.worker}', total: '${jq.output.result.total}' },
    },
    {
      name: 'fan',
      taskReferenceName: 'fan',
      type: 'FORK_JOIN_DYNAMIC',
      inputParameters: { forkTaskName: 'pack_item', forkTaskInputs: '${jq.output.result.names}' },
    },
    { name: 'fan_join', taskReferenceName: 'fan_join', type: 'JOIN' },
    {
      name: 'fan2',
      taskReferenceName: 'fan2',
      type: 'FORK_JOIN_DYNAMIC',
      dynamicForkTasksParam: 'dynamicTasks',
      dynamicForkTasksInputParamName: 'dynamicTasksInput',
      inputParameters: {
        dynamicTasks: [
          { name: 'quiet', taskReferenceName: 'quiet', type: 'NOOP' },
          {
            name: 'inc',
            taskReferenceName: 'inc',
            type: 'LAMBDA',
            inputParameters: { scriptExpression: 'return $.v + 1' },
          },
        ],
        dynamicTasksInput: { inc: { v: 41 } },
      },
    },
    { name: 'fan2_join', taskReferenceName: 'fan2_join', type: 'JOIN' },
    {
      name: 'kick',
      taskReferenceName: 'kick',
      type: 'START_WORKFLOW',
      inputParameters: { startWorkflow: { name: 'side_flow', input: { n: '${jq.output.result.total}' } } },
    },
  ],
  outputParameters: {
    jq: '${jq.output}',
    decided: '${decide.output.caseOutput}',
    picked: '${pick.output}',
    weighed: '${dyn.output.kg}',
    packed: '${fan_join.output}',
    fan2: '${fan2_join.output}',
    started: '${kick.output.workflowId}',
  },
};

const sideFlow = {
  name: 'side_flow',
  version: 1,
  tasks: [
    {
      name: 'double',
      taskReferenceName: 'double',
      type: 'LAMBDA',
      inputParameters: { n: '${workflow.input.n}', scriptExpression: 'return $.n * 2' },
    },
  ],
  outputParameters: { doubled: '${double.output.result}' },
};

/** Completes the next task of `type` with `output` once one is handed out. */
async function complete(engine: Engine, type: string, output: (input: Json) => Json): Promise<Json> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [task] = await engine.tasks.poll(type, 'test-worker', 1);
    if (task) {
      await engine.tasks.report(task.taskId, { status: 'COMPLETED', output: output(task.input) });
      return task.input;
    }
    if (Date.now() > deadline) throw new Error(`no ${type} task was handed out`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function problemsOf(json: unknown): ValidationProblem[] {
  try {
    parseWorkflowDef(json);
  } catch (error) {
    assert.ok(error instanceof WaymarkError && error.code === 'E_INVALID_INPUT', String(error));
    return (error.details as unknown as { validationErrors: ValidationProblem[] }).validationErrors;
  }
  return [];
}

const one = (task: Record<string, unknown>, more: Record<string, unknown>[] = []) => ({
  name: 'w',
  version: 1,
  tasks: [{ name: 't', taskReferenceName: 't', ...task }, ...more],
});

test('bad system tasks get a clear problem at registration; bad EVENT sinks, KAFKA_PUBLISH refused', async () => {
  const cases: Array<[unknown, string, RegExp]> = [
    [
      one({ type: 'JSON_JQ_TRANSFORM' }),
      'tasks[0].inputParameters.queryExpression',
      /needs inputParameters.queryExpression/,
    ],
    [one({ type: 'LAMBDA' }), 'tasks[0].inputParameters.scriptExpression', /needs inputParameters.scriptExpression/],
    [one({ type: 'DYNAMIC' }), 'tasks[0].dynamicTaskNameParam', /needs dynamicTaskNameParam/],
    [
      one({ type: 'DYNAMIC', dynamicTaskNameParam: 'taskToRun' }),
      'tasks[0].inputParameters.taskToRun',
      /reads the name of the task to run from inputParameters.taskToRun, which is not set/,
    ],
    [
      one({ type: 'DYNAMIC', dynamicTaskNameParam: 'n', inputParameters: { n: 'no such task!' } }),
      'tasks[0].inputParameters.n',
      /must be a task name/,
    ],
    [
      one({ type: 'FORK_JOIN_DYNAMIC' }, [{ name: 'j', taskReferenceName: 'j', type: 'JOIN' }]),
      'tasks[0].dynamicForkTasksParam',
      /needs dynamicForkTasksParam/,
    ],
    [
      one({ type: 'FORK_JOIN_DYNAMIC', inputParameters: { forkTaskName: 'x', forkTaskInputs: [] } }),
      'tasks[0]',
      /must be followed by a JOIN/,
    ],
    [
      one({ type: 'DECISION', decisionCases: { a: [] } }),
      'tasks[0].caseValueParam',
      /caseValueParam .* or a caseExpression/,
    ],
    [one({ type: 'EXCLUSIVE_JOIN', joinOn: ['ghost'] }), 'tasks[0].joinOn[0]', /unknown taskReferenceName 'ghost'/],
    [
      one({ type: 'START_WORKFLOW', inputParameters: {} }),
      'tasks[0].inputParameters.startWorkflow',
      /needs inputParameters.startWorkflow/,
    ],
    [one({ type: 'EVENT', sink: 'kafka:orders' }), 'tasks[0].sink', /needs a sink.*kafka:, are not supported/],
    [one({ type: 'EVENT' }), 'tasks[0].sink', /an EVENT task needs a sink: conductor, conductor:<queue>/],
    [one({ type: 'KAFKA_PUBLISH' }), 'tasks[0].type', /no Kafka is configured on this server/],
    [one({ type: 'HTTP', inputParameters: { method: 'GET' } }), 'tasks[0].inputParameters.uri', /needs a uri/],
  ];
  for (const [json, path, message] of cases) {
    const problems = problemsOf(json);
    const found = problems.find((p) => p.path === path);
    assert.ok(found && message.test(found.message), `${path}: ${JSON.stringify(problems)}`);
  }
  // HTTP reads uri and method from the input itself when http_request is absent, as Conductor does
  assert.deepEqual(
    problemsOf(one({ type: 'HTTP', inputParameters: { uri: 'https://example.com', method: 'GET' } })),
    [],
  );

  const jq = one({ type: 'JSON_JQ_TRANSFORM', inputParameters: { queryExpression: '.a | {' } });
  const error = await checkJqQueries(parseWorkflowDef(jq)).then(
    () => undefined,
    (e: unknown) => e as WaymarkError,
  );
  assert.equal(error?.code, 'E_INVALID_INPUT');
  const [problem] = (error!.details as unknown as { validationErrors: ValidationProblem[] }).validationErrors;
  assert.equal(problem!.path, 'tasks[0].inputParameters.queryExpression');
  assert.match(problem!.message, /^jq syntax error: jq: error: syntax error/);
  await checkJqQueries(
    parseWorkflowDef(one({ type: 'JSON_JQ_TRANSFORM', inputParameters: { queryExpression: '.a' } })),
  );
});

test('a FORK_JOIN ending a switch case may be joined by the JOIN after the switch, as Conductor accepts', () => {
  const fork = {
    name: 'f',
    taskReferenceName: 'f',
    type: 'FORK_JOIN',
    forkTasks: [[{ name: 'a', taskReferenceName: 'a' }]],
  };
  const switchWith = (cases: Record<string, unknown[]>) => ({
    name: 's',
    taskReferenceName: 's',
    type: 'SWITCH',
    evaluatorType: 'value-param',
    expression: 'k',
    decisionCases: cases,
  });
  const join = { name: 'j', taskReferenceName: 'j', type: 'JOIN', joinOn: ['a'] };
  assert.deepEqual(problemsOf({ name: 'w', tasks: [switchWith({ x: [fork] }), join] }), []);
  const notLast = problemsOf({
    name: 'w',
    tasks: [switchWith({ x: [fork, { name: 'b', taskReferenceName: 'b' }] }), join],
  });
  assert.deepEqual(
    notLast.map((p) => p.path),
    ['tasks[0].decisionCases.x[0]', 'tasks[1]'],
  );
  const noJoin = problemsOf({ name: 'w', tasks: [switchWith({ x: [fork] }), { name: 'b', taskReferenceName: 'b' }] });
  assert.match(noJoin[0]!.message, /must be followed by a JOIN \(after the switch whose case it ends\)/);
});

test('deploy checks see the new types: a DECISION case added is additive, a retyped task breaking', () => {
  const from = parseWorkflowDef(orderFlow);
  const withCase = structuredClone(orderFlow) as typeof orderFlow;
  (withCase.tasks[2]!.decisionCases as Record<string, unknown[]>).medium = [
    { name: 'medium', taskReferenceName: 'medium', type: 'NOOP' },
  ];
  assert.equal(structuralDiff(from, parseWorkflowDef(withCase)).kind, 'additive');
  const retyped = structuredClone(orderFlow) as typeof orderFlow;
  (retyped.tasks[0] as Record<string, unknown>).type = 'INLINE';
  (retyped.tasks[0]!.inputParameters as Record<string, unknown>).evaluatorType = 'javascript';
  (retyped.tasks[0]!.inputParameters as Record<string, unknown>).expression = '1';
  assert.equal(structuralDiff(from, parseWorkflowDef(retyped)).kind, 'breaking');
  const query = structuredClone(orderFlow) as typeof orderFlow;
  (query.tasks[0]!.inputParameters as Record<string, unknown>).queryExpression = '.items';
  assert.equal(structuralDiff(from, parseWorkflowDef(query)).kind, 'config_only');
});

forEachBackend((backend) => {
  test(
    'jq, LAMBDA, DECISION, EXCLUSIVE_JOIN, DYNAMIC, both FORK_JOIN_DYNAMIC forms and START_WORKFLOW run to ' +
      'completion across an engine restart and replay from their recorded results',
    async () => {
      const store = backend.store();
      let engine = await Engine.open({ store, compile: support.compile, rolloutCheckMs: 0 });
      support.bind(engine);
      let runId: string;
      const items = [
        { name: 'pen', price: 4 },
        { name: 'ink', price: 9 },
      ];
      try {
        await engine.definitions.register([compile(orderFlow), compile(sideFlow)]);
        runId = (await engine.start('system_tasks_flow', { items, worker: 'weigh_parcel' })).id;
        await runUntil(engine, runId, (r) => r.status === 'waiting' && (r.waitingFor?.tasks?.length ?? 0) === 1);
      } finally {
        await engine.close();
      }
      engine = await Engine.open({ store, compile: support.compile, rolloutCheckMs: 0 });
      support.bind(engine);
      try {
        const weighed = await complete(engine, 'weigh_parcel', () => ({ kg: 2 }));
        assert.deepEqual(weighed, { taskToRun: 'weigh_parcel', total: 13 });
        const packed = [
          await complete(engine, 'pack_item', (input) => ({ box: (input as { input: string }).input })),
          await complete(engine, 'pack_item', (input) => ({ box: (input as { input: string }).input })),
        ];
        assert.deepEqual(
          packed.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
          [
            { input: 'ink', __index: 1 },
            { input: 'pen', __index: 0 },
          ],
        );
        const output = (await engine.result(runId, { timeoutMs: 10_000 })) as Record<string, Json>;
        assert.deepEqual(output, {
          jq: { result: { total: 13, names: ['pen', 'ink'] }, resultList: [{ total: 13, names: ['pen', 'ink'] }] },
          decided: ['big'],
          picked: { result: 1 },
          weighed: 2,
          packed: { _pack_item_0: { box: 'pen' }, _pack_item_1: { box: 'ink' } },
          fan2: { quiet: {}, inc: { result: 42 } },
          started: `${runId}.kick`,
        });
        assert.deepEqual(await engine.result(`${runId}.kick`, { timeoutMs: 10_000 }), { doubled: 26 });

        const run = await engine.getRun(runId);
        const history = await engine.history(runId);
        const [replayed] = await replayHistories(compile(orderFlow), [
          {
            run: { id: run.id, workflow: run.workflow, version: run.version, input: run.input, epoch: run.epoch },
            events: history,
          },
        ]);
        assert.equal(replayed!.verdict.ok && replayed!.verdict.frontier, 'end', JSON.stringify(replayed!.verdict));
        const check = await engine.deployCheck([compile(orderFlow)]);
        assert.equal(check.workflows[0]!.classification, 'unchanged');
      } finally {
        await engine.close();
      }
    },
  );

  test("a failing jq query fails its task with jq's message, and a run whose DYNAMIC names no task fails", async () => {
    const engine = await Engine.open({ store: backend.store(), compile: support.compile, rolloutCheckMs: 0 });
    support.bind(engine);
    try {
      const failing = {
        name: 'jq_fails',
        version: 1,
        tasks: [
          {
            name: 'boom',
            taskReferenceName: 'boom',
            type: 'JSON_JQ_TRANSFORM',
            inputParameters: { queryExpression: '.a.b', a: 1 },
          },
        ],
      };
      const dynamic = one({
        type: 'DYNAMIC',
        dynamicTaskNameParam: 'n',
        inputParameters: { n: '${workflow.input.n}' },
      });
      await engine.definitions.register([compile(failing), compile({ ...dynamic, name: 'dyn_fails' })]);
      const jq = await engine.start('jq_fails', {});
      const failed = await runUntil(engine, jq.id, (r) => r.status === 'failed');
      assert.match(failed.error!.message, /jq query failed: jq: error \(at .*\): Cannot index number with string "b"/);
      const dyn = await engine.start('dyn_fails', { n: 42 });
      const dynFailed = await runUntil(engine, dyn.id, (r) => r.status === 'failed');
      assert.match(dynFailed.error!.message, /DYNAMIC 't': inputParameters.n is 42, not the name of a task to run/);
    } finally {
      await engine.close();
    }
  });
});
