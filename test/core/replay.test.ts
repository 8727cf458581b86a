import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkOperation,
  describeDivergence,
  indexHistory,
  signalState,
  sleepState,
  stepState,
} from '../../src/core/replay.js';
import type { HistoryEvent } from '../../src/core/types.js';

const history: HistoryEvent[] = [
  { pos: 0, type: 'run_started', at: 1, data: { workflow: 'order', version: 1, input: null } },
  {
    pos: 1,
    type: 'step_failed',
    seq: 0,
    name: 'charge',
    at: 2,
    data: {
      attempt: 1,
      workerId: 'w1',
      effect: 'none',
      startedAt: 2,
      durationMs: 0,
      error: { name: 'Error', message: 'x' },
      retryAt: 50,
    },
  },
  { pos: 2, type: 'step_completed', seq: 0, name: 'charge', at: 3, data: { attempt: 2, output: { ok: true } } },
  { pos: 3, type: 'timer_set', seq: 1, at: 4, data: { until: 100 } },
  { pos: 4, type: 'timer_fired', seq: 1, at: 100 },
  { pos: 5, type: 'value_recorded', seq: 2, at: 101, data: { kind: 'now', value: 101 } },
  { pos: 6, type: 'signal_waiting', seq: 3, name: 'approval', at: 102, data: { until: 500 } },
  {
    pos: 7,
    type: 'step_failed',
    seq: 4,
    name: 'ship',
    at: 103,
    data: {
      attempt: 1,
      workerId: 'w1',
      effect: 'none',
      startedAt: 103,
      durationMs: 0,
      error: { name: 'Error', message: 'down' },
      retryAt: 900,
    },
  },
];

test('indexHistory groups operation events by seq with their kind and name', () => {
  const ops = indexHistory(history);
  assert.deepEqual([...ops.keys()], [0, 1, 2, 3, 4]);
  assert.deepEqual(
    [...ops.values()].map((o) => [o.kind, o.name, o.events.length]),
    [
      ['step', 'charge', 2],
      ['sleep', '', 2],
      ['now', '', 1],
      ['signal', 'approval', 1],
      ['step', 'ship', 1],
    ],
  );
});

test('operation states are read from the history', () => {
  const ops = indexHistory(history);
  assert.deepEqual(stepState(ops.get(0)), { state: 'completed', output: { ok: true } });
  assert.deepEqual(stepState(ops.get(4)), { state: 'retrying', attempt: 2, retryAt: 900 });
  assert.deepEqual(stepState(undefined), { state: 'new', attempt: 1 });
  assert.deepEqual(sleepState(ops.get(1)), { until: 100, fired: true });
  assert.deepEqual(signalState(ops.get(3)), { state: 'waiting', until: 500 });
});

test('a different kind or name at a recorded seq is a divergence; a new seq is not', () => {
  const ops = indexHistory(history);
  assert.equal(checkOperation(ops.get(0), 0, 'step', 'charge'), undefined);
  assert.equal(checkOperation(undefined, 9, 'step', 'anything'), undefined);
  const renamed = checkOperation(ops.get(0), 0, 'step', 'pay');
  assert.deepEqual(renamed, { seq: 0, expected: { kind: 'step', name: 'charge' }, got: { kind: 'step', name: 'pay' } });
  assert.match(describeDivergence(renamed!), /history has step 'charge' at seq 0 but the code asked for step 'pay'/);
  assert.deepEqual(checkOperation(ops.get(1), 1, 'step', 'charge')?.expected, { kind: 'sleep', name: '' });
});
