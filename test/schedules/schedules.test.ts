/**
 * engine.schedules on a real SQLite store: each overlap policy, catch-up after downtime, pause/resume, trigger and
 * backfill without doubles. Policies are driven through backfill and trigger of a paused schedule (no clock involved);
 * the clock's decisions through a Schedules on the same store with a clock of the test's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isTerminal } from '../../src/core/types.js';
import { openEngineOnStore, type Engine } from '../../src/engine.js';
import { defineWorkflow } from '../../src/index.js';
import { Schedules } from '../../src/schedules/schedules.js';
import { slotRunId } from '../../src/schedules/slots.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { rejectsWith, runUntil, tempDb } from '../helpers.js';

const held = defineWorkflow({
  name: 'held',
  version: 1,
  async run(ctx, input: { n?: number }) {
    await ctx.waitForSignal('go');
    return { n: input?.n ?? 0 };
  },
});

const MIN = 60_000;
const T0 = Date.parse('2030-01-01T00:00:00Z');

let store: Store;
let engine: Engine;

before(async () => {
  store = await openStore(`sqlite:${tempDb()}`);
  engine = await openEngineOnStore(store, { workflows: [held], pollIntervalMs: 50, scheduleCheckMs: 200 });
});
after(async () => {
  await engine.close();
  await store.close();
});

let count = 0;
/** A paused schedule of `held` every minute (the clock never fires it), with the overlap policy given. */
async function paused(overlap: 'skip' | 'buffer_one' | 'buffer_all' | 'cancel_other' | 'allow_all') {
  const id = `p${++count}-${overlap}`;
  await engine.schedules.create({ id, workflow: 'held', interval: '1m', overlap, paused: true, input: { n: 1 } });
  return id;
}
const range = { from: T0, to: T0 + 3 * MIN };
const decisions = (outcomes: { decision: string }[]) => outcomes.map((o) => o.decision);
const finish = async (runId: string) => {
  await engine.signal(runId, 'go');
  await runUntil(engine, runId, (r) => isTerminal(r.status));
};
/** The run once it exists and waits for its signal (its start may come from the clock, a moment later). */
async function waiting(runId: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await store.getRun(runId);
    if (run?.status === 'waiting') return;
    assert.ok(Date.now() < deadline, `run ${runId} waits within ${timeoutMs} ms: ${JSON.stringify(run)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('overlap policies, when the previous firing is still in flight', () => {
  test('skip: the later slots are skipped', async () => {
    const id = await paused('skip');
    const outcomes = await engine.schedules.backfill(id, range);
    assert.deepEqual(decisions(outcomes), ['started', 'skipped', 'skipped']);
    assert.equal(outcomes[0]!.runId, `sched:${id}:2030-01-01T00:00:00.000Z`);
    await finish(outcomes[0]!.runId!);
    assert.equal((await engine.schedules.trigger(id)).decision, 'started', 'no run in flight: it starts');
  });

  test('allow_all: every slot starts its run', async () => {
    const id = await paused('allow_all');
    const outcomes = await engine.schedules.backfill(id, range);
    assert.deepEqual(decisions(outcomes), ['started', 'started', 'started']);
    for (const o of outcomes) await waiting(o.runId!);
  });

  test('cancel_other: each start cancels the previous run', async () => {
    const id = await paused('cancel_other');
    const outcomes = await engine.schedules.backfill(id, range);
    assert.deepEqual(decisions(outcomes), ['started', 'started', 'started']);
    const [a, b, c] = outcomes.map((o) => o.runId!);
    await runUntil(engine, a!, (r) => r.status === 'cancelled');
    await runUntil(engine, b!, (r) => r.status === 'cancelled');
    await waiting(c!);
  });

  test('buffer_one: one slot waits and starts when the run ends; the others are skipped', async () => {
    const id = await paused('buffer_one');
    const outcomes = await engine.schedules.backfill(id, range);
    assert.deepEqual(decisions(outcomes), ['started', 'buffered', 'skipped']);
    await rejectsWith(engine.getRun(outcomes[1]!.runId!), 'E_RUN_NOT_FOUND');
    await finish(outcomes[0]!.runId!);
    await waiting(outcomes[1]!.runId!);
    const slots = await engine.schedules.slots(id);
    assert.deepEqual(
      slots.map((s) => s.decision),
      ['skipped', 'started', 'started'],
    );
  });

  test('buffer_all: every slot waits its turn, oldest first, one run at a time', async () => {
    const id = await paused('buffer_all');
    const outcomes = await engine.schedules.backfill(id, range);
    assert.deepEqual(decisions(outcomes), ['started', 'buffered', 'buffered']);
    const [a, b, c] = outcomes.map((o) => o.runId!);
    await finish(a!);
    await waiting(b!);
    await rejectsWith(engine.getRun(c!), 'E_RUN_NOT_FOUND');
    await finish(b!);
    await waiting(c!);
  });
});

test('backfill fires each slot once: a second backfill over the range finds them taken', async () => {
  const id = await paused('allow_all');
  const first = await engine.schedules.backfill(id, { from: T0, to: T0 + 2 * MIN });
  const again = await engine.schedules.backfill(id, { from: T0 - MIN, to: T0 + 3 * MIN });
  assert.deepEqual(decisions(first), ['started', 'started']);
  assert.deepEqual(decisions(again), ['started', 'taken', 'taken', 'started']);
  const runs = await engine.listRuns({ workflow: 'held', limit: 1000 });
  assert.equal(runs.filter((r) => r.id.startsWith(`sched:${id}:`)).length, 4, 'four slots, four runs');
  await rejectsWith(engine.schedules.backfill(id, { from: T0, to: T0 }), 'E_INVALID_INPUT');
});

test('bad specs are refused with the field named, and nothing is stored', async () => {
  const spec = { id: 'bad', workflow: 'held', interval: '1m' };
  await rejectsWith(engine.schedules.create({ ...spec, workflow: 'nope' }), 'E_UNKNOWN_WORKFLOW');
  await rejectsWith(engine.schedules.create({ ...spec, version: 9 }), 'E_UNKNOWN_VERSION');
  await rejectsWith(engine.schedules.create({ ...spec, interval: undefined }), 'E_INVALID_INPUT');
  await rejectsWith(engine.schedules.create({ ...spec, cron: '* * * * *' }), 'E_INVALID_INPUT');
  await rejectsWith(engine.schedules.create({ ...spec, interval: undefined, cron: '* * *' }), 'E_INVALID_INPUT');
  await rejectsWith(engine.schedules.create({ ...spec, overlap: 'sometimes' as 'skip' }), 'E_INVALID_INPUT');
  await rejectsWith(engine.schedules.create({ ...spec, id: 'a/b' }), 'E_INVALID_INPUT');
  await rejectsWith(engine.schedules.get('bad'), 'E_SCHEDULE_NOT_FOUND');
  await engine.schedules.create({ ...spec, paused: true });
  await rejectsWith(engine.schedules.create(spec), 'E_SCHEDULE_EXISTS');
  await engine.schedules.delete('bad');
  await rejectsWith(engine.schedules.delete('bad'), 'E_SCHEDULE_NOT_FOUND');
});

test('the clock of a worker fires a 1 s interval schedule, each slot one run, until it is paused', async () => {
  const created = await engine.schedules.create({ id: 'tick', workflow: 'held', interval: '1s', overlap: 'allow_all' });
  assert.ok(created.nextFireAt! > Date.now() - 50 && created.nextFireAt! <= Date.now() + 1000);
  const started = async () => (await engine.schedules.slots('tick')).filter((s) => s.decision === 'started');
  for (let i = 0; (await started()).length < 2; i++) {
    assert.ok(i < 60, 'two slots fired within 3 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const paused = await engine.schedules.pause('tick', 'maintenance');
  assert.deepEqual([paused.paused, paused.note], [true, 'maintenance']);
  const slots = await started();
  for (const s of slots) {
    assert.equal(s.runId, `sched:tick:${new Date(s.slotAt).toISOString()}`);
    assert.equal(s.slotAt % 1000, 0, 'aligned to whole seconds');
    assert.equal((await engine.getRun(s.runId!)).workflow, 'held');
  }
  const before = (await engine.schedules.slots('tick')).length;
  await new Promise((resolve) => setTimeout(resolve, 1300));
  assert.equal((await engine.schedules.slots('tick')).length, before, 'nothing fires while paused');
});

describe('the clock, by a clock of the test', () => {
  let now = T0;
  const clocked = () =>
    new Schedules({
      store,
      now: () => now,
      changed: () => {},
      warn: () => {},
      start: async (s, id) => (await engine.startRun(s.workflow, s.input, { id, trigger: 'schedule' })).run,
      cancel: (runId, reason) => engine.cancel(runId, { reason }).then(() => {}),
    });

  test('after downtime: slots within the catch-up window fire, older ones are recorded as missed', async () => {
    now = T0;
    const schedules = clocked();
    const spec = { id: 'nightly', workflow: 'held', interval: '1m', overlap: 'allow_all' as const };
    await schedules.create({ ...spec, catchUpWindow: '150s' });
    now = T0 + 10 * MIN; // down for 10 minutes
    const next = await schedules.fireDue();
    assert.equal(next, T0 + 11 * MIN, 'the next firing is the next slot');
    const slots = (await schedules.slots('nightly')).reverse();
    assert.deepEqual(
      slots.map((s) => [(s.slotAt - T0) / MIN, s.decision]),
      [
        [1, 'missed'],
        [2, 'missed'],
        [3, 'missed'],
        [4, 'missed'],
        [5, 'missed'],
        [6, 'missed'],
        [7, 'missed'],
        [8, 'started'],
        [9, 'started'],
        [10, 'started'],
      ],
    );
    await schedules.fireDue();
    assert.equal((await schedules.slots('nightly')).length, 10, 'a second look fires nothing again');
  });

  test('pause and resume with a note: the slots of the pause do not fire; trigger fires now, also paused', async () => {
    now = T0;
    const schedules = clocked();
    await schedules.create({ id: 'rotate', workflow: 'held', cron: '*/5 * * * *', timezone: 'Europe/Berlin' });
    await schedules.pause('rotate', 'change freeze');
    now = T0 + 30 * MIN;
    await schedules.fireDue();
    assert.deepEqual(await schedules.slots('rotate'), []);
    const triggered = await schedules.trigger('rotate');
    assert.deepEqual([triggered.decision, triggered.slotAt], ['started', now]);
    const resumed = await schedules.resume('rotate', 'freeze over');
    assert.deepEqual([resumed.paused, resumed.note, resumed.nextSlotAt], [false, 'freeze over', T0 + 35 * MIN]);
    await schedules.fireDue();
    assert.equal((await schedules.slots('rotate')).length, 1, 'only the trigger');
    now = T0 + 35 * MIN;
    await schedules.fireDue();
    const [latest] = await schedules.slots('rotate');
    assert.deepEqual([latest!.slotAt, latest!.decision], [T0 + 35 * MIN, 'skipped'], 'the trigger run is in flight');
    const preview = await schedules.preview('rotate', 3);
    assert.deepEqual(
      preview.map((p) => (p.slotAt - T0) / MIN),
      [40, 45, 50],
    );
  });

  test('a slot claimed by a process killed before it started the run gets its run at the next look', async () => {
    now = T0;
    const schedules = clocked();
    await schedules.create({ id: 'orphan', workflow: 'held', interval: '1m', overlap: 'allow_all' });
    const runId = slotRunId('orphan', T0 + MIN);
    const slot = { scheduleId: 'orphan', slotAt: T0 + MIN, origin: 'schedule' as const, recordedAt: T0 + MIN };
    assert.equal(await store.schedules.claimSlot({ ...slot, decision: 'started', runId }), true);
    assert.equal(await store.getRun(runId), undefined, 'claimed, never started');
    now = T0 + MIN + 10;
    await schedules.fireDue();
    assert.equal((await store.getRun(runId))?.workflow, 'held', 'started by the next look');
    assert.equal((await store.listRuns({ workflow: 'held', limit: 1000 })).filter((r) => r.id === runId).length, 1);
  });
});
