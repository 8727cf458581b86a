/**
 * Upgrading runs to a version no live worker serves warns that they are stranded there: `runs upgrade`, `migrate`,
 * `rollout upgrade` (also as dry runs) and the /v1 upgrade and migrate answers; no warning once a worker serves it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine } from '../../src/index.js';
import migrating from '../fixtures/migrating-workflows.js';
import { orderV1, orderV2 } from '../fixtures/versioned-workflows.js';
import { runUntil, tempDb } from '../helpers.js';
import { withApi } from '../server/api.js';
import { cliInProcess } from './in-process.js';

const FIXTURE = 'test/fixtures/versioned-workflows.ts';
const MIGRATING = 'test/fixtures/migrating-workflows.ts';
const stranded = (what: string) => `no live worker serves versioned-order v2: ${what} until a worker serving v2 starts`;

/** A worker serving only `workflows`, on the SQLite file `db`. */
function workerOn(db: string, workerId: string, workflows: Parameters<typeof Engine.open>[0]['workflows']) {
  return Engine.open({
    store: `sqlite:${db}`,
    workflows,
    workerId,
    rolloutCheckMs: 0,
    pollIntervalMs: 20,
    logger: { warn() {} },
  });
}

test('runs upgrade and rollout upgrade onto a version no live worker serves warn: the runs are stranded', async () => {
  const db = tempDb();
  const v1 = await workerOn(db, 'v1-only', [orderV1]);
  let v2: Engine | undefined;
  try {
    for (const id of ['r-1', 'r-2', 'r-3', 'r-4']) await v1.start('versioned-order', { id }, { id, version: 1 });
    for (const id of ['r-1', 'r-2', 'r-3', 'r-4']) await runUntil(v1, id, (r) => r.status === 'waiting');
    const upgrade = (id: string, ...flags: string[]) =>
      cliInProcess(['runs', 'upgrade', id, '--to', '2', '--workflows', FIXTURE, '--db', db, ...flags]);

    const dry = await upgrade('r-1', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`^warning: ${stranded('the run would be stranded on it')}$`, 'm'));
    const dryJson = JSON.parse((await upgrade('r-1', '--dry-run', '--json')).stdout.split('\n')[0]!);
    assert.deepEqual(dryJson.warnings, [stranded('the run would be stranded on it')]);

    const applied = await upgrade('r-1');
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, new RegExp(`^warning: ${stranded('the run upgraded to it is stranded')}$`, 'm'));
    assert.equal((await v1.getRun('r-1')).version, 2, 'warned, not refused');

    const args = ['rollout', 'upgrade', 'versioned-order', '--from', '1', '--to', '2', '--percent', '100'];
    const rollout = await cliInProcess([...args, '--workflows', FIXTURE, '--db', db]);
    assert.equal(rollout.code, 0, rollout.stderr);
    const ofEligible = 'runs this rollout upgrades to it \\(of 3 eligible\\) are stranded';
    assert.match(rollout.stdout, new RegExp(`^warning: ${stranded(ofEligible)}$`, 'm'));

    v2 = await workerOn(db, 'v2-too', [orderV2]);
    await v1.signal('r-1', 'go', {});
    await runUntil(v2, 'r-1', (r) => r.status === 'completed');
    await v1.start('versioned-order', { id: 'r-5' }, { id: 'r-5', version: 1 });
    await runUntil(v1, 'r-5', (r) => r.status === 'waiting');
    const served = await upgrade('r-5', '--dry-run');
    assert.equal(served.code, 0, served.stderr);
    assert.doesNotMatch(served.stdout, /warning/, 'a live worker serves v2');
  } finally {
    await v2?.close();
    await v1.close();
  }
});

test('migrate, POST /v1/migrate and POST /v1/runs/:id/upgrade warn when no live worker serves the target', async () => {
  const db = tempDb();
  const v1 = await workerOn(db, 'research-v1', [migrating.workflows[0]!]);
  try {
    for (const id of ['m-1', 'm-2', 'm-3']) await v1.start('research', { topic: id }, { id, version: 1 });
    for (const id of ['m-1', 'm-2', 'm-3']) await runUntil(v1, id, (r) => r.status === 'waiting');
    const warning = (what: string) => `no live worker serves research v2: ${what} until a worker serving v2 starts`;
    const migrate = ['migrate', '--workflows', MIGRATING, '--migration', 'add-enrich', '--db', db, '--limit', '1'];
    const dry = await cliInProcess([...migrate, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`^warning: ${warning('the run would be stranded on it')}$`, 'm'));
    const json = JSON.parse((await cliInProcess([...migrate, '--json'])).stdout);
    assert.deepEqual([json.counts.migrated, json.warnings], [1, [warning('the run upgraded to it is stranded')]]);

    const { workflows, migrations } = migrating;
    await withApi(`sqlite:${db}`, { workflows, migrations, worker: false }, async ({ call }) => {
      const body = { workflow: 'research', from: 1, to: 2, migration: 'add-enrich', dryRun: true };
      const answer = await call('POST', '/v1/migrate', body);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.deepEqual(answer.body.warnings, [warning('the 2 runs would be stranded on it')]);
      const upgraded = await call('POST', '/v1/runs/m-2/upgrade', { to: 2, migration: 'add-enrich' });
      assert.equal(upgraded.status, 200, JSON.stringify(upgraded.body));
      assert.deepEqual(upgraded.body.warnings, [warning('the run upgraded to it is stranded')]);
    });
  } finally {
    await v1.close();
  }
});
