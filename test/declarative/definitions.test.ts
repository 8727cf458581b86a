import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WaymarkError } from '../../src/core/errors.js';
import {
  DEFAULT_TASK_DEF,
  definitionFingerprint,
  defaultTaskDef,
  effectiveTaskDef,
  parseTaskDef,
  parseTaskDefs,
  parseWorkflowDef,
  retryDelayMs,
  type TaskDef,
  type ValidationProblem,
  type WorkflowTask,
} from '../../src/declarative/definitions.js';
import { parseWaitDuration, parseWaitUntil } from '../../src/declarative/wait-time.js';
import { flattenTasks } from '../../src/declarative/diff.js';
import { fulfillment, onboardingV1, onboardingV2 } from './fixtures.js';

/** The validationErrors of a rejected input (fails the test if it was accepted). */
function problemsOf(parse: () => unknown): ValidationProblem[] {
  try {
    parse();
  } catch (error) {
    assert.ok(error instanceof WaymarkError, 'a WaymarkError');
    assert.equal(error.code, 'E_INVALID_INPUT');
    return (error.details as unknown as { validationErrors: ValidationProblem[] }).validationErrors;
  }
  assert.fail('expected the input to be rejected');
}

const paths = (problems: ValidationProblem[]) => problems.map((p) => p.path);
const simple = (ref: string, extra: object = {}) => ({ name: ref, taskReferenceName: ref, ...extra });
const workflow = (tasks: unknown[], extra: object = {}) => ({ name: 'w', tasks, ...extra });

test('customer_onboarding v1 parses with every default filled in, cosmetic fields kept', () => {
  assert.deepEqual(parseWorkflowDef(onboardingV1), {
    name: 'customer_onboarding',
    description: 'Onboards a new customer',
    version: 1,
    ownerEmail: 'platform@example.com',
    inputParameters: ['customerId', 'profile'],
    tasks: [
      {
        name: 'normalize_customer_profile',
        taskReferenceName: 'normalize_customer_profile',
        type: 'SIMPLE',
        inputParameters: { customerId: '${workflow.input.customerId}', profile: '${workflow.input.profile}' },
        optional: false,
        startDelay: 0,
      },
    ],
    outputParameters: { profile: '${normalize_customer_profile.output.profile}' },
    schemaVersion: 2,
    restartable: true,
    timeoutSeconds: 0,
    timeoutPolicy: 'ALERT_ONLY',
    variables: {},
  });
  const v2 = parseWorkflowDef(onboardingV2);
  assert.equal(v2.version, 2);
  assert.deepEqual(
    v2.tasks.map((t) => [t.taskReferenceName, t.type]),
    [
      ['normalize_customer_profile', 'SIMPLE'],
      ['assign_risk_tier', 'SIMPLE'],
    ],
  );
});

test('a definition using every task type parses, nested lists included, unknown fields kept', () => {
  const def = parseWorkflowDef(fulfillment);
  assert.deepEqual(
    flattenTasks(def).map((flat) => `${flat.path} ${flat.task.taskReferenceName} ${flat.task.type}`),
    [
      'tasks[0] reserve SIMPLE',
      'tasks[1] route SWITCH',
      'tasks[1].decisionCases.big[0] review HUMAN',
      'tasks[1].decisionCases.small[0] discount INLINE',
      'tasks[1].defaultCase[0] reject TERMINATE',
      'tasks[2] ship_fork FORK_JOIN',
      'tasks[2].forkTasks[0][0] carrier HTTP',
      'tasks[2].forkTasks[1][0] email SIMPLE',
      'tasks[3] ship_join JOIN',
      'tasks[4] tracking_loop DO_WHILE',
      'tasks[4].loopOver[0] check_tracking SIMPLE',
      'tasks[4].loopOver[1] pause WAIT',
      'tasks[5] invoice SUB_WORKFLOW',
      'tasks[6] remember SET_VARIABLE',
      'tasks[7] hold_until WAIT',
    ],
  );
  assert.equal(def.timeoutPolicy, 'TIME_OUT_WF');
  assert.equal((def as unknown as Record<string, unknown>).workflowStatusListenerEnabled, false);
  const route = def.tasks[1] as Extract<WorkflowTask, { type: 'SWITCH' }>;
  assert.equal(route.evaluatorType, 'value-param');
  assert.deepEqual(Object.keys(route.decisionCases), ['big', 'small']);
  const carrier = flattenTasks(def).find((f) => f.task.taskReferenceName === 'carrier')!.task as unknown as Record<
    string,
    unknown
  >;
  assert.equal(carrier.asyncComplete, false, 'unknown task fields are kept');
  assert.deepEqual((def.tasks[3] as Extract<WorkflowTask, { type: 'JOIN' }>).joinOn, ['carrier', 'email']);
  assert.deepEqual((def.tasks[5] as Extract<WorkflowTask, { type: 'SUB_WORKFLOW' }>).subWorkflowParam, {
    name: 'invoicing',
    version: 2,
  });
  assert.equal(flattenTasks(def).find((f) => f.task.taskReferenceName === 'check_tracking')!.task.retryCount, 5);
});

