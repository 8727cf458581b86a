import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { backends, TEST_PG_URL, tempDir, tempPgStore } from '../helpers.js';
import { cli, ROOT, type CliResult } from './cli-process.js';

const skipPg = backends.some((b) => b.name === 'postgres') ? false : 'PostgreSQL is not among WAYMARK_TEST_STORES';

/** Exit code `code` and one line `error: <message> (<errorCode>)` on stderr, nothing on stdout. */
function assertFailed(result: CliResult, code: number, errorCode: string, message: RegExp, what: string): void {
  assert.equal(result.code, code, `${what}: ${result.stderr}`);
  assert.match(result.stderr, new RegExp(`^error: .*\\(${errorCode}\\)\\n$`), what);
  assert.match(result.stderr, message, what);
  assert.equal(result.stdout, '', what);
}

/** Commands that read or change what a store holds: none of them may create one. */
const READ_COMMANDS = [['runs', 'list'], ['versions'], ['signal', 'r-1', 'approval'], ['runs', 'cancel', 'r-1']];

test(
  'read commands on a missing SQLite file exit 1 with ' +
    'E_STORE_NOT_FOUND and create nothing (bare path and sqlite:)',
  async () => {
    const dir = tempDir();
    const file = join(dir, 'typo.db');
    const cases = [
      ...READ_COMMANDS.map((args) => [...args, '--db', file]),
      ['runs', 'get', 'r-1', '--db', `sqlite:${file}`],
    ];
    for (const args of cases) {
      const result = await cli(args);
      assertFailed(
        result,
        1,
        'E_STORE_NOT_FOUND',
        new RegExp(
          /SQLite store '.*typo\.db' does not exist: no such file \(nothing was /.source +
            /created\): check --db, or create the store with `.*server`, `dev` or `start`/.source,
        ),
        args.join(' '),
      );
    }
    assert.deepEqual(readdirSync(dir), [], 'no file appeared');
  },
);

test(
  'an unknown --db scheme is a usage error (exit 2) ' + 'for every command, creator or not, and creates nothing',
  async () => {
    for (const args of [
      ['runs', 'list'],
      ['start', 'order', '--examples'],
    ]) {
      const result = await cli([...args, '--db', 'mysql://root@db.example/waymark']);
      assertFailed(
        result,
        2,
        'E_INVALID_INPUT',
        /--db 'mysql:\/\/root@db\.example\/waymark': Waymark has no 'mysql' store; give a SQLite file/,
        args.join(' '),
      );
    }
    assert.equal(existsSync(join(ROOT, 'mysql:')), false);
  },
);

test('read commands on a missing PostgreSQL schema or database exit 1 with E_STORE_NOT_FOUND and create nothing', {
  skip: skipPg,
}, async () => {
  const location = tempPgStore();
  const schema = new URL(location).searchParams.get('schema')!;
  for (const args of READ_COMMANDS.slice(0, 2)) {
    const result = await cli([...args, '--db', location]);
    assertFailed(
      result,
      1,
      'E_STORE_NOT_FOUND',
      new RegExp(`PostgreSQL store schema '${schema}' does not exist in database 'test' \\(nothing was created\\)`),
      args.join(' '),
    );
  }
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    assert.equal(rows.length, 0, 'the schema was not created');
  } finally {
    await admin.end();
  }
  const noDatabase = new URL(TEST_PG_URL);
  noDatabase.pathname = '/waymark_no_such_database';
  const result = await cli(['start', 'order', '--examples', '--db', noDatabase.toString()]);
  assertFailed(
    result,
    1,
    'E_STORE_NOT_FOUND',
    /database "waymark_no_such_database" does not exist \(nothing was created\)/,
    'a creator creates no database',
  );
});
