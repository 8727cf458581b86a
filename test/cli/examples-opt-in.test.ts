import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { backends, tempDb, tempPgStore } from '../helpers.js';
import { cli, cliJson, spawnCli, type CliResult } from './cli-process.js';

const skipPg = backends.some((b) => b.name === 'postgres') ? false : 'PostgreSQL is not among WAYMARK_TEST_STORES';

/** Exit code `code` and one line `error: <message> (<errorCode>)` on stderr, nothing on stdout. */
function assertFailed(result: CliResult, code: number, errorCode: string, message: RegExp, what: string): void {
  assert.equal(result.code, code, `${what}: ${result.stderr}`);
  assert.match(result.stderr, new RegExp(`^error: .*\\(${errorCode}\\)\\n$`), what);
  assert.match(result.stderr, message, what);
  assert.equal(result.stdout, '', what);
}

test(
  'a fresh --db gets no example workflows: ' +
    'start without --workflows registers nothing, even when it fails; dev needs workflows',
  async () => {
    const db = tempDb();
    const unknown = await cli(['start', 'nosuchflow', '--db', db]);
    assertFailed(
      unknown,
      1,
      'E_UNKNOWN_WORKFLOW',
      /workflow 'nosuchflow' is not registered \(E_UNKNOWN_WORKFLOW\)/,
      'start nosuchflow',
    );
    assert.deepEqual(
      await cliJson(['versions', '--db', db]),
      [],
      'start created the store and registered no version in it',
    );

    const devDb = tempDb();
    const dev = await cli(['dev', '--db', devDb]);
    assertFailed(
      dev,
      2,
      'E_INVALID_INPUT',
      /dev needs workflows to serve: give --workflows <module> \(or --examples/,
      'dev without workflows',
    );
    assert.equal(existsSync(devDb), false, 'refused before the store is touched');

    const examples = await cliJson<{ id: string; workflow: string }>([
      'start',
      'report',
      '--examples',
      '--db',
      db,
      '--id',
      'r-1',
      '--input',
      '{"parts":1}',
    ]);
    assert.deepEqual([examples.id, examples.workflow], ['r-1', 'report'], '--examples asks for them');
    const known = await cliJson<{ workflow: string }[]>(['versions', '--db', db]);
    assert.deepEqual([...new Set(known.map((v) => v.workflow))].sort(), ['onboarding', 'order', 'report', 'rollout']);
  },
);

test('`waymark server` without --workflows or --examples serves no code workflows on a fresh store', async () => {
  const db = tempDb();
  const child = spawnCli(['server', '--port', '0', '--db', db, '--log-level', 'silent']);
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  let stdout = '';
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (chunk) => {
        stdout += chunk;
        const found = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
        if (found && /serving/.test(stdout)) resolve(found);
      });
      void exited.then(([code]) => reject(new Error(`exited ${code} before listening: ${stdout}`)));
    });
    assert.match(stdout, /serving no workflows given/);
    const body = (await (await fetch(`${url}/v1/versions`)).json()) as { versions: unknown[] };
    assert.deepEqual(body.versions, []);
  } finally {
    child.kill('SIGINT');
  }
  assert.deepEqual(await exited, [0, null]);
});

test('a fresh PostgreSQL schema gets no example workflows from a failed start', { skip: skipPg }, async () => {
  const location = tempPgStore();
  const started = await cli(['start', 'nosuchflow', '--db', location]);
  assertFailed(
    started,
    1,
    'E_UNKNOWN_WORKFLOW',
    /workflow 'nosuchflow' is not registered \(E_UNKNOWN_WORKFLOW\)/,
    'start creates the schema',
  );
  assert.deepEqual(await cliJson(['versions', '--db', location]), [], 'and registers no version in it');
});
