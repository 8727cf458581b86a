/**
 * The package installs without engine warnings on the oldest Node.js its `engines` names: every locked runtime
 * dependency's own `engines.node` admits that version (npm warns, EBADENGINE, for each one that does not).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import semver from 'semver';

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8'));

test("every runtime dependency admits the oldest Node.js of the package's engines", () => {
  const oldest = semver.minVersion(pkg.engines.node);
  assert.ok(oldest, `engines.node ${pkg.engines.node} names no version`);
  const refused: string[] = [];
  for (const [path, entry] of Object.entries<{ dev?: boolean; engines?: { node?: string } }>(lock.packages)) {
    const wanted = entry.engines?.node;
    if (path === '' || entry.dev || wanted === undefined) continue;
    if (!semver.satisfies(oldest, wanted)) refused.push(`${path} wants node ${wanted}`);
  }
  assert.deepEqual(refused, [], `these would warn on node ${oldest}`);
});

test('the running Node.js is one the package supports', () => {
  assert.ok(semver.satisfies(process.version, pkg.engines.node), `${process.version} vs ${pkg.engines.node}`);
});
