import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  readPath,
  referencedRefs,
  resolveParams,
  resolveValue,
  type ParamScope,
} from '../../src/declarative/params.js';

const scope: ParamScope = {
  workflow: {
    input: {
      customerId: 'c-42',
      count: 3,
      vip: false,
      profile: { country: 'NL', tags: ['new', 'web'] },
      items: [
        { id: 'sku-1', qty: 2 },
        { id: 'sku-2', qty: 1 },
      ],
      'odd key': 'odd',
    },
    variables: { tier: 'gold', retries: 0 },
    workflowId: 'wf-123',
    correlationId: 'order-9',
    workflowType: 'customer_onboarding',
    version: 2,
    status: 'RUNNING',
  },
  tasks: {
    normalize_customer_profile: {
      input: { customerId: 'c-42' },
      output: { profile: { country: 'NL', score: 0.7 }, ok: true },
      status: 'COMPLETED',
      taskId: 't-1',
    },
    check__1: { input: {}, output: { done: false }, status: 'COMPLETED' },
    check__2: { input: {}, output: { done: true }, status: 'COMPLETED' },
    empty: { input: {}, output: null },
  },
  taskId: 't-7',
};

test('a whole-string expression yields the typed value at its path', () => {
  assert.deepEqual(
    resolveParams(
      {
        id: '${workflow.input.customerId}',
        count: '${workflow.input.count}',
        vip: '${workflow.input.vip}',
        profile: '${workflow.input.profile}',
        firstItem: '${workflow.input.items[0].id}',
        secondQty: '${workflow.input.items[1].qty}',
        tags: '${workflow.input.profile.tags}',
        tier: '${workflow.variables.tier}',
        retries: '${workflow.variables.retries}',
        workflowId: '${workflow.workflowId}',
        correlationId: '${workflow.correlationId}',
        type: '${workflow.workflowType}',
        version: '${workflow.version}',
        country: '${normalize_customer_profile.output.profile.country}',
        score: '${normalize_customer_profile.output.profile.score}',
        output: '${normalize_customer_profile.output}',
        taskInput: '${normalize_customer_profile.input.customerId}',
        status: '${normalize_customer_profile.status}',
        taskId: '${normalize_customer_profile.taskId}',
        quoted: "${workflow.input['odd key']}",
        ownTaskId: '${CPEWF_TASK_ID}',
        spaced: '${ workflow.input.count }',
      },
      scope,
    ),
    {
      id: 'c-42',
      count: 3,
      vip: false,
      profile: { country: 'NL', tags: ['new', 'web'] },
      firstItem: 'sku-1',
      secondQty: 1,
      tags: ['new', 'web'],
      tier: 'gold',
      retries: 0,
      workflowId: 'wf-123',
      correlationId: 'order-9',
      type: 'customer_onboarding',
      version: 2,
      country: 'NL',
      score: 0.7,
      output: { profile: { country: 'NL', score: 0.7 }, ok: true },
      taskInput: 'c-42',
      status: 'COMPLETED',
      taskId: 't-1',
      quoted: 'odd',
      ownTaskId: 't-7',
      spaced: 3,
    },
  );
});

test('missing values, unknown refs and malformed paths yield null', () => {
  assert.deepEqual(
    resolveParams(
      {
        missingInput: '${workflow.input.nope}',
        deepMissing: '${workflow.input.profile.city.name}',
        outOfRange: '${workflow.input.items[5].id}',
        indexIntoObject: '${workflow.input.profile[0]}',
        keyIntoArray: '${workflow.input.items.id}',
        keyIntoString: '${workflow.input.customerId.length}',
        unknownRef: '${ghost_task.output.x}',
        unknownRefWhole: '${ghost_task}',
        intoNullOutput: '${empty.output.x}',
        malformed: '${workflow..input}',
        unclosedBracket: '${workflow.input.items[0}',
        noOutputYet: '${workflow.output.result}',
        prototype: '${workflow.input.constructor}',
      },
      scope,
    ),
    {
      missingInput: null,
      deepMissing: null,
      outOfRange: null,
      indexIntoObject: null,
      keyIntoArray: null,
      keyIntoString: null,
      unknownRef: null,
      unknownRefWhole: null,
      intoNullOutput: null,
      malformed: null,
      unclosedBracket: null,
      noOutputYet: null,
      prototype: null,
    },
  );
});

