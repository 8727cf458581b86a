import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WaymarkError } from '../../src/core/errors.js';
import { assertJsonSerializable, roundTrip } from '../../src/core/json.js';

const notSerializable = (path: string) => (e: unknown) =>
  e instanceof WaymarkError && e.code === 'E_NOT_SERIALIZABLE' && e.message.startsWith(path);

test('plain data passes and round-trips as the history gives it back', () => {
  const value = { a: 1, b: ['x', null, true], c: { d: 1.5 }, skipped: undefined };
  assertJsonSerializable(value, 'input');
  assert.deepEqual(roundTrip(value, 'input'), { a: 1, b: ['x', null, true], c: { d: 1.5 } });
  assert.equal(roundTrip(new Date(0), 'x'), '1970-01-01T00:00:00.000Z');
  assert.equal(roundTrip(undefined, 'x'), undefined);
});

test('functions, bigints, symbols, cycles, class instances and non-finite numbers are refused with their path', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => assertJsonSerializable({ cb: () => 1 }, 'input'), notSerializable('input.cb is a function'));
  assert.throws(() => assertJsonSerializable({ n: 1n }, 'input'), notSerializable('input.n is a bigint'));
  assert.throws(() => assertJsonSerializable([Symbol('s')], 'payload'), notSerializable('payload[0] is a symbol'));
  assert.throws(() => assertJsonSerializable(cyclic, 'input'), notSerializable('input.self is a circular reference'));
  assert.throws(() => assertJsonSerializable({ m: new Map() }, 'input'), notSerializable('input.m is a Map'));
  assert.throws(() => assertJsonSerializable({ x: Number.NaN }, 'input'), notSerializable('input.x is NaN'));
  assert.throws(() => assertJsonSerializable([1, undefined], 'input'), notSerializable('input[1] is undefined'));
});

test('shared (non-cyclic) references are fine', () => {
  const shared = { k: 1 };
  assert.deepEqual(roundTrip({ a: shared, b: shared }, 'x'), { a: { k: 1 }, b: { k: 1 } });
});
