import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_RETRY, resolveRetryPolicy, retryDelayMs } from '../../src/core/backoff.js';
import { WaymarkError } from '../../src/core/errors.js';

const noJitter = { ...DEFAULT_RETRY, jitter: 0, initialDelayMs: 100, maxDelayMs: 10_000 };

test('exponential backoff doubles each attempt and stops at maxDelayMs', () => {
  const policy = { ...noJitter, backoff: 'exponential' as const };
  assert.deepEqual(
    [1, 2, 3, 4].map((a) => retryDelayMs(policy, a, 0.5)),
    [100, 200, 400, 800],
  );
  assert.equal(retryDelayMs(policy, 20, 0.5), 10_000);
});

test('linear and fixed backoff', () => {
  assert.deepEqual(
    [1, 2, 3].map((a) => retryDelayMs({ ...noJitter, backoff: 'linear' }, a, 0.5)),
    [100, 200, 300],
  );
  assert.deepEqual(
    [1, 2, 3].map((a) => retryDelayMs({ ...noJitter, backoff: 'fixed' }, a, 0.5)),
    [100, 100, 100],
  );
});

test('jitter spreads the delay within its fraction and never exceeds maxDelayMs', () => {
  const policy = { ...noJitter, jitter: 0.2, backoff: 'fixed' as const };
  assert.equal(retryDelayMs(policy, 1, 0), 80);
  assert.equal(retryDelayMs(policy, 1, 0.999999), 120);
  assert.equal(retryDelayMs({ ...policy, initialDelayMs: 10_000 }, 1, 0.999999), 10_000);
});

test('resolveRetryPolicy fills defaults and rejects nonsense with E_INVALID_INPUT', () => {
  assert.deepEqual(resolveRetryPolicy(undefined, 'step x'), DEFAULT_RETRY);
  assert.equal(
    resolveRetryPolicy({ maxAttempts: 5, initialDelayMs: undefined }, 'x').initialDelayMs,
    DEFAULT_RETRY.initialDelayMs,
  );
  for (const bad of [
    { maxAttempts: 0 },
    { maxAttempts: 1.5 },
    { initialDelayMs: -1 },
    { jitter: 2 },
    { backoff: 'random' as never },
  ]) {
    assert.throws(
      () => resolveRetryPolicy(bad, "step 'x'"),
      (e: unknown) => e instanceof WaymarkError && e.code === 'E_INVALID_INPUT' && e.message.includes("step 'x'"),
    );
  }
});
