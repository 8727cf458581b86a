/** The Conductor task list built from a run's history: what a client sees between two commits of one task. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HistoryEvent, Run } from '../../src/core/types.js';
import { graphFacts } from '../../src/server/conductor/graph-facts.js';
import { historyTasks } from '../../src/server/conductor/history-tasks.js';

const at = 1_796_000_000_000;
const runOf = (status: Run['status']) =>
  ({ id: 'r-1', workflow: 'http_semantics', version: 1, status, epoch: 0, createdAt: new Date(at) }) as Run;
/** The asyncComplete HTTP call done, committed before its wait for the update is scheduled. */
const history: HistoryEvent[] = [
  { pos: 0, type: 'run_started', at, data: { workflow: 'http_semantics', version: 1, input: {}, format: 2 } },
  {
    pos: 1,
    type: 'step_completed',
    at: at + 5,
    seq: 0,
    name: 'callback',
    data: {
      attempt: 1,
      workerId: 'w',
      effect: 'none',
      startedAt: at + 1,
      durationMs: 4,
      output: { taskType: 'HTTP', input: {}, output: { response: { statusCode: 200 } } },
    },
  },
] as HistoryEvent[];
const graph = (asyncComplete: boolean) =>
  graphFacts({ tasks: [{ name: 'cb', taskReferenceName: 'callback', type: 'HTTP', asyncComplete }] });

test('an asyncComplete HTTP call whose wait is not scheduled yet shows IN_PROGRESS, never COMPLETED in between', () => {
  const [call] = historyTasks(runOf('running'), history, [], graph(true));
  assert.deepEqual([call?.referenceTaskName, call?.taskType, call?.status], ['callback', 'HTTP', 'IN_PROGRESS']);
  const [plain] = historyTasks(runOf('running'), history, [], graph(false));
  assert.equal(plain?.status, 'COMPLETED', 'a call without asyncComplete is done when it returns');
  const [ended] = historyTasks(runOf('cancelled'), history, [], graph(true));
  assert.equal(ended?.status, 'COMPLETED', 'a run that ended waits for nothing');
});