test('embedded expressions are interpolated: JSON for objects, empty text for missing values', () => {
  assert.deepEqual(
    resolveParams(
      {
        greeting: 'Hello ${workflow.input.customerId}, you are ${workflow.variables.tier}',
        numbers:
          '${workflow.input.count} items, vip=${workflow.input.vip}, ' +
          'score ${normalize_customer_profile.output.profile.score}',
        object: 'profile=${workflow.input.profile}',
        array: 'tags: ${workflow.input.profile.tags}',
        missing: 'city=[${workflow.input.city}] ref=[${ghost.output.x}] null=[${empty.output}]',
        adjacent: '${workflow.input.customerId}${workflow.workflowId}',
        url: 'https://api.example.com/customers/${workflow.input.customerId}/orders?limit=${workflow.input.count}',
        blank: 'x${}y',
      },
      scope,
    ),
    {
      greeting: 'Hello c-42, you are gold',
      numbers: '3 items, vip=false, score 0.7',
      object: 'profile={"country":"NL","tags":["new","web"]}',
      array: 'tags: ["new","web"]',
      missing: 'city=[] ref=[] null=[]',
      adjacent: 'c-42wf-123',
      url: 'https://api.example.com/customers/c-42/orders?limit=3',
      blank: 'xy',
    },
  );
});

test('$${ escapes a literal ${; unclosed and plain strings stay as they are', () => {
  assert.deepEqual(
    resolveParams(
      {
        escaped: '$${workflow.input.customerId}',
        escapedInText: 'use $${name} for ${workflow.input.customerId}',
        dollars: 'costs $5 and $${x}',
        tripleDollar: '$$${workflow.input.customerId}',
        unclosed: 'broken ${workflow.input.customerId',
        plain: 'no expressions here',
        dollarOnly: '$',
        emptyWhole: '${}',
      },
      scope,
    ),
    {
      escaped: '${workflow.input.customerId}',
      escapedInText: 'use ${name} for c-42',
      dollars: 'costs $5 and ${x}',
      tripleDollar: '$${workflow.input.customerId}',
      unclosed: 'broken ${workflow.input.customerId',
      plain: 'no expressions here',
      dollarOnly: '$',
      emptyWhole: '',
    },
  );
});

test('objects and arrays are resolved recursively; other values are kept', () => {
  assert.deepEqual(
    resolveValue(
      {
        request: {
          uri: 'https://x.example/${workflow.input.customerId}',
          body: {
            ids: ['${workflow.input.items[0].id}', '${workflow.input.items[1].id}', 7],
            nested: [['${workflow.input.count}']],
          },
        },
        literal: 12,
        flag: true,
        none: null,
      },
      scope,
    ),
    {
      request: { uri: 'https://x.example/c-42', body: { ids: ['sku-1', 'sku-2', 7], nested: [[3]] } },
      literal: 12,
      flag: true,
      none: null,
    },
  );
  const input = { a: '${workflow.input.count}' };
  resolveParams(input, scope);
  assert.deepEqual(input, { a: '${workflow.input.count}' }, 'the parameters are not modified');
});

test('DO_WHILE iteration refs are plain refs in scope', () => {
  assert.deepEqual(
    resolveParams(
      {
        first: '${check__1.output.done}',
        second: '${check__2.output.done}',
        base: '${check.output.done}',
        third: '${check__3.status}',
      },
      scope,
    ),
    {
      first: false,
      second: true,
      base: null,
      third: null,
    },
  );
});

test('readPath and referencedRefs', () => {
  assert.equal(readPath('workflow.input.items[1].id', scope), 'sku-2');
  assert.equal(readPath('$.workflow.workflowId', scope), 'wf-123');
  assert.equal(readPath('', scope), null);
  assert.deepEqual(
    referencedRefs({
      a: '${b_ref.output.x} and ${a_ref.input}',
      list: ['${workflow.input.x}', '${b_ref.status}', '$${escaped.output}', '${CPEWF_TASK_ID}'],
      n: 1,
    }),
    ['a_ref', 'b_ref'],
  );
});