test('"" and null count as absent: type SIMPLE, enum defaults, empty fields of other task types dropped', () => {
  const def = parseWorkflowDef({
    name: 'exported',
    version: null,
    timeoutPolicy: '',
    description: null,
    tasks: [
      {
        name: 'work',
        taskReferenceName: 'work',
        type: '',
        decisionCases: {},
        defaultCase: [],
        forkTasks: [],
        loopOver: [],
        joinOn: [],
        evaluatorType: '',
        subWorkflowParam: null,
        startDelay: 0,
        optional: false,
      },
    ],
  });
  assert.equal(def.version, 1);
  assert.equal(def.timeoutPolicy, 'ALERT_ONLY');
  assert.equal('description' in def, false);
  assert.deepEqual(def.tasks[0], {
    name: 'work',
    taskReferenceName: 'work',
    type: 'SIMPLE',
    inputParameters: {},
    optional: false,
    startDelay: 0,
  });
  assert.equal(
    definitionFingerprint(def),
    definitionFingerprint(parseWorkflowDef({ name: 'exported', tasks: [{ name: 'work', taskReferenceName: 'work' }] })),
  );
});

test('each invalid definition names the right path', () => {
  const cases: Array<[unknown, string[]]> = [
    ['not an object', ['']],
    [{ tasks: [simple('a')] }, ['name']],
    [workflow([simple('a')], { name: 'has space' }), ['name']],
    [workflow([simple('a')], { name: 'x'.repeat(129) }), ['name']],
    [workflow([]), ['tasks']],
    [{ name: 'w' }, ['tasks']],
    [workflow([simple('a')], { version: 1.5 }), ['version']],
    [workflow([simple('a')], { version: 0 }), ['version']],
    [workflow([simple('a')], { schemaVersion: 1 }), ['schemaVersion']],
    [workflow([{ name: 'a' }]), ['tasks[0].taskReferenceName']],
    [workflow([{ taskReferenceName: 'a' }]), ['tasks[0].name']],
    [workflow([simple('a', { type: 'DYNAMIC' })]), ['tasks[0].dynamicTaskNameParam']],
    [workflow([simple('a', { type: 'EVENT', sink: 'sqs:orders' })]), ['tasks[0].sink']],
    [workflow([simple('a'), simple('a')]), ['tasks[1].taskReferenceName']],
    [workflow([simple('a', { taskReferenceName: 'a.b' })]), ['tasks[0].taskReferenceName']],
    [
      workflow([simple('s', { type: 'SWITCH', expression: 'x', decisionCases: { big: [{ name: 'b' }] } })]),
      ['tasks[0].evaluatorType', 'tasks[0].decisionCases.big[0].taskReferenceName'],
    ],
    [
      workflow([simple('s', { type: 'SWITCH', evaluatorType: 'python', expression: 'x', decisionCases: { a: [] } })]),
      ['tasks[0].evaluatorType'],
    ],
    [
      workflow([simple('s', { type: 'SWITCH', evaluatorType: 'javascript', decisionCases: {} })]),
      ['tasks[0].expression', 'tasks[0].decisionCases'],
    ],
    [workflow([simple('f', { type: 'FORK_JOIN', forkTasks: [[simple('a')]] })]), ['tasks[0]']],
    [workflow([simple('f', { type: 'FORK_JOIN' }), simple('j', { type: 'JOIN' })]), ['tasks[0].forkTasks']],
    [
      workflow([
        simple('f', { type: 'FORK_JOIN', forkTasks: [[simple('a')], []] }),
        simple('j', { type: 'JOIN', joinOn: ['a'] }),
      ]),
      ['tasks[0].forkTasks[1]'],
    ],
    [
      workflow([
        simple('f', { type: 'FORK_JOIN', forkTasks: [[simple('a')]] }),
        simple('j', { type: 'JOIN', joinOn: ['a', 'ghost'] }),
      ]),
      ['tasks[1].joinOn[1]'],
    ],
    [
      workflow([
        simple('b'),
        simple('f', { type: 'FORK_JOIN', forkTasks: [[simple('a')]] }),
        simple('j', { type: 'JOIN', joinOn: ['b'] }),
      ]),
      ['tasks[2].joinOn[0]'],
    ],
    [workflow([simple('a'), simple('j', { type: 'JOIN', joinOn: ['a'] })]), ['tasks[1]']],
    [workflow([simple('l', { type: 'DO_WHILE' })]), ['tasks[0].loopCondition', 'tasks[0].loopOver']],
    [workflow([simple('l', { type: 'DO_WHILE', loopCondition: 'true', loopOver: [] })]), ['tasks[0].loopOver']],
    [workflow([simple('c', { type: 'SUB_WORKFLOW' })]), ['tasks[0].subWorkflowParam.name']],
    [
      workflow([simple('c', { type: 'SUB_WORKFLOW', subWorkflowParam: { name: 'child', version: 0 } })]),
      ['tasks[0].subWorkflowParam.version'],
    ],
    [
      workflow([simple('t', { type: 'TERMINATE', inputParameters: { terminationStatus: 'DONE' } })]),
      ['tasks[0].inputParameters.terminationStatus'],
    ],
    [
      workflow([simple('i', { type: 'INLINE', inputParameters: { expression: '1' } })]),
      ['tasks[0].inputParameters.evaluatorType'],
    ],
    [
      workflow([simple('h', { type: 'HTTP', inputParameters: { http_request: { method: 'FETCH' } } })]),
      ['tasks[0].inputParameters.http_request.uri', 'tasks[0].inputParameters.http_request.method'],
    ],
    [
      workflow([simple('w', { type: 'WAIT', inputParameters: { duration: 'soon' } })]),
      ['tasks[0].inputParameters.duration'],
    ],
    [
      workflow([simple('w', { type: 'WAIT', inputParameters: { duration: '1h', until: '2030-01-01' } })]),
      ['tasks[0].inputParameters'],
    ],
    [workflow([simple('a', { loopOver: [simple('hidden')] })]), ['tasks[0].loopOver']],
    [
      workflow([simple('a', { startDelay: -1, optional: 'yes', retryCount: -2 })]),
      ['tasks[0].optional', 'tasks[0].startDelay', 'tasks[0].retryCount'],
    ],
    [workflow([simple('a', { taskDefinition: { retryLogic: 'RANDOM' } })]), ['tasks[0].taskDefinition.retryLogic']],
  ];
  for (const [input, expected] of cases) {
    assert.deepEqual(paths(problemsOf(() => parseWorkflowDef(input))), expected, JSON.stringify(input));
  }
});

