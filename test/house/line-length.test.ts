/** No line of the code is over 120 characters (the formatter wraps code; strings, SQL and comments by hand). */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LIMIT = 120;

/** The TypeScript files (.ts, .tsx) git tracks under the code folders (recorded histories are data, not code). */
function codeFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', 'src', 'test', 'bench', 'examples'], { cwd: ROOT, encoding: 'utf8' });
  return listed.split('\n').filter((f) => /\.tsx?$/.test(f) && !f.includes('fixtures/histories/'));
}

export function longLines(path: string, text: string): string[] {
  return text.split('\n').flatMap((line, i) => (line.length > LIMIT ? [`${path}:${i + 1} (${line.length})`] : []));
}

test(`no line of the code is over ${LIMIT} characters`, () => {
  const files = codeFiles();
  assert.ok(files.length > 200, `expected the code's files, found ${files.length}`);
  assert.deepEqual(
    files.flatMap((f) => longLines(f, readFileSync(ROOT + f, 'utf8'))),
    [],
  );
});

test('the line check names a line over the limit and passes one at it', () => {
  assert.deepEqual(longLines('x.ts', `ok\n${'a'.repeat(LIMIT)}\n${'b'.repeat(LIMIT + 1)}`), ['x.ts:3 (121)']);
});
