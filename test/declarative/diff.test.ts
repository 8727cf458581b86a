import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWorkflowDef } from '../../src/declarative/definitions.js';
import { flattenTasks, structuralDiff, type StructuralDiff } from '../../src/declarative/diff.js';
import { fulfillment, onboardingV1, onboardingV2 } from './fixtures.js';

const v1 = parseWorkflowDef(onboardingV1);
const v2 = parseWorkflowDef(onboardingV2);

/** An empty report of the given kind, to spread the expected changes over. */
function report(kind: StructuralDiff['kind'], changes: Partial<StructuralDiff> = {}): StructuralDiff {
  return {
    kind,
    reasons: [],
    added: [],
    removed: [],
    moved: [],
    reordered: [],
    typeChanged: [],
    listsAdded: [],
    listsRemoved: [],
    inputChanged: [],
    optionsChanged: [],
    workflowChanged: [],
    ...changes,
  };
}

/** A copy of the raw fulfillment definition to edit. */
function edited(edit: (raw: any) => void) {
  const raw = structuredClone(fulfillment);
  edit(raw);
  return parseWorkflowDef(raw);
}

const base = parseWorkflowDef(fulfillment);

test('identical: same graph, only version and cosmetic fields differ', () => {
  const bumped = parseWorkflowDef({
    ...onboardingV1,
    version: 5,
    description: 'reworded',
    ownerEmail: 'someone@example.com',
    updateTime: 1700000000000,
  });
  assert.deepEqual(structuralDiff(v1, bumped), report('identical'));
  assert.deepEqual(structuralDiff(base, parseWorkflowDef(structuredClone(fulfillment))), report('identical'));
});

test('config_only: an input mapping changed, same refs in the same order', () => {
  const remapped = parseWorkflowDef({
    ...onboardingV1,
    tasks: [
      {
        ...onboardingV1.tasks[0],
        inputParameters: { customerId: '${workflow.input.id}', profile: '${workflow.input.profile}', source: 'web' },
      },
    ],
  });
  const diff = structuralDiff(v1, remapped);
  assert.deepEqual(
    diff,
    report('config_only', {
      reasons: ["task 'normalize_customer_profile' inputParameters changed: customerId, source"],
      inputChanged: [{ ref: 'normalize_customer_profile', path: 'tasks[0]', keys: ['customerId', 'source'] }],
    }),
  );
  assert.deepEqual(JSON.parse(JSON.stringify(diff)), diff, 'the report is plain JSON');
});

test('config_only: task settings and workflow settings changed', () => {
  const changed = edited((raw) => {
    raw.tasks[1].expression = 'sizeClass';
    raw.tasks[3].joinOn = ['carrier'];
    raw.tasks[2].forkTasks[1][0].optional = false;
    raw.tasks[4].loopOver[0].taskDefinition = { retryCount: 1 };
    raw.timeoutSeconds = 3600;
    raw.outputParameters = {};
  });
  assert.deepEqual(
    structuralDiff(base, changed),
    report('config_only', {
      reasons: [
        "task 'route' settings changed: expression",
        "task 'email' settings changed: optional",
        "task 'ship_join' settings changed: joinOn",
        "task 'check_tracking' settings changed: taskDefinition",
        'workflow settings changed: outputParameters, timeoutSeconds',
      ],
      optionsChanged: [
        { ref: 'route', path: 'tasks[1]', fields: ['expression'] },
        { ref: 'email', path: 'tasks[2].forkTasks[1][0]', fields: ['optional'] },
        { ref: 'ship_join', path: 'tasks[3]', fields: ['joinOn'] },
        { ref: 'check_tracking', path: 'tasks[4].loopOver[0]', fields: ['taskDefinition'] },
      ],
      workflowChanged: ['outputParameters', 'timeoutSeconds'],
    }),
  );
});