test('values that resolve at run time are not checked as literals', () => {
  const def = parseWorkflowDef(
    workflow([
      simple('w', { type: 'WAIT', inputParameters: { duration: '${workflow.input.delay}' } }),
      simple('t', { type: 'TERMINATE', inputParameters: { terminationStatus: '${workflow.input.status}' } }),
      simple('h', { type: 'HTTP', inputParameters: { http_request: '${workflow.input.request}' } }),
    ]),
  );
  assert.equal(def.tasks.length, 3);
});

test('one error lists every problem, nested ones with their full path, in the order found', () => {
  const input = {
    name: '',
    version: -3,
    tasks: [
      simple('fetch'),
      {
        name: 'decide',
        taskReferenceName: 'decide',
        type: 'SWITCH',
        evaluatorType: 'javascript',
        expression: '$.size',
        decisionCases: { big: [simple('fetch'), { name: 'x' }], 'very small': [simple('tiny', { type: 'SCRIPT' })] },
      },
      simple('fan', { type: 'FORK_JOIN', forkTasks: [[simple('left')], [simple('right')]] }),
      simple('meet', { type: 'JOIN', joinOn: ['left', 'nowhere'] }),
    ],
  };
  let caught: unknown;
  try {
    parseWorkflowDef(input);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof WaymarkError && caught.code === 'E_INVALID_INPUT');
  assert.deepEqual((caught.details as unknown as { validationErrors: ValidationProblem[] }).validationErrors, [
    { path: 'name', message: 'name is required', invalidValue: '' },
    { path: 'version', message: 'version must be an integer >= 1', invalidValue: -3 },
    {
      path: 'tasks[1].decisionCases.big[0].taskReferenceName',
      message: "taskReferenceName 'fetch' is already used at tasks[0]",
      invalidValue: 'fetch',
    },
    {
      path: 'tasks[1].decisionCases.big[1].taskReferenceName',
      message: 'taskReferenceName is required',
      invalidValue: null,
    },
    {
      path: 'tasks[1].decisionCases["very small"][0].type',
      message:
        "unknown task type 'SCRIPT': use one of SIMPLE, SWITCH, FORK_JOIN, JOIN, " +
        'DO_WHILE, WAIT, HUMAN, SUB_WORKFLOW, TERMINATE, SET_VARIABLE, INLINE, HTTP, JSON_JQ_TRANSFORM, ' +
        'DECISION, DYNAMIC, FORK_JOIN_DYNAMIC, EXCLUSIVE_JOIN, START_WORKFLOW, NOOP, LAMBDA, EVENT',
      invalidValue: 'SCRIPT',
    },
    {
      path: 'tasks[3].joinOn[1]',
      message: "joinOn names unknown taskReferenceName 'nowhere'",
      invalidValue: 'nowhere',
    },
  ]);
  assert.match(caught.message, /^workflow definition is invalid \(6 problems\): name: name is required; version: /);
});

