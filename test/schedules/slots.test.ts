import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cronOf,
  dueSlots,
  jitterOf,
  nextSlotAfter,
  previewSlots,
  slotRunId,
  slotsBetween,
  type ScheduleTiming,
} from '../../src/schedules/slots.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const cron = (
  pattern: string,
  timezone: string | null = null,
  bounds: Partial<ScheduleTiming> = {},
): ScheduleTiming => ({
  cron: pattern,
  timezone,
  intervalMs: null,
  startAt: null,
  endAt: null,
  ...bounds,
});
const every = (intervalMs: number, bounds: Partial<ScheduleTiming> = {}): ScheduleTiming => ({
  cron: null,
  timezone: null,
  intervalMs,
  startAt: null,
  endAt: null,
  ...bounds,
});

test('Europe/Berlin 02:30 daily: on the spring-forward day it fires once at 03:00 local, then 02:30 again', () => {
  const slots = slotsBetween(cron('30 2 * * *', 'Europe/Berlin'), at('2025-03-28T12:00:00Z'), at('2025-04-01Z'), 10);
  assert.deepEqual(slots.map(iso), [
    '2025-03-29T01:30:00.000Z', // 02:30 CET
    '2025-03-30T01:00:00.000Z', // 02:30 does not exist: 03:00 CEST, once
    '2025-03-31T00:30:00.000Z', // 02:30 CEST
  ]);
});

test('Europe/Berlin 02:30 daily: on the fall-back day (02:30 happens twice) it fires once', () => {
  const slots = slotsBetween(
    cron('30 2 * * *', 'Europe/Berlin'),
    at('2025-10-25T12:00:00Z'),
    at('2025-10-27T12:00Z'),
    10,
  );
  assert.equal(slots.length, 2, slots.map(iso).join());
  assert.equal(iso(slots[1]), '2025-10-27T01:30:00.000Z');
});

test('a 6-field cron is read second first; 4 or 7 fields, a bad field and a bad zone are refused', () => {
  assert.equal(iso(nextSlotAfter(cron('15 * * * * *'), at('2025-01-01T00:00:00Z'))), '2025-01-01T00:00:15.000Z');
  assert.equal(iso(nextSlotAfter(cron('*/15 * * * *'), at('2025-01-01T00:00:00Z'))), '2025-01-01T00:15:00.000Z');
  assert.throws(() => cronOf('* * * *', null), /must have 5 fields .* got 4/);
  assert.throws(() => cronOf('0 0 0 * * * 2030', null), /got 7/);
  assert.throws(
    () => cronOf('61 * * * *', null),
    (e: Error & { code?: string }) => e.code === 'E_INVALID_INPUT',
  );
  assert.throws(() => cronOf('* * * * *', 'Mars/Olympus'), /not an IANA time zone/);
});

test('intervals are aligned to the epoch, or to startAt; the next slot is strictly after t; endAt is exclusive', () => {
  assert.equal(nextSlotAfter(every(1000), 5500), 6000);
  assert.equal(nextSlotAfter(every(1000), 6000), 7000);
  assert.equal(nextSlotAfter(every(1000, { startAt: 250 }), 5500), 6250);
  assert.equal(nextSlotAfter(every(1000, { startAt: 9000 }), 5500), 9000, 'nothing before startAt');
  assert.equal(nextSlotAfter(every(1000, { endAt: 7000 }), 6000), undefined, 'endAt excluded');
  assert.deepEqual(slotsBetween(every(1000, { startAt: 2000, endAt: 5000 }), 0, 10_000, 10), [2000, 3000, 4000]);
  assert.equal(
    iso(nextSlotAfter(cron('0 * * * *', null, { startAt: at('2025-01-01T05:00:00Z') }), 0)),
    '2025-01-01T05:00:00.000Z',
    'a cron slot exactly at startAt counts',
  );
});

test('jitter is derived from the schedule and the slot: stable, bounded, spread', () => {
  assert.equal(jitterOf('a', 1000, 0), 0);
  assert.equal(jitterOf('a', 1000, 5000), jitterOf('a', 1000, 5000));
  const values = Array.from({ length: 200 }, (_, i) => jitterOf('nightly', i * 60_000, 1000));
  assert.ok(values.every((v) => v >= 0 && v <= 1000));
  assert.ok(new Set(values).size > 100, 'spread over the range');
  assert.notEqual(jitterOf('a', 1000, 1_000_000), jitterOf('b', 1000, 1_000_000));
  const [first] = previewSlots(every(60_000), 'nightly', 1000, 0, 1);
  assert.deepEqual(first, { slotAt: 60_000, fireAt: 60_000 + jitterOf('nightly', 60_000, 1000) });
});

test('due slots after downtime: those within the catch-up window fire, older ones are missed', () => {
  const result = dueSlots(every(1000), 's', 0, 2500, 0, 10_000, 100);
  assert.deepEqual(result.missed, [1000, 2000, 3000, 4000, 5000, 6000, 7000]);
  assert.deepEqual(result.due, [8000, 9000, 10_000]);
  assert.deepEqual(result.next, { slotAt: 11_000, fireAt: 11_000 });
  const limited = dueSlots(every(1000), 's', 0, 2500, 0, 10_000, 3);
  assert.deepEqual([limited.missed, limited.due, limited.next?.slotAt], [[1000, 2000, 3000], [], 4000]);
  const jittered = dueSlots(every(1000), 's', 900, 60_000, 0, 1000, 10);
  const fire = 1000 + jitterOf('s', 1000, 900);
  assert.deepEqual(jittered.due, fire <= 1000 ? [1000] : [], 'a slot is due once its jitter has passed');
  assert.equal(slotRunId('nightly', at('2025-01-01T02:00:00Z')), 'sched:nightly:2025-01-01T02:00:00.000Z');
});
