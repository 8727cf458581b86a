/**
 * A run whose leasing worker stopped heartbeating: `runs get`, `runs describe` and GET /v1/runs/:id/describe say so,
 * and who takes it over when, instead of plain "executing". The store holds what a SIGKILLed worker leaves behind: a
 * run leased to it and a heartbeat that lapsed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { tempDb } from '../helpers.js';
import { withApi } from '../server/api.js';
import { cliInProcess } from './in-process.js';

const served = [{ workflow: 'w', version: 1 }];

/** A store with run 'r1' of w v1 leased to 'dead' for a minute; 'dead' beat once with a 1 ms term (it lapsed). */
async function leftByDeadWorker(db: string, live: boolean): Promise<{ store: Store; heartbeatAt: number }> {
  const store = await openStore(`sqlite:${db}`, { create: true });
  await store.registerWorkflowVersions([{ workflow: 'w', version: 1, fingerprint: 'f1' }]);
  const heartbeatAt = Date.now();
  await store.heartbeat('dead', served, 1);
  await store.createRuns([{ id: 'r1', workflow: 'w', version: 1, input: null, leaseOwner: 'dead' }], 60_000);
  if (live) await store.heartbeat('alive', served, 60_000);
  await new Promise((resolve) => setTimeout(resolve, 20)); // past the 1 ms heartbeat
  return { store, heartbeatAt };
}

const STOPPED = new RegExp(
  String.raw`executing on worker dead, which stopped heartbeating at (\S+); ` +
    String.raw`another worker takes it over when its lease expires at (\S+) \(in (\d+) s\)`,
);

test('`runs describe` and `runs get` of a run whose worker stopped say who takes it over and when', async () => {
  const db = tempDb();
  const { store, heartbeatAt } = await leftByDeadWorker(db, true);
  const lease = await store.runLease('r1');
  await store.close();

  const described = await cliInProcess(['runs', 'describe', 'r1', '--db', db]);
  assert.equal(described.code, 0, described.stderr);
  const where = described.stdout.match(STOPPED);
  assert.ok(where, described.stdout);
  assert.ok(Math.abs(Date.parse(where[1]!) - heartbeatAt) < 1000, 'the last heartbeat');
  assert.equal(Date.parse(where[2]!), lease!.expiresAt, 'the lease expiry');
  assert.ok(Number(where[3]) > 50 && Number(where[3]) <= 60, 'in about a minute');

  const got = await cliInProcess(['runs', 'get', 'r1', '--db', db]);
  assert.equal(got.code, 0, got.stderr);
  assert.match(got.stdout, /^executing: +on worker dead, which stopped heartbeating at \S+; another worker takes/m);

  const json = await cliInProcess(['runs', 'describe', 'r1', '--db', db, '--json']);
  const body = JSON.parse(json.stdout);
  assert.deepEqual(
    [body.lease.workerId, body.lease.holderAlive, body.lease.expiresAt, body.lease.servedBy],
    ['dead', false, lease!.expiresAt, 1],
  );
});

test('with no live worker serving its version, describe says nobody will take the run over', async () => {
  const db = tempDb();
  const { store } = await leftByDeadWorker(db, false);
  await store.close();
  const described = await cliInProcess(['runs', 'describe', 'r1', '--db', db]);
  assert.match(described.stdout, /its lease expires at \S+ \(in \d+ s\), but no live worker serves v1 to take it over/);
});

test('a run on a live worker is executing on it; GET /v1/runs/:id/describe says when that worker stopped', async () => {
  const db = tempDb();
  const { store } = await leftByDeadWorker(db, true);
  await store.createRuns([{ id: 'r2', workflow: 'w', version: 1, input: null, leaseOwner: 'alive' }], 60_000);
  await store.close();
  const live = await cliInProcess(['runs', 'describe', 'r2', '--db', db]);
  assert.match(live.stdout, /^where: +executing on worker alive$/m, live.stdout);
  await withApi(`sqlite:${db}`, { worker: false }, async ({ call }) => {
    const answer = await call('GET', '/v1/runs/r1/describe');
    assert.equal(answer.status, 200);
    assert.match(answer.body.where, STOPPED);
    assert.equal(answer.body.lease.holderAlive, false);
  });
});