test('TaskDef defaults, the default TaskDef, and what a task runs with', () => {
  const expected: TaskDef = {
    name: 'charge_card',
    retryCount: 3,
    retryLogic: 'FIXED',
    retryDelaySeconds: 60,
    backoffScaleFactor: 1,
    timeoutSeconds: 0,
    timeoutPolicy: 'TIME_OUT_WF',
    responseTimeoutSeconds: 3600,
  };
  assert.deepEqual(parseTaskDef({ name: 'charge_card', retryLogic: '', timeoutPolicy: null }), expected);
  assert.deepEqual(defaultTaskDef('charge_card'), expected);
  assert.deepEqual({ name: 'charge_card', ...DEFAULT_TASK_DEF }, expected);
  assert.equal(
    parseTaskDef({ name: 'quick', timeoutSeconds: 120 }).responseTimeoutSeconds,
    120,
    'the default response timeout never exceeds the timeout',
  );
  assert.deepEqual(parseTaskDef({ name: 'kept', ownerApp: 'billing', concurrentExecLimit: 4 }), {
    ...expected,
    name: 'kept',
    ownerApp: 'billing',
    concurrentExecLimit: 4,
  });

  const def = parseWorkflowDef(
    workflow([simple('plain'), simple('tuned', { retryCount: 0, taskDefinition: { retryDelaySeconds: 5 } })]),
  );
  assert.deepEqual(effectiveTaskDef(def.tasks[0]!), { ...expected, name: 'plain' });
  assert.deepEqual(effectiveTaskDef(def.tasks[0]!, { ...expected, name: 'plain', retryCount: 9 }), {
    ...expected,
    name: 'plain',
    retryCount: 9,
  });
  assert.deepEqual(effectiveTaskDef(def.tasks[1]!, { ...expected, name: 'tuned', retryCount: 9 }), {
    ...expected,
    name: 'tuned',
    retryDelaySeconds: 5,
    retryCount: 0,
  });
});