test('additive: customer_onboarding v2 appends assign_risk_tier', () => {
  assert.deepEqual(
    structuralDiff(v1, v2),
    report('additive', {
      reasons: ["task 'assign_risk_tier' added at tasks[1] (appended)", 'workflow settings changed: outputParameters'],
      added: [{ ref: 'assign_risk_tier', type: 'SIMPLE', path: 'tasks[1]', placement: 'appended' }],
      workflowChanged: ['outputParameters'],
    }),
  );
});

test('additive: a new switch case and a task appended to a loop body', () => {
  const grown = edited((raw) => {
    raw.tasks[1].decisionCases.medium = [{ name: 'quick_review', taskReferenceName: 'quick_review' }];
    raw.tasks[4].loopOver.push({ name: 'log_tracking', taskReferenceName: 'log_tracking' });
  });
  assert.deepEqual(
    structuralDiff(base, grown),
    report('additive', {
      reasons: [
        "task 'quick_review' added at tasks[1].decisionCases.medium[0] (new list)",
        "task 'log_tracking' added at tasks[4].loopOver[2] (appended)",
        "switch case 'medium' added to 'route' (tasks[1].decisionCases.medium)",
      ],
      added: [
        { ref: 'quick_review', type: 'SIMPLE', path: 'tasks[1].decisionCases.medium[0]', placement: 'new_list' },
        { ref: 'log_tracking', type: 'SIMPLE', path: 'tasks[4].loopOver[2]', placement: 'appended' },
      ],
      listsAdded: [{ path: 'tasks[1].decisionCases.medium', parentRef: 'route', slot: 'decisionCases/medium' }],
    }),
  );
});

test('breaking: a task removed', () => {
  assert.deepEqual(
    structuralDiff(v2, v1),
    report('breaking', {
      reasons: ["task 'assign_risk_tier' removed from tasks[1]", 'workflow settings changed: outputParameters'],
      removed: [{ ref: 'assign_risk_tier', type: 'SIMPLE', path: 'tasks[1]' }],
      workflowChanged: ['outputParameters'],
    }),
  );
});

test('breaking: tasks reordered, or a task inserted before existing ones', () => {
  const swapped = parseWorkflowDef({ ...onboardingV2, tasks: [...onboardingV2.tasks].reverse() });
  assert.deepEqual(
    structuralDiff(v2, swapped),
    report('breaking', {
      reasons: [
        'tasks reordered: [normalize_customer_profile, ' +
          'assign_risk_tier] -> [assign_risk_tier, normalize_customer_profile]',
      ],
      reordered: [
        {
          path: 'tasks',
          from: ['normalize_customer_profile', 'assign_risk_tier'],
          to: ['assign_risk_tier', 'normalize_customer_profile'],
        },
      ],
    }),
  );
  const prefixed = parseWorkflowDef({
    ...onboardingV1,
    tasks: [{ name: 'fetch_crm_record', taskReferenceName: 'fetch_crm_record' }, ...onboardingV1.tasks],
  });
  assert.deepEqual(
    structuralDiff(v1, prefixed),
    report('breaking', {
      reasons: ["task 'fetch_crm_record' inserted at tasks[0], before existing tasks"],
      added: [{ ref: 'fetch_crm_record', type: 'SIMPLE', path: 'tasks[0]', placement: 'inserted' }],
    }),
  );
});

test('breaking: a task changed type', () => {
  const retyped = parseWorkflowDef({ ...onboardingV1, tasks: [{ ...onboardingV1.tasks[0], type: 'HUMAN' }] });
  assert.deepEqual(
    structuralDiff(v1, retyped),
    report('breaking', {
      reasons: ["task 'normalize_customer_profile' at tasks[0] changed type SIMPLE -> HUMAN"],
      typeChanged: [{ ref: 'normalize_customer_profile', path: 'tasks[0]', from: 'SIMPLE', to: 'HUMAN' }],
    }),
  );
});

