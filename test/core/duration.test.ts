import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_DURATION_MS, parseDuration } from '../../src/core/duration.js';
import { WaymarkError } from '../../src/core/errors.js';

test('parses numbers and unit strings', () => {
  assert.equal(parseDuration(1500), 1500);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('1m'), 60_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('3d'), 259_200_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
});

test('rejects what is not a duration', () => {
  for (const bad of ['', 'soon', '10 parsecs', '5x', -1, Number.NaN, Infinity, '1m and more']) {
    assert.throws(
      () => parseDuration(bad as never),
      (e: unknown) => e instanceof WaymarkError && e.code === 'E_INVALID_INPUT',
    );
  }
});

test('rejects durations longer than 100 years: their deadlines would overflow dates and the stores', () => {
  assert.equal(parseDuration(MAX_DURATION_MS), MAX_DURATION_MS);
  assert.equal(parseDuration('36500d'), MAX_DURATION_MS);
  for (const bad of [MAX_DURATION_MS + 1, 1e300, '36501d', '99999999999d']) {
    assert.throws(
      () => parseDuration(bad, 'maxLifetimeMs'),
      (e: unknown) =>
        e instanceof WaymarkError &&
        e.code === 'E_INVALID_INPUT' &&
        /maxLifetimeMs must be at most 100 years/.test(e.message),
    );
  }
});