test('bad TaskDef numbers and enums are all reported', () => {
  assert.deepEqual(
    problemsOf(() =>
      parseTaskDef({
        name: 'bad task',
        retryCount: -1,
        retryLogic: 'RANDOM',
        retryDelaySeconds: 1.5,
        backoffScaleFactor: 0,
        timeoutSeconds: 10,
        responseTimeoutSeconds: 30,
        timeoutPolicy: 'PANIC',
        concurrentExecLimit: -4,
      }),
    ),
    [
      { path: 'name', message: 'name must use letters, digits and . _ - : only (max 128)', invalidValue: 'bad task' },
      { path: 'retryCount', message: 'retryCount must be an integer >= 0', invalidValue: -1 },
      {
        path: 'retryLogic',
        message: 'retryLogic must be one of FIXED, LINEAR_BACKOFF, EXPONENTIAL_BACKOFF',
        invalidValue: 'RANDOM',
      },
      { path: 'retryDelaySeconds', message: 'retryDelaySeconds must be an integer >= 0', invalidValue: 1.5 },
      { path: 'backoffScaleFactor', message: 'backoffScaleFactor must be an integer >= 1', invalidValue: 0 },
      {
        path: 'timeoutPolicy',
        message: 'timeoutPolicy must be one of RETRY, TIME_OUT_WF, ALERT_ONLY',
        invalidValue: 'PANIC',
      },
      {
        path: 'responseTimeoutSeconds',
        message: 'responseTimeoutSeconds must not exceed timeoutSeconds (10)',
        invalidValue: 30,
      },
      { path: 'concurrentExecLimit', message: 'concurrentExecLimit must be an integer >= 0', invalidValue: -4 },
    ],
  );
  assert.deepEqual(paths(problemsOf(() => parseTaskDef(null))), ['']);
  assert.deepEqual(paths(problemsOf(() => parseTaskDefs([{ name: 'ok' }, { name: 'x', retryCount: 'many' }, 7]))), [
    '[1].retryCount',
    '[2]',
  ]);
  assert.deepEqual(
    parseTaskDefs([{ name: 'ok' }]).map((d) => d.retryCount),
    [3],
  );
});

test('retry delays: FIXED d, LINEAR_BACKOFF d*scale*(n+1), EXPONENTIAL_BACKOFF d*2^n, in ms', () => {
  const fixed = parseTaskDef({ name: 't', retryDelaySeconds: 10 });
  const linear = parseTaskDef({
    name: 't',
    retryDelaySeconds: 10,
    retryLogic: 'LINEAR_BACKOFF',
    backoffScaleFactor: 3,
  });
  const exponential = parseTaskDef({ name: 't', retryDelaySeconds: 10, retryLogic: 'EXPONENTIAL_BACKOFF' });
  assert.deepEqual(
    [0, 1, 2, 3].map((n) => retryDelayMs(fixed, n)),
    [10_000, 10_000, 10_000, 10_000],
  );
  assert.deepEqual(
    [0, 1, 2, 3].map((n) => retryDelayMs(linear, n)),
    [30_000, 60_000, 90_000, 120_000],
  );
  assert.deepEqual(
    [0, 1, 2, 3].map((n) => retryDelayMs(exponential, n)),
    [10_000, 20_000, 40_000, 80_000],
  );
  assert.equal(retryDelayMs(defaultTaskDef('t'), 0), 60_000);
  assert.equal(retryDelayMs(exponential, 2000), Number.MAX_SAFE_INTEGER);
  assert.throws(
    () => retryDelayMs(fixed, -1),
    (e: unknown) => e instanceof WaymarkError && e.code === 'E_INVALID_INPUT',
  );
});

