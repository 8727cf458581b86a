import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine, WaymarkError } from '../../src/index.js';
import { time } from '../../src/cli/format.js';
import { runUntil, tempDb } from '../helpers.js';
import { withApi } from '../server/api.js';
import { cliInProcess } from './in-process.js';

/** Ends at once with its input, or (input.wait) waits for signal 'go' first. */
const quick = defineWorkflow({
  name: 'quick',
  version: 1,
  async run(ctx, input: { wait?: boolean }) {
    if (input.wait) await ctx.waitForSignal('go');
    return input;
  },
});

const gone = (error: unknown) => error instanceof WaymarkError && error.code === 'E_RUN_NOT_FOUND';

test('`runs remove` deletes a finished run and its history, refuses one in flight; lists show local time', async () => {
  const db = tempDb();
  const engine = await Engine.open({ store: `sqlite:${db}`, workflows: [quick], pollIntervalMs: 20 });
  try {
    await engine.start('quick', {}, { id: 'done' });
    await engine.start('quick', { wait: true }, { id: 'busy' });
    await runUntil(engine, 'done', (r) => r.status === 'completed');
    await runUntil(engine, 'busy', (r) => r.status === 'waiting');

    const created = time((await engine.getRun('done')).createdAt);
    const list = await cliInProcess(['runs', 'list', '--db', db]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`done +quick +v1 +completed +${created}`), 'local time, not epoch ms');
    const got = await cliInProcess(['runs', 'get', 'done', '--db', db]);
    assert.match(got.stdout, new RegExp(`^created: +${created}$`, 'm'), got.stdout);
    assert.doesNotMatch(got.stdout, /\d{4}-\d\d-\d\dT|\d{13}/, 'no ISO or epoch times');

    const refused = await cliInProcess(['runs', 'remove', 'busy', '--db', db]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cannot remove run 'busy': it is not finished.*\(E_RUN_STATE\)/);
    assert.equal((await engine.getRun('busy')).status, 'waiting', 'nothing removed');

    const removed = await cliInProcess(['runs', 'remove', 'done', '--db', db]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, 'removed run done and its history\n');
    await assert.rejects(engine.getRun('done'), gone);
    assert.deepEqual(await engine.history('done').catch(() => []), []);

    const missing = await cliInProcess(['runs', 'remove', 'done', '--db', db]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\(E_RUN_NOT_FOUND\)/);
  } finally {
    await engine.close();
  }
});

test('DELETE /v1/runs/:id removes a finished run (204), refuses an unfinished (409) or missing one (404)', async () => {
  await withApi(`sqlite:${tempDb()}`, { workflows: [quick] }, async ({ engine, call }) => {
    await engine.start('quick', {}, { id: 'done' });
    await engine.start('quick', { wait: true }, { id: 'busy' });
    await runUntil(engine, 'done', (r) => r.status === 'completed');
    await runUntil(engine, 'busy', (r) => r.status === 'waiting');
    const busy = await call('DELETE', '/v1/runs/busy');
    assert.deepEqual([busy.status, busy.body.code], [409, 'E_RUN_STATE']);
    const done = await call('DELETE', '/v1/runs/done');
    assert.equal(done.status, 204);
    assert.equal((await call('GET', '/v1/runs/done')).status, 404);
    assert.equal((await call('GET', '/v1/runs/busy')).status, 200);
    assert.equal((await call('DELETE', '/v1/runs/done')).status, 404);
  });
});

test('retention: a worker deletes finished runs past finishedRunsDays and keeps runs in flight', async () => {
  const retention = { finishedRunsDays: 0.2 / 86_400, checkIntervalMs: 20, batchSize: 2 }; // 200 ms
  const engine = await Engine.open({ store: `sqlite:${tempDb()}`, workflows: [quick], pollIntervalMs: 20, retention });
  try {
    for (const id of ['a', 'b', 'c']) await engine.start('quick', {}, { id });
    await engine.start('quick', { wait: true }, { id: 'busy' });
    await runUntil(engine, 'busy', (r) => r.status === 'waiting');
    const deadline = Date.now() + 10_000;
    const exists = (id: string) =>
      engine.getRun(id).then(
        () => true,
        (e) => (gone(e) ? false : Promise.reject(e)),
      );
    while ((await exists('a')) || (await exists('b')) || (await exists('c'))) {
      assert.ok(Date.now() < deadline, 'finished runs are deleted within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal((await engine.getRun('busy')).status, 'waiting', 'a run in flight is kept however old');
  } finally {
    await engine.close();
  }
});

test('retention settings are checked: a bad one is E_INVALID_INPUT (engine) or exit 2 (CLI)', async () => {
  for (const finishedRunsDays of [0, -1, Number.NaN])
    await assert.rejects(
      Engine.open({ store: 'sqlite::memory:', retention: { finishedRunsDays } }),
      /retention.finishedRunsDays must be a positive number/,
    );
  const db = tempDb();
  const bad = await cliInProcess(['dev', '--examples', '--db', db, '--retention-days', 'soon']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--retention-days must be a positive number of days.*got 'soon'/);
});
