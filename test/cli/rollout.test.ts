import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine, type Rollout } from '../../src/index.js';
import { workflows } from '../fixtures/versioned-workflows.js';
import { runUntil, tempDb } from '../helpers.js';
import { cli, cliJson } from './cli-process.js';

const FIXTURE = 'test/fixtures/versioned-workflows.ts';

test(
  'rollout start, status and abort: the canary share is routed; ' +
    'an abort routes back and leaves runs v1 cannot replay on the candidate',
  async () => {
    const db = tempDb();
    const worker = await Engine.open({ store: `sqlite:${db}`, workflows, workerId: 'rollout-worker' });
    try {
      const started = await cliJson<Rollout[]>([
        'rollout',
        'start',
        'versioned-order',
        '--from',
        '1',
        '--to',
        '2',
        '--percent',
        '100',
        '--every',
        '0ms',
        '--min-sample',
        '1',
        '--db',
        db,
      ]);
      assert.deepEqual(
        [started[0]!.status, started[0]!.percent, started[0]!.from, started[0]!.to],
        ['running', 100, 1, 2],
      );
      // Started through the CLI: another process sees the route at once (an engine re-reads routes every second).
      const start = (id: string) =>
        cliJson<{ version: number }>([
          'start',
          'versioned-order',
          '--workflows',
          FIXTURE,
          '--input',
          JSON.stringify({ id }),
          '--id',
          id,
          '--db',
          db,
        ]);
      const run = { id: 'r-1', ...(await start('r-1')) };
      assert.equal(run.version, 2, 'a 100% canary takes the routed start');
      await runUntil(worker, run.id, (r) => r.status === 'waiting');

      const status = await cli(['rollout', 'status', '--db', db]);
      assert.match(status.stdout, /^versioned-order\s+starts\s+v1 -> v2\s+100%\s+running/m);
      const aborted = await cliJson<Rollout[]>([
        'rollout',
        'abort',
        'versioned-order',
        '--workflows',
        FIXTURE,
        '--reason',
        'pager went off',
        '--db',
        db,
      ]);
      // r-1 took v2's patched branch (its 'check' step): v1 cannot replay it, so it stays on v2, untouched.
      assert.deepEqual(
        [aborted[0]!.status, aborted[0]!.outcome, aborted[0]!.movedBack, aborted[0]!.keptOnCandidate],
        ['rolled_back', 'pager went off', [], ['r-1']],
      );
      assert.deepEqual([(await worker.getRun('r-1')).version, (await worker.getRun('r-1')).status], [2, 'waiting']);
      assert.equal((await start('r-2')).version, 1, 'starts route back to v1');

      const again = await cli(['rollout', 'abort', 'versioned-order', '--db', db]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /has no rollout in progress \(E_RUN_STATE\)/);
      assert.equal(
        (await cli(['rollout', 'start', 'versioned-order', '--to', '2', '--max-failure-rate', 'lots', '--db', db]))
          .code,
        2,
      );
    } finally {
      await worker.close();
    }
  },
);

test(
  'rollout pause, resume, promote and a progressive upgrade of in-flight runs; ' + 'versions quarantine and activate',
  async () => {
    const db = tempDb();
    const worker = await Engine.open({
      store: `sqlite:${db}`,
      workflows,
      workerId: 'rollout-worker-2',
      rolloutCheckMs: 0,
    });
    try {
      for (const id of ['u-1', 'u-2', 'u-3', 'u-4']) await worker.start('versioned-order', { id }, { id, version: 1 });
      for (const id of ['u-1', 'u-2', 'u-3', 'u-4']) await runUntil(worker, id, (r) => r.status === 'waiting');
      const upgrade = await cliJson<Rollout[]>([
        'rollout',
        'upgrade',
        'versioned-order',
        '--from',
        '1',
        '--to',
        '2',
        '--percent',
        '50',
        '--workflows',
        FIXTURE,
        '--db',
        db,
      ]);
      assert.deepEqual(
        [upgrade[0]!.kind, upgrade[0]!.eligible, upgrade[0]!.upgraded],
        ['upgrade', 4, ['u-1', 'u-2']],
        'the first 50% moves at once, oldest first',
      );
      assert.equal((await worker.getRun('u-1')).version, 2);

      assert.equal(
        (await cliJson<Rollout[]>(['rollout', 'pause', 'versioned-order', '--db', db]))[0]!.status,
        'paused',
      );
      assert.equal((await cli(['rollout', 'pause', 'versioned-order', '--db', db])).code, 1, 'already paused');
      assert.equal(
        (await cliJson<Rollout[]>(['rollout', 'resume', 'versioned-order', '--db', db]))[0]!.status,
        'running',
      );
      const promoted = await cliJson<Rollout[]>([
        'rollout',
        'promote',
        'versioned-order',
        '--workflows',
        FIXTURE,
        '--reason',
        'all good',
        '--db',
        db,
      ]);
      assert.deepEqual([promoted[0]!.status, promoted[0]!.upgraded!.length], ['promoted', 4]);
      assert.match(promoted[0]!.outcome!, /^all good; 4 runs upgraded, 0 stay on v1 and drain$/);
      assert.equal((await cli(['rollout', 'promote', 'versioned-order', '--kind', 'sideways', '--db', db])).code, 2);

      const quarantined = await cli(['versions', 'quarantine', 'versioned-order', '2', '--db', db]);
      assert.equal(quarantined.code, 0, quarantined.stderr);
      assert.match(
        quarantined.stdout,
        /versioned-order v2: active -> quarantined\nIts 4 in-flight runs are not executed until you decide/,
      );
      const refused = await cli([
        'start',
        'versioned-order',
        '--workflows',
        FIXTURE,
        '--version',
        '2',
        '--input',
        '{"id":"x"}',
        '--db',
        db,
      ]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /v2 is quarantined: it takes no new starts \(E_VERSION_UNAVAILABLE\)/);
      assert.equal((await cli(['versions', 'activate', 'versioned-order', '2', '--db', db])).code, 0);
      await worker.signal('u-3', 'go', { ok: true });
      assert.equal(((await worker.result('u-3', { timeoutMs: 10_000 })) as { version: number }).version, 2);
    } finally {
      await worker.close();
    }
  },
);
