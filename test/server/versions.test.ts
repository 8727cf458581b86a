import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachBackend, runUntil } from '../helpers.js';
import { withApi } from './api.js';
import { workflows as versioned } from '../fixtures/versioned-workflows.js';
import migrating from '../fixtures/migrating-workflows.js';

forEachBackend((backend) => {
  test('versions, workers, drain/activate/retire, canary routes and rollouts over the API', async () => {
    await withApi(backend.store(), { workflows: versioned }, async ({ engine, call }) => {
      const versions = (await call('GET', '/v1/versions')).body.versions as {
        workflow: string;
        version: number;
        status: string;
        servedBy: string[];
      }[];
      const order = versions.filter((v) => v.workflow === 'versioned-order');
      assert.deepEqual(
        order.map((v) => [v.version, v.status]),
        [
          [1, 'active'],
          [2, 'active'],
          [3, 'active'],
        ],
      );
      assert.ok(order.every((v) => v.servedBy.includes(engine.workerId)));
      const workers = (await call('GET', '/v1/workers')).body.workers as { workerId: string; served: unknown[] }[];
      assert.ok(workers.some((w) => w.workerId === engine.workerId && w.served.length === 4));
      assert.deepEqual((await call('GET', '/v1/patches')).body, { patches: [] });

      const start = async (body: Record<string, unknown>) =>
        call('POST', '/v1/runs', { workflow: 'versioned-order', input: { id: 'x' }, ...body });
      assert.deepEqual((await call('POST', '/v1/workflows/versioned-order/versions/3/drain')).body, {
        workflow: 'versioned-order',
        version: 3,
        status: 'draining',
        schedules: [],
      });
      assert.equal((await start({})).body.version, 2, 'a routed start skips the draining version');
      const pinned = await start({ version: 3 });
      assert.deepEqual([pinned.status, pinned.body.code], [409, 'E_VERSION_UNAVAILABLE']);
      assert.equal((await start({ version: 3, force: true })).body.version, 3);
      assert.equal((await call('POST', '/v1/workflows/versioned-order/versions/3/activate')).body.status, 'active');
      assert.equal((await start({})).body.version, 3);

      await call('POST', '/v1/workflows/versioned-order/versions/2/drain');
      const busy = await call('POST', '/v1/workflows/versioned-order/versions/2/retire');
      assert.deepEqual([busy.status, busy.body.code], [409, 'E_RUN_STATE']);
      await call('POST', '/v1/workflows/versioned-order/versions/1/drain');
      assert.equal((await call('POST', '/v1/workflows/versioned-order/versions/1/retire')).body.status, 'retired');
      await call('POST', '/v1/workflows/versioned-order/versions/2/activate');

      const split = await call('PUT', '/v1/workflows/versioned-order/route', {
        current: 2,
        candidate: 3,
        percent: 100,
      });
      assert.deepEqual(split.body, { workflow: 'versioned-order', route: { current: 2, candidate: 3, percent: 100 } });
      assert.equal((await start({ routeKey: 'k' })).body.version, 3);
      await call('PUT', '/v1/workflows/versioned-order/route', { current: 2, candidate: 3, percent: 0 });
      assert.equal((await start({ routeKey: 'k' })).body.version, 2);
      assert.deepEqual((await call('PUT', '/v1/workflows/versioned-order/route', null)).body, {
        workflow: 'versioned-order',
        route: null,
      });
      assert.equal((await start({})).body.version, 3);

      const rollout = await call('POST', '/v1/rollouts', {
        workflow: 'versioned-order',
        to: 3,
        from: 2,
        percent: 10,
        step: 30,
        everyMs: 60_000,
        minSample: 5,
        maxFailureRatio: 3,
      });
      assert.equal(rollout.status, 201, JSON.stringify(rollout.body));
      assert.deepEqual([rollout.body.status, rollout.body.percent, rollout.body.minSample], ['running', 10, 5]);
      const twice = await call('POST', '/v1/rollouts', { workflow: 'versioned-order', to: 3, from: 2 });
      assert.deepEqual([twice.status, twice.body.code], [409, 'E_RUN_STATE']);
      assert.deepEqual(
        (await call('GET', '/v1/rollouts')).body.rollouts.map((r: { to: number }) => r.to),
        [3],
      );
      assert.equal((await call('POST', '/v1/rollouts/evaluate')).body.rollouts[0].status, 'running');
      assert.equal((await call('POST', '/v1/rollouts/versioned-order/pause')).body.status, 'paused');
      assert.equal((await call('POST', '/v1/rollouts/versioned-order/pause')).status, 409, 'already paused');
      assert.equal(
        (await call('POST', '/v1/rollouts/versioned-order/resume', { kind: 'starts' })).body.status,
        'running',
      );
      assert.equal((await call('POST', '/v1/rollouts/versioned-order/promote', { kind: 'sideways' })).status, 400);
      const aborted = await call('POST', '/v1/rollouts/versioned-order/abort', { reason: 'seen enough' });
      assert.deepEqual([aborted.status, aborted.body.status], [200, 'rolled_back']);
      assert.match(aborted.body.outcome, /seen enough/);
      const again = await call('POST', '/v1/rollouts/versioned-order/abort');
      assert.deepEqual([again.status, again.body.code], [409, 'E_RUN_STATE']);
    });
  });

  test('upgrade, migrate, rollback-migration, restart and rerun over the API', async () => {
    const workflows = [...versioned, ...migrating.workflows];
    await withApi(backend.store(), { workflows, migrations: migrating.migrations }, async ({ engine, call }) => {
      await call('POST', '/v1/runs', { workflow: 'versioned-order', version: 1, input: { id: 'u' }, id: 'up' });
      await runUntil(engine, 'up', (r) => r.status === 'waiting');
      const refused = await call('POST', '/v1/runs/up/upgrade', { to: 3 });
      assert.deepEqual(
        [refused.status, refused.body.code, refused.body.details.reason],
        [409, 'E_NONDETERMINISM', 'divergence'],
      );
      assert.equal(refused.body.details.divergence.seq, 0);
      const dry = await call('POST', '/v1/runs/up/upgrade', { to: 2, dryRun: true });
      assert.deepEqual(
        [dry.status, dry.body.applied, dry.body.verdict.ok, dry.body.run.version],
        [200, false, true, 1],
      );
      const upgraded = await call('POST', '/v1/runs/up/upgrade', { to: 2, actor: 'ops', reason: 'v2 fix' });
      assert.deepEqual([upgraded.body.applied, upgraded.body.run.version], [true, 2]);
      const wrongMigration = await call('POST', '/v1/runs/up/upgrade', { to: 3, migration: 'add-enrich' });
      assert.deepEqual([wrongMigration.status, wrongMigration.body.field], [400, 'body.to']);

      await call('POST', '/v1/runs', { workflow: 'research', version: 1, input: { topic: 'owls' }, id: 'owls' });
      await runUntil(engine, 'owls', (r) => r.status === 'waiting');
      const ambiguous = await call('POST', '/v1/migrate', { workflow: 'research', from: 1, to: 2 });
      assert.deepEqual([ambiguous.status, ambiguous.body.field], [400, 'body.migration']);
      const strict = await call('POST', '/v1/migrate', { workflow: 'research', from: 1, to: 2, migration: 'strict' });
      assert.deepEqual(
        [strict.body.migrated, strict.body.refused.map((r: { runId: string }) => r.runId)],
        [[], ['owls']],
      );
      const dryMigrate = await call('POST', '/v1/migrate', {
        workflow: 'research',
        from: 1,
        to: 2,
        migration: 'add-enrich',
        dryRun: true,
      });
      assert.deepEqual(dryMigrate.body, {
        migration: 'add-enrich',
        dryRun: true,
        migrated: ['owls'],
        refused: [],
        warnings: [],
        failed: [],
      });
      assert.equal((await engine.getRun('owls')).version, 1);
      const applied = await call('POST', '/v1/migrate', {
        workflow: 'research',
        from: 1,
        to: 2,
        migration: 'add-enrich',
        actor: 'ops',
        reason: 'enrich',
      });
      assert.deepEqual(applied.body.migrated, ['owls']);
      assert.deepEqual([(await engine.getRun('owls')).version, (await engine.getRun('owls')).epoch], [2, 1]);
      const back = await call('POST', '/v1/runs/owls/rollback-migration', { actor: 'ops', reason: 'too soon' });
      assert.deepEqual([back.status, back.body.version], [200, 1]);

      await call('POST', '/v1/runs/owls/signals/review', {});
      await call('GET', '/v1/runs/owls/result?timeoutMs=10000');
      const restarted = await call('POST', '/v1/runs/owls/restart', { version: 'same', actor: 'ops' });
      assert.deepEqual([restarted.status, restarted.body.id, restarted.body.version], [200, 'owls', 1]);
      const running = await call('POST', '/v1/runs/owls/restart');
      assert.deepEqual([running.status, running.body.code], [409, 'E_RUN_STATE']);
      await runUntil(engine, 'owls', (r) => r.status === 'waiting');
      await call('POST', '/v1/runs/owls/signals/review', {});
      await call('GET', '/v1/runs/owls/result?timeoutMs=10000');
      const rerun = await call('POST', '/v1/runs/owls/rerun', { step: 'summarize', reason: 'new model' });
      assert.equal(rerun.status, 200, JSON.stringify(rerun.body));
      await runUntil(engine, 'owls', (r) => r.status === 'waiting');
      const inFlight = await call('POST', '/v1/runs/up/rerun', { step: 'nope' });
      assert.deepEqual(
        [inFlight.status, inFlight.body.code],
        [409, 'E_RUN_STATE'],
        'a run still in flight is not rerun',
      );
    });
  });
});
