/** The conformance suite's schedule cases: schedules and their slots, each slot claimed once, on every store. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../../src/store/open.js';
import type { ScheduleRecord, SlotRecord } from '../../src/store/types.js';
import { forEachBackend } from '../helpers.js';

const schedule = (id: string, changes: Partial<ScheduleRecord> = {}): ScheduleRecord => ({
  id,
  workflow: 'w',
  version: null,
  input: { region: 'eu', n: [1, 2] },
  cron: '0 2 * * *',
  timezone: 'Europe/Berlin',
  intervalMs: null,
  startAt: null,
  endAt: 9_000_000_000_000,
  jitterMs: 500,
  overlap: 'skip',
  catchUpWindowMs: 60_000,
  paused: false,
  note: null,
  createdAt: 1000,
  updatedAt: 1000,
  lastSlotAt: null,
  nextSlotAt: 5000,
  nextFireAt: 5200,
  ...changes,
});

const slot = (slotAt: number, changes: Partial<SlotRecord> = {}): SlotRecord => ({
  scheduleId: 's1',
  slotAt,
  decision: 'started',
  origin: 'schedule',
  runId: `sched:s1:${slotAt}`,
  recordedAt: 7000,
  ...changes,
});

forEachBackend((backend) => {
  test('a schedule is created once by its id, read back as written, saved, listed by id and removed', async () => {
    const store = await openStore(backend.store());
    try {
      assert.equal(await store.schedules.create(schedule('s1')), true);
      assert.equal(await store.schedules.create(schedule('s1', { workflow: 'other' })), false, 'id taken');
      assert.equal(
        await store.schedules.create(schedule('s0', { cron: null, timezone: null, intervalMs: 1000 })),
        true,
      );
      assert.deepEqual(await store.schedules.get('s1'), schedule('s1'));
      assert.equal(await store.schedules.get('nope'), undefined);
      const noInput = schedule('s2', { input: undefined, version: 3, paused: true, note: 'freeze' });
      await store.schedules.create(noInput);
      assert.deepEqual(await store.schedules.get('s2'), noInput, 'no input stays none; version and pause kept');
      assert.deepEqual(
        (await store.schedules.list()).map((s) => s.id),
        ['s0', 's1', 's2'],
      );
      const changed = schedule('s1', { overlap: 'buffer_all', paused: true, note: 'n', updatedAt: 2000 });
      assert.equal(await store.schedules.save(changed), true);
      assert.deepEqual(await store.schedules.get('s1'), changed);
      assert.equal(await store.schedules.save(schedule('missing')), false);
      await store.schedules.claimSlot(slot(5000));
      assert.equal(await store.schedules.remove('s1'), true);
      assert.equal(await store.schedules.remove('s1'), false);
      assert.equal(await store.schedules.get('s1'), undefined);
      assert.deepEqual(await store.schedules.slots('s1', { limit: 10 }), [], 'its slots went with it');
    } finally {
      await store.close();
    }
  });

  test('a slot is claimed exactly once, also by concurrent claims; a buffered slot starts once', async () => {
    const location = backend.store();
    const store = await openStore(location);
    const other = await openStore(location);
    try {
      await store.schedules.create(schedule('s1'));
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? store : other).schedules.claimSlot(slot(5000))),
      );
      assert.equal(claims.filter(Boolean).length, 1, `one claim wins: ${claims}`);
      assert.equal(await store.schedules.claimSlot(slot(5000, { decision: 'skipped', runId: null })), false);
      await store.schedules.claimSlot(slot(6000, { decision: 'buffered' }));
      await store.schedules.claimSlot(slot(7000, { decision: 'missed', runId: null }));
      await store.schedules.claimSlot(slot(8000, { decision: 'buffered', origin: 'backfill' }));
      assert.deepEqual(
        (await store.schedules.slots('s1', { limit: 10 })).map((s) => [s.slotAt, s.decision]),
        [
          [8000, 'buffered'],
          [7000, 'missed'],
          [6000, 'buffered'],
          [5000, 'started'],
        ],
        'newest first, the first claim kept',
      );
      assert.deepEqual(
        (await store.schedules.slots('s1', { limit: 1, decision: 'buffered', oldestFirst: true })).map((s) => s.slotAt),
        [6000],
      );
      const starts = await Promise.all([
        store.schedules.startBuffered('s1', 6000, 'r6'),
        other.schedules.startBuffered('s1', 6000, 'r6'),
      ]);
      assert.equal(starts.filter(Boolean).length, 1, 'one process starts a buffered slot');
      await store.schedules.create(schedule('s2'));
      assert.deepEqual(
        (await store.schedules.withBufferedSlots()).map((s) => s.id),
        ['s1'],
        'the slot at 8000 still waits; s2 has none',
      );
      assert.equal(await store.schedules.startBuffered('s1', 5000, 'x'), false, 'not buffered');
      const [six] = await store.schedules.slots('s1', { limit: 1, decision: 'started' });
      assert.deepEqual(six, slot(8000 - 2000, { runId: 'r6' }));
    } finally {
      await Promise.all([store.close(), other.close()]);
    }
  });

  test('the clock moves only forward; due and next firing skip paused and finished schedules', async () => {
    const store = await openStore(backend.store());
    try {
      await store.schedules.create(schedule('a', { nextFireAt: 3000 }));
      await store.schedules.create(schedule('b', { nextFireAt: 2000 }));
      await store.schedules.create(schedule('c', { nextFireAt: 1000, paused: true }));
      await store.schedules.create(schedule('d', { nextSlotAt: null, nextFireAt: null }));
      assert.equal(await store.schedules.nextFireAt(), 2000);
      assert.deepEqual(
        (await store.schedules.due(2500, 10)).map((s) => s.id),
        ['b'],
      );
      assert.deepEqual(
        (await store.schedules.due(9999, 1)).map((s) => s.id),
        ['b'],
        'oldest due first, limited',
      );
      assert.equal(await store.schedules.advance('b', 2000, { slotAt: 4000, fireAt: 4100 }), true);
      assert.equal(await store.schedules.advance('b', 2000, { slotAt: 9, fireAt: 9 }), false, 'not newer');
      assert.equal(await store.schedules.advance('b', 1000, { slotAt: 9, fireAt: 9 }), false, 'older');
      const b = await store.schedules.get('b');
      assert.deepEqual([b?.lastSlotAt, b?.nextSlotAt, b?.nextFireAt], [2000, 4000, 4100]);
      assert.equal(await store.schedules.nextFireAt(), 3000);
      assert.equal(await store.schedules.advance('a', 3000, null), true, 'no more slots');
      assert.equal(await store.schedules.nextFireAt(), 4100);
      assert.deepEqual(
        (await store.schedules.due(9999, 10)).map((s) => s.id),
        ['b'],
      );
    } finally {
      await store.close();
    }
  });
});
