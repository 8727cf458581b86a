import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { defineWorkflow, Engine } from '../../src/index.js';
import { workflows } from '../fixtures/versioned-workflows.js';
import { runUntil, tempDb } from '../helpers.js';
import { cliInProcess } from './in-process.js';

const FIXTURE = 'test/fixtures/versioned-workflows.ts';

test('rollout upgrade without the target version code refuses (exit 2) and upgrades nothing', async () => {
  const db = tempDb();
  const worker = await Engine.open({ store: `sqlite:${db}`, workflows, rolloutCheckMs: 0, pollIntervalMs: 20 });
  try {
    await worker.start('versioned-order', { id: 'r-1' }, { id: 'r-1', version: 1 });
    await runUntil(worker, 'r-1', (r) => r.status === 'waiting');
    const args = ['rollout', 'upgrade', 'versioned-order', '--from', '1', '--to', '2', '--percent', '100'];
    const bare = await cliInProcess([...args, '--db', db]);
    assert.equal(bare.code, 2, bare.stdout);
    assert.match(bare.stderr, /rollout upgrade needs the code of versioned-order v2 .*give --workflows <module>/);
    const wrong = await cliInProcess([...args, '--to', '9', '--workflows', FIXTURE, '--db', db]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /needs the code of versioned-order v9 .*has versioned-order v1, versioned-order v2/);
    assert.deepEqual(await worker.rollouts(), [], 'no rollout was started');
    assert.equal((await worker.getRun('r-1')).version, 1);
  } finally {
    await worker.close();
  }
});

test('--dev lets a changed version replace the stored one; without it the conflict says to give --dev', async () => {
  const db = tempDb();
  const other = defineWorkflow({
    name: 'versioned-order',
    version: 1,
    async run(ctx) {
      return ctx.step('other', () => 'other code');
    },
  });
  await (await Engine.open({ store: `sqlite:${db}`, workflows: [other], worker: false })).close();
  const start = ['start', 'versioned-order', '--version', '1', '--workflows', FIXTURE, '--db', db, '--input', '{}'];
  const refused = await cliInProcess(start);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /already registered with different code.*give the waymark command --dev.*E_VERSION_CONFLICT/,
  );
  const dev = await cliInProcess([...start, '--dev', '--id', 'dev-1']);
  assert.equal(dev.code, 0, dev.stderr);
  assert.match(dev.stdout, /dev-1/);
});

test('dev takes the brokers like server: a bad --nats or --amqp URL exits 2 before the store is touched', async () => {
  const db = tempDb();
  const nats = await cliInProcess(['dev', '--examples', '--db', db, '--nats', 'localhost:4222']);
  assert.equal(nats.code, 2, nats.stdout);
  assert.match(nats.stderr, /--nats must be a nats: or tls:\/\/ URL, got 'localhost:4222'/);
  const amqp = await cliInProcess(['dev', '--examples', '--db', db, '--amqp', 'http://127.0.0.1:5672']);
  assert.equal(amqp.code, 2, amqp.stdout);
  assert.match(amqp.stderr, /--amqp must be a amqp: or amqps:\/\/ URL/);
  assert.equal(existsSync(db), false, 'no store was created');
});
