import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { Engine } from '../../src/index.js';
import { tempDb } from '../helpers.js';
import { cli, cliJson, cliProcess } from './cli-process.js';

/** One line `error: <message> (<code>)` on stderr. */
function assertError(stderr: string, code: string, message: RegExp): void {
  assert.match(stderr, new RegExp(`^error: .*\\(${code}\\)\\n$`), stderr);
  assert.match(stderr, message);
}

test('bad JSON in --input exits 2 and writes nothing; the store keeps only the good run (real processes)', async () => {
  const db = tempDb();
  const fresh = await cliProcess(['start', 'report', '--db', db, '--input', '{oops']);
  assert.equal(fresh.code, 2);
  assertError(fresh.stderr, 'E_INVALID_INPUT', /--input is not valid JSON/);
  assert.equal(fresh.stdout, '');
  assert.equal(existsSync(db), false, 'bad input must not even create the database');

  const good = await cliProcess([
    'start',
    'report',
    '--examples',
    '--db',
    db,
    '--id',
    'good',
    '--input',
    '{"parts":1}',
  ]);
  assert.equal(good.code, 0, good.stderr);
  const bad = await cliProcess(['start', 'report', '--db', db, '--id', 'bad', '--input', '[1,']);
  assert.equal(bad.code, 2);
  assertError(bad.stderr, 'E_INVALID_INPUT', /--input is not valid JSON/);

  const runs = await cliJson<{ id: string }[]>(['runs', 'list', '--db', db]);
  assert.deepEqual(
    runs.map((r) => r.id),
    ['good'],
  );
});

test('an unknown workflow exits 1 with E_UNKNOWN_WORKFLOW and starts nothing', async () => {
  const db = tempDb();
  const result = await cli(['start', 'no-such-workflow', '--examples', '--db', db, '--input', '{}']);
  assert.equal(result.code, 1);
  assertError(
    result.stderr,
    'E_UNKNOWN_WORKFLOW',
    /workflow 'no-such-workflow' is not registered \(known: onboarding, order, report, rollout\)/,
  );
  assert.deepEqual(await cliJson(['runs', 'list', '--db', db]), []);
});

test('a missing run exits 1 with E_RUN_NOT_FOUND for get, history and signal', async () => {
  const db = tempDb();
  await (await Engine.open({ store: `sqlite:${db}`, worker: false })).close(); // an empty store
  for (const args of [
    ['runs', 'get', 'nope'],
    ['runs', 'history', 'nope'],
    ['signal', 'nope', 'approval'],
  ]) {
    const result = await cli([...args, '--db', db]);
    assert.equal(result.code, 1, args.join(' '));
    assertError(result.stderr, 'E_RUN_NOT_FOUND', /run 'nope' does not exist/);
    assert.equal(result.stdout, '');
  }
});

test('bad option values exit 2 before the store is opened', async () => {
  const db = tempDb();
  const cases: [string[], RegExp][] = [
    [['runs', 'list', '--status', 'sleeping'], /unknown status 'sleeping'/],
    [['runs', 'list', '--limit', '0'], /--limit must be a positive integer/],
    [['start', 'order', '--version', '1.5'], /--version must be a positive integer/],
    [['signal', 'some-run', 'approval', '--data', '{"approved":'], /--data is not valid JSON/],
  ];
  for (const [args, message] of cases) {
    const result = await cli([...args, '--db', db]);
    assert.equal(result.code, 2, args.join(' '));
    assertError(result.stderr, 'E_INVALID_INPUT', message);
  }
  assert.equal(existsSync(db), false);
  const unknownCommand = await cliProcess(['frobnicate']);
  assert.equal(unknownCommand.code, 2);
  assert.match(unknownCommand.stderr, /unknown command 'frobnicate'/);
});

test(
  'runs list --json prints a parseable array filtered by status and workflow; ' + 'an unknown version exits 1',
  async () => {
    const db = tempDb();
    assert.equal(
      (await cli(['start', 'order', '--examples', '--db', db, '--id', 'o-1', '--input', '{"id":"o-1","amount":1}']))
        .code,
      0,
    );
    assert.equal(
      (await cli(['start', 'report', '--db', db, '--id', 'r-1', '--version', '1', '--correlation-id', 'batch-9'])).code,
      0,
    );

    const all = await cliJson<{ id: string; status: string }[]>(['runs', 'list', '--db', db]);
    assert.deepEqual(all.map((r) => r.id).sort(), ['o-1', 'r-1']);
    const orders = await cliJson<{ id: string }[]>(['runs', 'list', '--db', db, '--workflow', 'order']);
    assert.deepEqual(
      orders.map((r) => r.id),
      ['o-1'],
    );
    const correlated = await cliJson<{ id: string; correlationId: string }[]>([
      'runs',
      'list',
      '--db',
      db,
      '--correlation-id',
      'batch-9',
    ]);
    assert.deepEqual(
      correlated.map((r) => [r.id, r.correlationId]),
      [['r-1', 'batch-9']],
    );
    // No worker runs them: both stay as created.
    assert.deepEqual(await cliJson(['runs', 'list', '--db', db, '--status', 'completed']), []);

    const unknownVersion = await cli(['start', 'order', '--db', db, '--version', '7']);
    assert.equal(unknownVersion.code, 1);
    assertError(unknownVersion.stderr, 'E_UNKNOWN_VERSION', /has no version 7/);
  },
);
