/**
 * A SUB_WORKFLOW's child run continues its parent's trace (it records the traceparent the parent's task carries)
 * and counts as started by a sub-workflow, also when its version is pinned.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine } from '../../src/index.js';
import { compileWorkflowDef, declarativeSupport } from '../../src/declarative/compile.js';
import { parseWorkflowDef } from '../../src/declarative/definitions.js';
import { tempDb } from '../helpers.js';
import { samples, sampleValue } from '../metrics-text.js';

const support = await declarativeSupport();
const compile = (json: unknown) => compileWorkflowDef(parseWorkflowDef(json), support.env);
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

test("a sub-workflow's child records its parent's traceparent and counts as a sub_workflow start", async () => {
  const engine = await Engine.open({ store: `sqlite:${tempDb()}`, compile: support.compile, logger: { warn() {} } });
  support.bind(engine);
  try {
    const child = {
      name: 'child_flow',
      version: 1,
      tasks: [
        {
          name: 'double',
          taskReferenceName: 'double',
          type: 'INLINE',
          inputParameters: { evaluatorType: 'javascript', expression: '$.x * 2', x: '${workflow.input.x}' },
        },
      ],
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
          subWorkflowParam: { name: 'child_flow', version: 1 },
          inputParameters: { x: '${workflow.input.x}' },
        },
      ],
      outputParameters: { doubled: '${sub.output.result}' },
    };
    await engine.definitions.register([compile(child), compile(parent)]);
    const run = await engine.start('parent_flow', { x: 21 }, { traceparent: TRACEPARENT });
    assert.deepEqual(await engine.result(run.id, { timeoutMs: 10_000 }), { doubled: 42 });
    const [started] = await engine.history(`${run.id}.sub`);
    assert.equal((started!.data as { traceparent?: string }).traceparent, TRACEPARENT);
    const all = samples(await engine.metrics.text());
    assert.equal(
      sampleValue(all, 'waymark_runs_started_total', { workflow: 'child_flow', trigger: 'sub_workflow' }),
      1,
    );
    assert.equal(sampleValue(all, 'waymark_runs_started_total', { workflow: 'parent_flow', trigger: 'call' }), 1);
  } finally {
    await engine.close();
  }
});
