import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import Database from 'better-sqlite3';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../src/index.js';
import { runUntil, tempDb } from '../helpers.js';
import { cli, ROOT, spawnCli } from '../cli/cli-process.js';
import { workflows } from './fixtures/server-workflows.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const MODULE = 'test/server/fixtures/server-workflows.ts';

async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** Polls GET /v1/runs/:id until the run has `status`; fails after 10 s. */
async function statusOf(url: string, id: string, status: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (((await (await fetch(`${url}/v1/runs/${id}`)).json()) as { status: string }).status === status) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`run ${id} did not become ${status}`);
}

test(
  '`waymark server` serves the API; ' +
    'on SIGTERM it exits 0 at once and releases its leases, so its runs go on elsewhere',
  async (t) => {
    const db = tempDb();
    const env: NodeJS.ProcessEnv = { ...process.env, WAYMARK_TEST_HOLD_WORK: '1' };
    delete env.WAYMARK_DB;
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        MAIN,
        'server',
        '--port',
        '0',
        '--db',
        `sqlite:${db}`,
        '--workflows',
        MODULE,
        '--worker-id',
        'api-1',
        '--log-level',
        'warn',
      ],
      {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    const listening = new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (chunk) => {
        stdout += chunk;
        const url = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
        if (url) resolve(url);
      });
      void exited.then(([code]) =>
        reject(new Error(`waymark server exited (${code}) before listening\n${stdout}\n${stderr}`)),
      );
    });

    const held = ['held-1', 'held-2', 'held-3'];
    const parked = ['parked-1', 'parked-2'];
    let leases: Database.Database | undefined;
    /** Who holds each run's lease, read straight from the store file. */
    const leaseOwners = () =>
      Object.fromEntries(
        leases!
          .prepare('SELECT id, lease_owner FROM runs ORDER BY id')
          .all()
          .map((r: any) => [r.id, r.lease_owner]),
      );
    try {
      const url = await listening;
      leases = new Database(db, { readonly: true, fileMustExist: true });
      assert.deepEqual(await (await fetch(`${url}/health`)).json(), { status: 'ok' });
      // Runs held inside step 'work' (their leases held by this server) and runs parked on a signal (no lease).
      for (const id of held)
        assert.equal(
          (await post(`${url}/v1/runs`, { workflow: 'hold', input: { label: id, hold: true }, id })).status,
          201,
        );
      for (const id of parked)
        assert.equal((await post(`${url}/v1/runs`, { workflow: 'hold', input: { label: id }, id })).status, 201);
      for (const id of parked) await statusOf(url, id, 'waiting');
      const listed = (await (await fetch(`${url}/v1/runs?workflow=hold&limit=10`)).json()) as {
        runs: { id: string; status: string }[];
      };
      assert.deepEqual(Object.fromEntries(listed.runs.map((r) => [r.id, r.status])), {
        'held-1': 'running',
        'held-2': 'running',
        'held-3': 'running',
        'parked-1': 'waiting',
        'parked-2': 'waiting',
      });
      assert.deepEqual(leaseOwners(), {
        'held-1': 'api-1',
        'held-2': 'api-1',
        'held-3': 'api-1',
        'parked-1': null,
        'parked-2': null,
      });
    } catch (error) {
      child.kill('SIGKILL');
      leases?.close();
      throw error;
    }

    const stopping = Date.now();
    child.kill('SIGTERM');
    const [code, signal] = await exited;
    const stopMs = Date.now() - stopping;
    assert.equal(code, 0, `exit ${code} ${signal}\n${stdout}\n${stderr}`);
    assert.ok(stopMs < 5_000, `stopping took ${stopMs} ms`);
    t.diagnostic(`SIGTERM to exit: ${stopMs} ms`);
    assert.match(stdout, /waymark server: SIGTERM: closing connections/);
    assert.match(stdout, /waymark server: stopped\n$/);
    assert.deepEqual(Object.values(leaseOwners()), [null, null, null, null, null], 'no lease is left behind');
    leases!.close();

    // Another worker (a default 30 s lease) takes the runs at once: the server released its leases on the way out.
    const taking = Date.now();
    const engine = await Engine.open({
      store: `sqlite:${db}`,
      workflows,
      workerId: 'after',
      pollIntervalMs: 100,
      logger: { warn() {} },
    });
    try {
      for (const id of held) await runUntil(engine, id, (r) => r.status === 'waiting', 10_000);
      for (const id of [...held, ...parked]) await engine.signal(id, 'go', { by: 'after' });
      for (const id of [...held, ...parked]) {
        assert.deepEqual(await engine.result(id, { timeoutMs: 10_000 }), {
          work: `worked on ${id}`,
          go: { by: 'after' },
          finish: `finished ${id}`,
        });
      }
      const tookMs = Date.now() - taking;
      t.diagnostic(`another worker finished the 5 runs ${tookMs} ms after opening`);
      assert.ok(
        tookMs < 10_000,
        `the runs went on after ${tookMs} ms: well before their 30 s leases would have expired`,
      );
    } finally {
      await engine.close();
    }
  },
);

test('`waymark server --examples` serves the examples and refuses a bad --port before opening anything', async () => {
  const bad = await cli(['server', '--port', '80000']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--port must be a port number from 0 to 65535, got '80000'/);

  const db = tempDb();
  const child = spawnCli(['server', '--port', '0', '--db', db, '--examples', '--log-level', 'silent']);
  let stdout = '';
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const found = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
      if (found) resolve(found);
    });
    void exited.then(([code]) => reject(new Error(`exited ${code} before listening: ${stdout}`)));
  });
  try {
    const address = String.raw`http://127\.0\.0\.1:\d+`;
    assert.match(stdout, new RegExp(String.raw`^waymark server: listening on ${address} \(dashboard: ${address}/\)\n`));
    const versions = (await (await fetch(`${url}/v1/versions`)).json()) as { versions: { workflow: string }[] };
    assert.deepEqual([...new Set(versions.versions.map((v) => v.workflow))].sort(), [
      'onboarding',
      'order',
      'report',
      'rollout',
    ]);
  } finally {
    child.kill('SIGINT');
  }
  assert.deepEqual(await exited, [0, null]);
});
