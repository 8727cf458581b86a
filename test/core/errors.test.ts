import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import {
  ERRORS,
  fromErrorInfo,
  httpStatusOf,
  isRetryable,
  NonRetryableError,
  toErrorInfo,
  WaymarkError,
  type ErrorCode,
} from '../../src/core/errors.js';
import { HTTP_ERRORS } from '../../src/server/errors.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Every .ts file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The CLI's code for a server answer that carried none (a Conductor-layer refusal, a proxy's page): its status. */
const ANSWER_WITHOUT_CODE = /^E_HTTP_\d{3}$/;

test("every 'E_...' literal in src/ is a code of ERRORS or of the HTTP layer's table", () => {
  const known = new Set([...Object.keys(ERRORS), ...Object.keys(HTTP_ERRORS)]);
  const unknown: string[] = [];
  let seen = 0;
  for (const file of sources(SRC)) {
    for (const match of readFileSync(file, 'utf8').matchAll(/['"`](E_[A-Z][A-Z0-9_]*)['"`]/g)) {
      seen++;
      if (!known.has(match[1]!) && !ANSWER_WITHOUT_CODE.test(match[1]!))
        unknown.push(`${file.slice(SRC.length)}: ${match[1]}`);
    }
  }
  assert.ok(seen > 100, `the scan finds the codes (${seen})`);
  assert.deepEqual(unknown, []);
});

test('every code has a kind, a retryable flag and a one-line meaning; no code is in both tables', () => {
  const kinds = ['invalid', 'not_found', 'conflict', 'unavailable', 'internal'];
  for (const [code, spec] of Object.entries(ERRORS)) {
    assert.ok(kinds.includes(spec.kind), `${code}: kind ${spec.kind}`);
    assert.equal(typeof spec.retryable, 'boolean', code);
    assert.ok(spec.meaning.length > 10 && !spec.meaning.includes('\n'), `${code}: meaning`);
    assert.ok(!Object.hasOwn(HTTP_ERRORS, code), `${code} is in both tables`);
  }
  // @ts-expect-error a code outside the table is not an ErrorCode
  const outside: ErrorCode = 'E_NOT_IN_THE_TABLE';
  assert.equal(Object.hasOwn(ERRORS, outside), false);
});

test("a code's HTTP status is its kind's, or the exception the table states", () => {
  assert.deepEqual(
    ['E_INVALID_INPUT', 'E_RUN_NOT_FOUND', 'E_RUN_STATE', 'E_STORE', 'E_STEP_FAILED'].map(httpStatusOf),
    [400, 404, 409, 503, 500],
  );
  assert.equal(httpStatusOf('E_TIMEOUT'), 408, 'a wait the caller bounded ran out: not a server fault');
  assert.equal(httpStatusOf('E_TASK_NOT_FOUND'), 404);
  assert.equal(httpStatusOf('E_WOULD_STRAND'), 409);
  assert.equal(httpStatusOf('E_USERS_OWN'), 500, "a user's own code is an internal failure");
  assert.equal(isRetryable('E_USERS_OWN'), false);
});

test('transient races have retryable codes; a wrong state does not', () => {
  assert.deepEqual(
    (['E_RUN_BUSY', 'E_ROLLOUT_BUSY', 'E_LOCK_HELD', 'E_STORE', 'E_ENGINE_CLOSED'] as const).map(isRetryable),
    [true, true, true, true, true],
  );
  assert.deepEqual(
    (['E_RUN_STATE', 'E_INVALID_INPUT', 'E_RUN_NOT_FOUND', 'E_NONDETERMINISM'] as const).map(isRetryable),
    [false, false, false, false],
  );
});

test('NonRetryableError is a WaymarkError (E_NON_RETRYABLE unless given a code), recorded with its stack', () => {
  const plain = new NonRetryableError('card declined');
  assert.ok(plain instanceof WaymarkError);
  assert.deepEqual([plain.name, plain.code, plain.message], ['NonRetryableError', 'E_NON_RETRYABLE', 'card declined']);
  const coded = new NonRetryableError('too many loops', { code: 'E_LIMIT_EXCEEDED', details: { limit: 3 } });
  assert.deepEqual([coded.code, coded.details], ['E_LIMIT_EXCEEDED', { limit: 3 }]);

  const info = toErrorInfo(coded);
  assert.deepEqual(
    [info.name, info.code, info.message, info.details],
    ['NonRetryableError', 'E_LIMIT_EXCEEDED', 'too many loops', { limit: 3 }],
  );
  assert.match(info.stack ?? '', /errors\.test\.ts/, 'the stack names the code that threw it');
  const rebuilt = fromErrorInfo(info);
  assert.ok(rebuilt instanceof NonRetryableError);
  assert.deepEqual(
    [rebuilt.code, rebuilt.message, rebuilt.details],
    ['E_LIMIT_EXCEEDED', 'too many loops', { limit: 3 }],
  );
});

test('a NonRetryableError recorded before it had a code rebuilds as one, with E_NON_RETRYABLE', () => {
  const old = {
    name: 'NonRetryableError',
    message: 'no price for K-1',
    stack: 'at lookup (golden-workflows.ts:99:13)',
  };
  const rebuilt = fromErrorInfo(old);
  assert.ok(rebuilt instanceof NonRetryableError);
  assert.deepEqual([rebuilt.code, rebuilt.message], ['E_NON_RETRYABLE', 'no price for K-1']);
  const user = fromErrorInfo({ name: 'Error', message: 'declined', code: 'E_CARD_DECLINED' });
  assert.ok(user instanceof WaymarkError && !(user instanceof NonRetryableError));
  assert.equal((user as WaymarkError).code, 'E_CARD_DECLINED', "a user's own code is kept as recorded");
});
