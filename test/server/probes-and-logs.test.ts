/**
 * GET /ready answers 503 once the store does not answer or lacks a migration; requests log one line each, at
 * debug unless asked otherwise, so a server at info (the `waymark server` default) logs no line per request.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { Engine } from '../../src/index.js';
import { buildServer } from '../../src/server/server.js';
import { spawnCli } from '../cli/cli-process.js';
import { backends, TEST_PG_URL, tempDb, tempPgStore } from '../helpers.js';

/** A pino logger at `level` whose JSON lines are kept in `lines`. */
function capturingLogger(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: pino({ level }, stream) };
}

async function requestSome(app: ReturnType<typeof buildServer>): Promise<void> {
  for (const url of ['/health', '/v1/runs', '/api/tasks/poll/pay?workerid=w', '/no/such/route'])
    await app.inject({ method: 'GET', url });
}

test('requests log nothing at info, and one line each at debug', async () => {
  const engine = await Engine.open({ store: `sqlite:${tempDb()}`, logger: { warn() {} } });
  try {
    const quiet = capturingLogger('info');
    const app = buildServer({ engine, logger: quiet.logger });
    await requestSome(app);
    await app.close();
    assert.deepEqual(quiet.lines, [], 'no line per request at info');

    const chatty = capturingLogger('debug');
    const debugApp = buildServer({ engine, logger: chatty.logger });
    await requestSome(debugApp);
    await debugApp.close();
    const requests = chatty.lines.filter((l) => l.msg === 'request answered');
    assert.deepEqual(
      requests.map((l) => [l.level, l.url, l.statusCode ?? null]),
      [
        [20, '/health', 200],
        [20, '/v1/runs', 200],
        [20, '/api/tasks/poll/pay?workerid=w', 204],
        [20, '/no/such/route', 404],
      ],
    );
    assert.equal(requests[0]!.route, '/health');
  } finally {
    await engine.close();
  }
});

test('`waymark server` logs JSON lines on stderr and none per request at its default level', async () => {
  const child = spawnCli(['server', '--port', '0', '--db', `sqlite:${tempDb()}`, '--examples']);
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (chunk) => {
        stdout += chunk;
        const found = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
        if (found) resolve(found);
      });
      void exited.then(([code]) => reject(new Error(`exited ${code} before listening: ${stdout}\n${stderr}`)));
    });
    for (let i = 0; i < 5; i++) assert.equal((await fetch(`${url}/api/tasks/poll/pay?workerid=w`)).status, 204);
    assert.equal((await fetch(`${url}/ready`)).status, 200);
    assert.match(
      await (await fetch(`${url}/metrics`)).text(),
      /^waymark_task_poll_total\{task_type="pay",result="empty"\} 5$/m,
    );
  } finally {
    child.kill('SIGTERM');
  }
  assert.deepEqual(await exited, [0, null]);
  const lines = stderr.split('\n').filter(Boolean);
  for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `a JSON line: ${line}`);
  const perRequest = lines.map((l) => JSON.parse(l)).filter((l) => /request/.test(String(l.msg)));
  assert.deepEqual(perRequest, [], 'no line per request');
});

test('GET /ready is 200 on a working engine and 503 with the reason once it is closed', async () => {
  const engine = await Engine.open({ store: `sqlite:${tempDb()}`, logger: { warn() {} } });
  const app = buildServer({ engine });
  try {
    const ready = await app.inject({ method: 'GET', url: '/ready' });
    assert.deepEqual([ready.statusCode, ready.json()], [200, { status: 'ready' }]);
    await engine.close();
    const closed = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(closed.statusCode, 503);
    assert.deepEqual(closed.json(), {
      status: 'unavailable',
      code: 'E_ENGINE_CLOSED',
      reason: 'this engine is closed',
    });
  } finally {
    await app.close();
    await engine.close();
  }
});

const skipPg = !backends.some((b) => b.name === 'postgres');

test('GET /ready is 503 when the PostgreSQL schema lacks a migration, or is gone', { skip: skipPg }, async () => {
  const location = tempPgStore();
  const schema = new URL(location).searchParams.get('schema')!;
  const engine = await Engine.open({ store: location, worker: false, logger: { warn() {} } });
  const app = buildServer({ engine });
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  try {
    assert.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200);
    const newest = Number((await admin.query(`SELECT MAX(version) AS v FROM "${schema}".waymark_schema`)).rows[0].v);
    await admin.query(`DELETE FROM "${schema}".waymark_schema WHERE version = $1`, [newest]);
    const behind = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(behind.statusCode, 503);
    assert.equal(behind.json().code, 'E_STORE');
    assert.match(
      behind.json().reason,
      new RegExp(`schema '${schema}' is at migration ${newest - 1}, this Waymark needs ${newest}`),
    );
    await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
    const gone = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(gone.statusCode, 503);
    assert.match(gone.json().reason, /does not answer: relation "waymark_schema" does not exist/);
    assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'it is alive all the same');
  } finally {
    await admin.end();
    await app.close();
    await engine.close();
  }
});
