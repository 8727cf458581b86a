import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backends, tempDb, tempPgStore } from '../helpers.js';
import { cli } from './cli-process.js';

for (const backend of backends) {
  test(`${backend.name}: \`waymark start\` says it started a run, or that a run with that id existed`, async () => {
    const db = backend.name === 'sqlite' ? tempDb() : tempPgStore();
    const start = (input: string) =>
      cli(['start', 'report', '--examples', '--db', db, '--id', 'report-1', '--input', input]);
    const first = await start('{"parts":1}');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^started\n/);
    const second = await start('{"parts":2}');
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^run 'report-1' already exists: nothing started\n/);
  });
}
