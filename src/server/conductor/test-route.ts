import type { FastifyInstance } from 'fastify';
import { isTerminalTask, type TaskResult } from '../../core/tasks.js';
import { isTerminal, type Json } from '../../core/types.js';
import { traceparentOf } from '../request-tracing.js';
import { runDetail, type ConductorContext } from './context.js';
import { badRequest } from './errors.js';
import { bodyObject, sendJson } from './replies.js';
import { forStarts } from './route-roles.js';
import { startRequestOf, startWorkflow } from './start.js';
import { workflowJson } from './workflow-shape.js';

/** One mocked attempt of a task (Conductor's TaskMock). */
interface TaskMock {
  status: TaskResult['status'];
  output: Json;
}

/** Longest a test run is driven before its workflow is answered as it stands, in ms. */
const TEST_RUN_MS = 10_000;
/** How long a workflow that waits on no mocked task is watched before it is answered, in ms. */
const SETTLE_MS = 100;
const MOCK_STATUSES = ['COMPLETED', 'FAILED', 'FAILED_WITH_TERMINAL_ERROR'];

/** Reads `taskRefToMockOutput { ref: [{ status, output }] }`; each ref's attempts take its mocks in order. */
function mocksOf(value: unknown): Map<string, TaskMock[]> {
  const mocks = new Map<string, TaskMock[]>();
  if (value === undefined || value === null) return mocks;
  const given = bodyObject(value, 'taskRefToMockOutput');
  for (const [ref, list] of Object.entries(given)) {
    if (!Array.isArray(list))
      throw badRequest(`taskRefToMockOutput.${ref}`, 'the mocks of a task must be a list of { status, output }', list);
    mocks.set(
      ref,
      list.map((item, index) => {
        const mock = bodyObject(item, `taskRefToMockOutput.${ref}[${index}]`);
        const status = mock.status ?? 'COMPLETED';
        if (!MOCK_STATUSES.includes(status as string))
          throw badRequest(
            `taskRefToMockOutput.${ref}[${index}].status`,
            `status must be one of ${MOCK_STATUSES.join(', ')}`,
            status,
          );
        return { status: status as TaskMock['status'], output: (mock.output ?? {}) as Json };
      }),
    );
  }
  return mocks;
}

/**
 * POST /api/workflow/test (Conductor's WorkflowTestRequest): starts the workflow (registered, or an inline
 * workflowDef), completes each of its tasks whose ref has mocks with those mocks in order (the last repeats), and
 * answers the workflow once it is over or waits on nothing mocked.
 */
export function workflowTestRoute(app: FastifyInstance, context: ConductorContext): void {
  const { engine, closing } = context;
  app.post('/workflow/test', forStarts, async (request, reply) => {
    const body = bodyObject(request.body, 'a WorkflowTestRequest');
    const mocks = mocksOf(body.taskRefToMockOutput);
    const run = await startWorkflow(engine, startRequestOf(body), traceparentOf(request));
    const used = new Map<string, number>();
    const deadline = Date.now() + TEST_RUN_MS;
    let idleSince: number | undefined;
    while (Date.now() < deadline && !closing.aborted) {
      const status = (await engine.getRun(run.id)).status;
      if (isTerminal(status)) break;
      const open = (await engine.tasks.ofRun(run.id)).filter((t) => !isTerminalTask(t.status) && mocks.has(t.refName));
      for (const task of open) {
        const list = mocks.get(task.refName)!;
        const n = used.get(task.refName) ?? 0;
        used.set(task.refName, n + 1);
        const mock = list[Math.min(n, list.length - 1)];
        if (mock) await engine.tasks.report(task.taskId, { status: mock.status, output: mock.output });
      }
      if (open.length || status !== 'waiting') idleSince = undefined;
      else if (idleSince === undefined) idleSince = Date.now();
      else if (Date.now() - idleSince >= SETTLE_MS) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const current = await engine.getRun(run.id);
    return sendJson(reply, workflowJson(current, await runDetail(context, current)));
  });
}
