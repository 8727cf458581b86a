import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine } from '../../src/index.js';
import type { Task } from '../../src/core/tasks.js';
import { compileWorkflowDef, declarativeSupport } from '../../src/declarative/compile.js';
import { parseWorkflowDef } from '../../src/declarative/definitions.js';
import { replayHistories } from '../../src/testing/index.js';
import { forEachBackend, nextChange } from '../helpers.js';

const support = await declarativeSupport();
const compile = (json: unknown) => compileWorkflowDef(parseWorkflowDef(json), support.env);

const simple = (name: string, input: Record<string, string> = {}) => ({
  name,
  taskReferenceName: name,
  inputParameters: input,
});

/** Two branches: one slow task, and three quick tasks in a row; JOIN then a task that reads both sides. */
const fanOut = {
  name: 'fan_out_independent',
  version: 1,
  tasks: [
    {
      name: 'fork',
      taskReferenceName: 'fork',
      type: 'FORK_JOIN',
      forkTasks: [
        [simple('slow_review')],
        [
          simple('quick_a'),
          simple('quick_b', { a: '${quick_a.output.n}' }),
          simple('quick_c', { b: '${quick_b.output.n}' }),
        ],
      ],
    },
    { name: 'join', taskReferenceName: 'join', type: 'JOIN', joinOn: ['slow_review', 'quick_c'] },
    simple('publish', { slow: '${slow_review.output.n}', quick: '${quick_c.output.n}' }),
  ],
  outputParameters: { published: '${publish.output.n}' },
};

/** Polls until a task of `type` is handed out. */
async function pollOne(engine: Engine, type: string): Promise<Task> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [task] = await engine.tasks.poll(type, 'fork-worker', 1);
    if (task) return task;
    if (Date.now() > deadline) throw new Error(`no ${type} task was handed out`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

forEachBackend((backend) => {
  test(
    'FORK_JOIN branches advance independently: ' +
      'three tasks of one branch complete while the other holds its task; JOIN waits for both',
    async () => {
      const engine = await Engine.open({ store: backend.store(), compile: support.compile, rolloutCheckMs: 0 });
      support.bind(engine);
      try {
        await engine.definitions.register([compile(fanOut)]);
        const run = await engine.start('fan_out_independent', {});
        const slow = await pollOne(engine, 'slow_review'); // held by its worker while the other branch goes on
        let n = 1;
        for (const type of ['quick_a', 'quick_b', 'quick_c']) {
          const task = await pollOne(engine, type);
          await engine.tasks.report(task.taskId, { status: 'COMPLETED', output: { n: n++ } });
        }
        while (!(await engine.history(run.id)).some((e) => e.type === 'task_completed' && e.name === 'quick_c'))
          await nextChange(engine, run.id);
        assert.deepEqual(await engine.tasks.poll('publish', 'fork-worker', 1), [], 'JOIN waits for the slow branch');
        assert.equal((await engine.tasks.get(slow.taskId)).status, 'IN_PROGRESS');
        await engine.tasks.report(slow.taskId, { status: 'COMPLETED', output: { n: 10 } });
        const publish = await pollOne(engine, 'publish');
        assert.deepEqual(publish.input, { slow: 10, quick: 3 });
        await engine.tasks.report(publish.taskId, { status: 'COMPLETED', output: { n: 'done' } });
        assert.deepEqual(await engine.result(run.id, { timeoutMs: 10_000 }), { published: 'done' });
        const history = await engine.history(run.id);
        const finished = await engine.getRun(run.id);
        const [replayed] = await replayHistories(compile(fanOut), [
          {
            run: {
              id: run.id,
              workflow: finished.workflow,
              version: finished.version,
              input: finished.input,
              epoch: finished.epoch,
            },
            events: history,
          },
        ]);
        assert.equal(replayed!.verdict.ok && replayed!.verdict.frontier, 'end', JSON.stringify(replayed!.verdict));
      } finally {
        await engine.close();
      }
    },
  );
});
