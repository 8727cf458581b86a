import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  HISTORY_FORMAT,
  historyFormat,
  isTaskEvent,
  toNewEvent,
  type HistoryEvent,
  type NewEvent,
} from '../../src/core/types.js';

const started: HistoryEvent = {
  pos: 0,
  type: 'run_started',
  at: 1,
  data: { workflow: 'order', version: 1, input: null, format: HISTORY_FORMAT },
};
const scheduled: HistoryEvent = {
  pos: 1,
  epoch: 2,
  type: 'task_scheduled',
  seq: 0,
  name: 'ship',
  at: 2,
  data: { taskId: 't1', attempt: 1, ref: 'ship', input: {}, visibleAt: 2 },
};

test('an event type ties its data: narrowing on type gives the fields it records, and other data is refused', () => {
  const events: HistoryEvent[] = [started, scheduled, { pos: 2, type: 'timer_fired', seq: 1, at: 3 }];
  const taskIds = events.flatMap((e) => (e.type === 'task_scheduled' ? [e.data?.taskId] : []));
  assert.deepEqual(taskIds, ['t1']);
  // @ts-expect-error a timer records when it ends, not an output
  const wrong: NewEvent = { type: 'timer_set', seq: 0, data: { output: 1 } };
  // @ts-expect-error a run's failure records its error as an ErrorInfo, not a string
  const badError: NewEvent = { type: 'run_failed', data: { error: 'boom' } };
  // @ts-expect-error `until` is only on the timer and signal events: the union has to be narrowed first
  const unnarrowed = (e: HistoryEvent) => e.data?.until;
  assert.ok(wrong && badError && unnarrowed);
});

test('historyFormat reads the format run_started records, and is 1 where it records none', () => {
  assert.equal(historyFormat([started]), HISTORY_FORMAT);
  assert.equal(
    historyFormat([{ pos: 0, type: 'run_started', at: 1, data: { workflow: 'order', version: 1, input: null } }]),
    1,
  );
  assert.equal(historyFormat([]), 1);
});

test('toNewEvent copies an event for a new epoch: type, seq, name, time and data, without its place and epoch', () => {
  assert.deepEqual(toNewEvent(scheduled), {
    type: 'task_scheduled',
    seq: 0,
    name: 'ship',
    at: 2,
    data: scheduled.data,
  });
  assert.equal(scheduled.pos, 1, 'the recorded event is left as it was');
  assert.equal(scheduled.epoch, 2);
});

test('isTaskEvent is true for the events of remote task attempts only', () => {
  const failed: HistoryEvent = {
    pos: 3,
    type: 'task_failed',
    seq: 0,
    name: 'ship',
    at: 4,
    data: { taskId: 't1', attempt: 1, ref: 'ship', status: 'FAILED', workerId: null, reason: 'down', retry: true },
  };
  assert.deepEqual([started, scheduled, failed].map(isTaskEvent), [false, true, true]);
});
