import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { SandboxPool } from '../../src/declarative/sandbox-pool.js';
import { rejectsWith } from '../helpers.js';

const pool = new SandboxPool({ threads: 2 });
after(() => pool.close());

test('expressions evaluate on a thread with their value, their sandbox time and the sandbox error codes', async () => {
  const evaluation = await pool.evaluate('$.a * 2', { a: 21 }, { timeoutMs: 10_000 });
  assert.equal(evaluation.value, 42);
  assert.ok(evaluation.elapsedMs > 0);
  await rejectsWith(pool.evaluate('1 +', {}, { timeoutMs: 10_000 }), 'E_EXPRESSION');
  await rejectsWith(pool.evaluate('throw new Error("no")', {}, { timeoutMs: 10_000 }), 'E_EXPRESSION');
  const timedOut = await rejectsWith(pool.evaluate('for (;;) {}', {}, { timeoutMs: 50 }), 'E_EXPRESSION_TIMEOUT');
  assert.deepEqual(timedOut.details, { limitMs: 50, expression: 'for (;;) {}' });
  await rejectsWith(pool.evaluate('new Array(1e9).fill(0)', {}, { timeoutMs: 10_000 }), 'E_EXPRESSION_MEMORY');
  await rejectsWith(pool.evaluate('1', {}, { timeoutMs: 0 }), 'E_INVALID_INPUT');
  assert.equal((await pool.evaluate('$.ok', { ok: true }, { timeoutMs: 10_000 })).value, true, 'the threads carry on');
});

test('the event loop turns while an expression spins; more evaluations than threads wait their turn', async () => {
  let turns = 0;
  let spinning = true;
  const count = () => {
    turns += 1;
    if (spinning) setImmediate(count);
  };
  const spins = [1, 2, 3].map((n) =>
    pool.evaluate(`var t = Date.now(); while (Date.now() - t < 200) {} ${n}`, {}, { timeoutMs: 5_000 }),
  );
  setImmediate(count);
  const values = (await Promise.all(spins)).map((e) => e.value);
  spinning = false;
  assert.deepEqual(values, [1, 2, 3]);
  assert.ok(turns > 10, `the event loop turned ${turns} times while three evaluations spun for 200 ms each`);
  assert.equal(pool.running, 0);
});

test('giving up on an evaluation stops its thread; a new thread takes the next one', async () => {
  const stop = new AbortController();
  const spinning = pool.evaluate('for (;;) {}', {}, { timeoutMs: 60_000, signal: stop.signal });
  while (pool.running === 0) await new Promise((resolve) => setImmediate(resolve));
  stop.abort(new Error('run stopped'));
  await assert.rejects(spinning, /run stopped/);
  assert.equal(pool.running, 0);
  assert.equal((await pool.evaluate('"again"', {}, { timeoutMs: 10_000 })).value, 'again');

  const before = new AbortController();
  before.abort(new Error('already stopped'));
  await assert.rejects(pool.evaluate('1', {}, { timeoutMs: 10_000, signal: before.signal }), /already stopped/);
});