test('the fingerprint ignores key order, cosmetic fields, name and version, but not the graph', () => {
  const base = definitionFingerprint(parseWorkflowDef(onboardingV1));
  assert.match(base, /^[0-9a-f]{16}$/);
  const reordered = JSON.parse(
    JSON.stringify({
      outputParameters: onboardingV1.outputParameters,
      tasks: onboardingV1.tasks,
      name: onboardingV1.name,
      inputParameters: onboardingV1.inputParameters,
    }),
  );
  reordered.tasks[0] = {
    inputParameters: { profile: '${workflow.input.profile}', customerId: '${workflow.input.customerId}' },
    taskReferenceName: 'normalize_customer_profile',
    name: 'normalize_customer_profile',
  };
  assert.equal(definitionFingerprint(parseWorkflowDef(reordered)), base);
  const cosmetic = {
    ...onboardingV1,
    description: 'changed',
    ownerEmail: 'x@example.com',
    createTime: 1,
    updatedBy: 'someone',
    version: 7,
  };
  assert.equal(definitionFingerprint(parseWorkflowDef(cosmetic)), base);
  const taskDescribed = { ...onboardingV1, tasks: [{ ...onboardingV1.tasks[0], description: 'normalizes' }] };
  assert.equal(definitionFingerprint(parseWorkflowDef(taskDescribed)), base);

  assert.notEqual(definitionFingerprint(parseWorkflowDef(onboardingV2)), base);
  const remapped = {
    ...onboardingV1,
    tasks: [{ ...onboardingV1.tasks[0], inputParameters: { customerId: '${workflow.input.id}' } }],
  };
  assert.notEqual(definitionFingerprint(parseWorkflowDef(remapped)), base);
  const retyped = { ...onboardingV1, tasks: [{ ...onboardingV1.tasks[0], type: 'HUMAN' }] };
  assert.notEqual(definitionFingerprint(parseWorkflowDef(retyped)), base);
  const optional = { ...onboardingV1, tasks: [{ ...onboardingV1.tasks[0], optional: true }] };
  assert.notEqual(definitionFingerprint(parseWorkflowDef(optional)), base);
  assert.equal(
    definitionFingerprint(parseWorkflowDef(fulfillment)),
    definitionFingerprint(parseWorkflowDef(structuredClone(fulfillment))),
  );
});

test('WAIT durations and until times', () => {
  assert.deepEqual(
    ['10s', '5m', '1h', '1d', '1d 2h 30m', '2 hours', '90 seconds'].map(parseWaitDuration),
    [10_000, 300_000, 3_600_000, 86_400_000, 95_400_000, 7_200_000, 90_000],
  );
  for (const bad of ['', 'soon', '5x', '1m 1h', '-5s']) assert.throws(() => parseWaitDuration(bad), /not a duration/);
  assert.equal(parseWaitUntil('2030-01-31 14:00'), Date.UTC(2030, 0, 31, 14, 0));
  assert.equal(parseWaitUntil('2030-01-31 14:00 UTC'), Date.UTC(2030, 0, 31, 14, 0));
  assert.equal(parseWaitUntil('2030-01-31 14:00 +02:00'), Date.UTC(2030, 0, 31, 12, 0));
  assert.equal(parseWaitUntil('2030-01-31'), Date.UTC(2030, 0, 31));
  assert.equal(parseWaitUntil('2030-01-31T14:00:00Z'), Date.UTC(2030, 0, 31, 14, 0));
  for (const bad of ['tomorrow', '2030-02-30', '2030-01-31 25:00', '2030-01-31 14:00 Mars'])
    assert.throws(() => parseWaitUntil(bad), /not a time/);
});
