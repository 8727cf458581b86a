import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WaymarkError } from '../../src/core/errors.js';
import type { ErrorCode } from '../../src/core/errors.js';
import { loadSandbox } from '../../src/declarative/sandbox.js';
import type { ExpressionSandbox } from '../../src/declarative/sandbox.js';

const MiB = 1024 * 1024;

const failsWith = (code: ErrorCode, message?: RegExp) => (error: unknown) => {
  assert.ok(error instanceof WaymarkError, `expected a WaymarkError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  if (message) assert.match(error.message, message);
  return true;
};

function assertStillWorks(sandbox: ExpressionSandbox): void {
  assert.equal(sandbox.evaluate('$.n * 2', { n: 21 }), 42);
}

test('huge allocations stop at the memory limit without growing the host process', async () => {
  const sandbox = await loadSandbox();
  const rssBefore = process.memoryUsage().rss;
  const bombs = [
    `let a = []; while (true) a.push('x'.repeat(1e6))`,
    'new Array(1e9).fill(0)',
    'var a = []; while (true) a.push({})',
  ];
  for (const bomb of bombs) {
    assert.throws(
      () => sandbox.evaluate(bomb, {}, { timeoutMs: 10_000 }),
      (error: unknown) => {
        failsWith('E_EXPRESSION_MEMORY', /out of memory/)(error);
        assert.deepEqual((error as WaymarkError).details, { limitBytes: 16 * MiB, expression: bomb });
        return true;
      },
    );
    assertStillWorks(sandbox);
  }
  const grownBytes = process.memoryUsage().rss - rssBefore;
  assert.ok(grownBytes < 100 * MiB, `host RSS grew by ${Math.round(grownBytes / MiB)} MiB`);
});

test('an infinite loop stops at the time limit, caught or not, and the sandbox carries on', async () => {
  const sandbox = await loadSandbox();
  for (const loop of [
    'while (true) {}',
    'try { while (true) {} } catch (e) { 1 }',
    'var o = { get x() { for (;;) {} } }; o',
  ]) {
    const started = performance.now();
    assert.throws(
      () => sandbox.evaluate(loop, {}),
      (error: unknown) => {
        failsWith('E_EXPRESSION_TIMEOUT', /100 ms/)(error);
        assert.deepEqual((error as WaymarkError).details, { limitMs: 100, expression: loop });
        return true;
      },
    );
    const elapsed = performance.now() - started;
    // how soon after is a figure for the benchmark, not this test
    assert.ok(elapsed >= 90, `stopped after ${elapsed} ms, before its limit`);
    assertStillWorks(sandbox);
  }
  assert.throws(
    () => sandbox.evaluate('for (;;) {}', {}, { timeoutMs: 20 }),
    (error: unknown) => {
      failsWith('E_EXPRESSION_TIMEOUT', /20 ms/)(error);
      assert.deepEqual((error as WaymarkError).details, { limitMs: 20, expression: 'for (;;) {}' });
      return true;
    },
  );
});

test('plain expressions see the input as $', async () => {
  const sandbox = await loadSandbox();
  assert.equal(sandbox.evaluate('$.amount > 100', { amount: 150 }), true);
  assert.equal(sandbox.evaluate('$.amount > 100', { amount: 50 }), false);
  assert.equal(sandbox.evaluate('$.items.length', { items: ['a', 'b', 'c'] }), 3);
  assert.equal(sandbox.evaluate("$.user.name + '!'", { user: { name: 'ada' } }), 'ada!');
  assert.equal(sandbox.evaluate('$', 7), 7);
});

test('statement scripts yield the value of their last expression', async () => {
  const sandbox = await loadSandbox();
  const branch = "if ($.x > 1) { 'big' } else { 'small' }";
  assert.equal(sandbox.evaluate(branch, { x: 5 }), 'big');
  assert.equal(sandbox.evaluate(branch, { x: 0 }), 'small');
  assert.equal(sandbox.evaluate('$.a; $.b', { a: 1, b: 2 }), 2);
  assert.equal(sandbox.evaluate('var total = 0; for (var i = 0; i < $.n; i++) total += i; total', { n: 5 }), 10);
  assert.equal(sandbox.evaluate('let doubled = $.a * 2; doubled', { a: 4 }), 8);
});

test('function-style scripts return their value', async () => {
  const sandbox = await loadSandbox();
  assert.equal(sandbox.evaluate('(function(){ var x = $.a + 1; return x; })()', { a: 1 }), 2);
  const decide = '(function () { if ($.tries >= 3) return "give-up"; return "retry"; })()';
  assert.equal(sandbox.evaluate(decide, { tries: 3 }), 'give-up');
  assert.deepEqual(sandbox.evaluate('(() => $.list.map((x) => x * 10))()', { list: [1, 2] }), [10, 20]);
});

test('arrays, objects and null come back as JSON; undefined reads as null', async () => {
  const sandbox = await loadSandbox();
  assert.deepEqual(sandbox.evaluate('[$.a, { b: $.a + 1 }, null, "s"]', { a: 1 }), [1, { b: 2 }, null, 's']);
  assert.deepEqual(sandbox.evaluate('({ nested: { list: [true, false] }, none: null })', {}), {
    nested: { list: [true, false] },
    none: null,
  });
  assert.equal(sandbox.evaluate('null', {}), null);
  assert.equal(sandbox.evaluate('undefined', {}), null);
  assert.equal(sandbox.evaluate('$.missing', {}), null);
  assert.equal(sandbox.evaluate('var unused = 1;', {}), null);
  assert.equal(sandbox.evaluate('new Date(0)', {}), '1970-01-01T00:00:00.000Z');
});

test('$ is a copy: changing it inside leaves the caller’s value and later evaluations alone', async () => {
  const sandbox = await loadSandbox();
  const input = { x: 1, list: [1] };
  assert.deepEqual(sandbox.evaluate('$.x = 99; $.list.push(2); $.added = true; $', input), {
    x: 99,
    list: [1, 2],
    added: true,
  });
  assert.deepEqual(input, { x: 1, list: [1] });
  assert.equal(sandbox.evaluate('$.added === undefined && $.x', input), 1);
  sandbox.evaluate('globalThis.leaked = 1; Object.prototype.polluted = true', {});
  assert.equal(sandbox.evaluate('typeof leaked + " " + ({}).polluted', {}), 'undefined undefined');
});

test('a syntax error and a thrown error are E_EXPRESSION with the script’s message', async () => {
  const sandbox = await loadSandbox();
  assert.throws(() => sandbox.evaluate('$.a >', {}), failsWith('E_EXPRESSION', /syntax error: SyntaxError/));
  assert.throws(
    () => sandbox.evaluate("throw new Error('boom')", {}),
    failsWith('E_EXPRESSION', /^expression threw: Error: boom$/),
  );
  assert.throws(() => sandbox.evaluate("throw 'plain text'", {}), failsWith('E_EXPRESSION', /threw: plain text/));
  assert.throws(() => sandbox.evaluate('$.a.b', {}), failsWith('E_EXPRESSION', /threw: TypeError: .*'b'/));
  assert.throws(
    () => sandbox.evaluate("JSON.parse('{')", {}),
    failsWith('E_EXPRESSION', /^expression threw: SyntaxError/),
  );
  const long = `throw new Error('x'); ${'1;'.repeat(300)}`;
  assert.throws(
    () => sandbox.evaluate(long, {}),
    (error: unknown) => {
      failsWith('E_EXPRESSION')(error);
      assert.deepEqual((error as WaymarkError).details, { expression: long.slice(0, 200) });
      return true;
    },
  );
  assertStillWorks(sandbox);
});

test('a result that is not JSON is refused', async () => {
  const sandbox = await loadSandbox();
  const notJson = /result is not JSON/;
  assert.throws(() => sandbox.evaluate('(function () {})', {}), failsWith('E_EXPRESSION', notJson));
  assert.throws(() => sandbox.evaluate('Symbol("s")', {}), failsWith('E_EXPRESSION', notJson));
  assert.throws(() => sandbox.evaluate('var o = {}; o.self = o; o', {}), failsWith('E_EXPRESSION', /circular/));
  assert.throws(
    () => sandbox.evaluate('({ ok: 1, cb: () => 1 })', {}),
    failsWith('E_EXPRESSION', /function at key "cb"/),
  );
  assert.throws(() => sandbox.evaluate('new Map()', {}), failsWith('E_EXPRESSION', /Map/));
  assert.throws(() => sandbox.evaluate('10n', {}), failsWith('E_EXPRESSION', /bigint/));
  assertStillWorks(sandbox);
});

test('escape attempts reach nothing of the host', async () => {
  const sandbox = await loadSandbox();
  assert.throws(() => sandbox.evaluate('process.exit(1)', {}), failsWith('E_EXPRESSION', /'process' is not defined/));
  assert.throws(() => sandbox.evaluate("require('fs')", {}), failsWith('E_EXPRESSION', /'require' is not defined/));
  assert.equal(sandbox.evaluate('globalThis.process', {}), null);
  assert.throws(
    () => sandbox.evaluate("this.constructor.constructor('return process')()", {}),
    failsWith('E_EXPRESSION', /'process' is not defined/),
  );
  assert.throws(() => sandbox.evaluate("import('fs')", {}), failsWith('E_EXPRESSION', /Promise/));
  assert.deepEqual(sandbox.evaluate("Function('return this')()", {}), {});
  const hostNames = [
    'process',
    'require',
    'module',
    'Buffer',
    'setTimeout',
    'setInterval',
    'setImmediate',
    'fetch',
    'console',
    'WebAssembly',
  ];
  const globals = sandbox.evaluate('Object.getOwnPropertyNames(globalThis)', {}) as string[];
  assert.ok(globals.includes('JSON'), 'the sandbox has the language built-ins');
  assert.deepEqual(
    hostNames.filter((name) => globals.includes(name)),
    [],
  );
  assertStillWorks(sandbox);
});

test('deep recursion is an error, not a host crash', async () => {
  const sandbox = await loadSandbox();
  assert.throws(
    () => sandbox.evaluate('function f(n) { return f(n + 1) + 1 } f(0)', {}),
    failsWith('E_EXPRESSION', /stack overflow/),
  );
  assert.throws(() => sandbox.evaluate("eval('['.repeat(1e5))", {}), failsWith('E_EXPRESSION', /stack overflow/));
  assert.throws(() => sandbox.evaluate("JSON.parse('['.repeat(1e5))", {}), failsWith('E_EXPRESSION', /stack overflow/));
  assert.equal(sandbox.evaluate('function down(n) { return n === 0 ? 0 : 1 + down(n - 1) } down(100)', {}), 100);
  assertStillWorks(sandbox);
});

test('a sandbox whose WebAssembly frames overflow the host stack is replaced and keeps working', async () => {
  const sandbox = await loadSandbox({ memoryBytes: 8 * MiB });
  let reached = 0;
  const descend = (depth: number, target: number, atBottom: () => void): void => {
    reached = depth;
    if (depth < target) descend(depth + 1, target, atBottom);
    else atBottom();
  };
  assert.throws(() => descend(0, Number.POSITIVE_INFINITY, () => {}), RangeError);
  let outcome: unknown;
  descend(0, Math.floor(reached / 2), () => {
    try {
      outcome = sandbox.evaluate("eval('['.repeat(1e4))", {});
    } catch (error) {
      outcome = error;
    }
  });
  failsWith('E_EXPRESSION', /crashed the sandbox|stack overflow/)(outcome);
  assertStillWorks(sandbox);
  assertStillWorks(sandbox);
});

test('the memory limit is chosen per sandbox, and loading is shared', async () => {
  const [first, second] = await Promise.all([loadSandbox(), loadSandbox({ memoryBytes: 16 * MiB })]);
  assert.equal(first, second);
  const roomy = await loadSandbox({ memoryBytes: 64 * MiB });
  assert.equal(roomy.memoryBytes, 64 * MiB);
  const thirtyMegabytes = "'x'.repeat(3e7).length";
  assert.equal(roomy.evaluate(thirtyMegabytes, {}), 3e7);
  assert.throws(() => first.evaluate(thirtyMegabytes, {}), failsWith('E_EXPRESSION_MEMORY'));
  await assert.rejects(loadSandbox({ memoryBytes: 1000 }), failsWith('E_INVALID_INPUT'));
});

test('bad arguments are refused before anything runs', async () => {
  const sandbox = await loadSandbox();
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => sandbox.evaluate('1', cyclic as never), failsWith('E_INVALID_INPUT', /not JSON/));
  assert.throws(() => sandbox.evaluate('1', {}, { timeoutMs: 0 }), failsWith('E_INVALID_INPUT', /timeoutMs/));
  assert.throws(() => sandbox.evaluate('$.length', 'x'.repeat(5 * MiB)), failsWith('E_EXPRESSION_MEMORY', /input/));
  assertStillWorks(sandbox);
});