test('breaking, nested: case removed, loop body reordered, fork branch added, task moved between lists', () => {
  const reshaped = edited((raw) => {
    delete raw.tasks[1].decisionCases.big;
    raw.tasks[4].loopOver.reverse();
    raw.tasks[2].forkTasks.push([{ name: 'send_sms', taskReferenceName: 'sms' }]);
    raw.tasks[3].joinOn.push('sms');
    const [discount] = raw.tasks[1].decisionCases.small.splice(0, 1);
    raw.tasks[1].defaultCase.push(discount);
  });
  assert.deepEqual(
    structuralDiff(base, reshaped),
    report('breaking', {
      reasons: [
        "task 'review' removed from tasks[1].decisionCases.big[0]",
        "task 'discount' moved from tasks[1].decisionCases.small[0] to tasks[1].defaultCase[1]",
        'tasks[4].loopOver reordered: [check_tracking, pause] -> [pause, check_tracking]',
        "switch case 'big' removed from 'route' (tasks[1].decisionCases.big)",
        "fork branch 2 added to 'ship_fork' (tasks[2].forkTasks[2]): runs already inside the fork would never start it",
        "task 'sms' added at tasks[2].forkTasks[2][0] (new list)",
        "task 'ship_join' settings changed: joinOn",
      ],
      added: [{ ref: 'sms', type: 'SIMPLE', path: 'tasks[2].forkTasks[2][0]', placement: 'new_list' }],
      removed: [{ ref: 'review', type: 'HUMAN', path: 'tasks[1].decisionCases.big[0]' }],
      moved: [{ ref: 'discount', from: 'tasks[1].decisionCases.small[0]', to: 'tasks[1].defaultCase[1]' }],
      reordered: [{ path: 'tasks[4].loopOver', from: ['check_tracking', 'pause'], to: ['pause', 'check_tracking'] }],
      listsAdded: [{ path: 'tasks[2].forkTasks[2]', parentRef: 'ship_fork', slot: 'forkTasks/2' }],
      listsRemoved: [{ path: 'tasks[1].decisionCases.big', parentRef: 'route', slot: 'decisionCases/big' }],
      optionsChanged: [{ ref: 'ship_join', path: 'tasks[3]', fields: ['joinOn'] }],
    }),
  );
});

test('a removed parent reports its nested tasks, not its lists', () => {
  const flat = edited((raw) => {
    raw.tasks.splice(4, 1);
  });
  assert.deepEqual(
    structuralDiff(base, flat),
    report('breaking', {
      reasons: [
        "task 'tracking_loop' removed from tasks[4]",
        "task 'check_tracking' removed from tasks[4].loopOver[0]",
        "task 'pause' removed from tasks[4].loopOver[1]",
      ],
      removed: [
        { ref: 'tracking_loop', type: 'DO_WHILE', path: 'tasks[4]' },
        { ref: 'check_tracking', type: 'SIMPLE', path: 'tasks[4].loopOver[0]' },
        { ref: 'pause', type: 'WAIT', path: 'tasks[4].loopOver[1]' },
      ],
    }),
  );
});

test('flattenTasks lists every task with its list and parent', () => {
  const flat = flattenTasks(base);
  assert.equal(flat.length, 15);
  assert.deepEqual(
    flat
      .filter((f) => f.parentRef === 'route')
      .map(({ path, listPath, listKey, parentRef, index }) => ({ path, listPath, listKey, parentRef, index })),
    [
      {
        path: 'tasks[1].decisionCases.big[0]',
        listPath: 'tasks[1].decisionCases.big',
        listKey: 'route/decisionCases/big',
        parentRef: 'route',
        index: 0,
      },
      {
        path: 'tasks[1].decisionCases.small[0]',
        listPath: 'tasks[1].decisionCases.small',
        listKey: 'route/decisionCases/small',
        parentRef: 'route',
        index: 0,
      },
      {
        path: 'tasks[1].defaultCase[0]',
        listPath: 'tasks[1].defaultCase',
        listKey: 'route/defaultCase',
        parentRef: 'route',
        index: 0,
      },
    ],
  );
  assert.deepEqual(flat[0], { path: 'tasks[0]', listPath: 'tasks', listKey: 'tasks', index: 0, task: base.tasks[0] });
});
